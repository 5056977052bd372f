package cairn

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// TestConcurrentCalls runs many goroutines on one connection, each moving its own
// player and asking queries and path searches (whose results come back out of
// command order), and checks that every goroutine gets its own results.
func TestConcurrentCalls(t *testing.T) {
	d := startDaemon(t)
	c := d.dial(t, &Options{CmdCapacity: 64, ResCapacity: 64})
	ctx := ctxT(t)
	h, err := c.HuntCreate(ctx, HuntParams{})
	if err != nil {
		t.Fatal(err)
	}
	const workers, rounds = 48, 150
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			p, err := c.Join(ctx, h.HuntID, 1500, 1500)
			if err != nil {
				errs <- err
				return
			}
			for i := 0; i < rounds; i++ {
				x := int32(1500 + 1000*(i%2))
				mv, err := c.Move(ctx, h.HuntID, p, x, 1500)
				if err != nil || mv.PlayerID != p || mv.X != x {
					errs <- fmt.Errorf("worker %d: Move = %+v, %v", w, mv, err)
					return
				}
				switch i % 10 {
				case 3:
					if err := c.Ping(ctx); err != nil {
						errs <- err
						return
					}
				case 5:
					ps, err := c.PlayerState(ctx, h.HuntID, p)
					if err != nil || ps.PlayerID != p || ps.X != x {
						errs <- fmt.Errorf("worker %d: PlayerState = %+v, %v", w, ps, err)
						return
					}
				case 7:
					d, _, err := c.Distances(ctx, h.HuntID, []PathPair{{1500, 1500, x + 3000, 1500}}, MethodAuto)
					if errors.Is(err, ErrSlicesBusy) {
						break
					}
					if err != nil || d[0].Status != 0 || d[0].LengthMM == 0 {
						errs <- fmt.Errorf("worker %d: Distances = %+v, %v", w, d, err)
						return
					}
				case 9:
					_, err := c.Leaderboard(ctx, h.HuntID, 4)
					if err != nil && !errors.Is(err, ErrSlicesBusy) {
						errs <- fmt.Errorf("worker %d: Leaderboard: %v", w, err)
						return
					}
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	st, err := c.Hunt(h.HuntID)
	if err != nil || st.Players != workers {
		t.Fatalf("Hunt = %+v, %v; want %d players", st, err, workers)
	}
}

// TestManyWaiters has more goroutines than the mailbox has entries, with timeouts
// mixed in: calls that give up must not disturb the others, and late results of
// abandoned calls are dropped.
func TestManyWaiters(t *testing.T) {
	d := startDaemon(t)
	c := d.dial(t, &Options{CmdCapacity: 256, ResCapacity: 256})
	ctx := ctxT(t)
	const n = mailSize + 200
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failed []error
	timeouts := 0
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for k := 0; k < 3; k++ {
				if i%50 == 0 {
					// A call that gives up at once: its late result must go nowhere.
					cctx, cancel := context.WithTimeout(ctx, time.Microsecond)
					err := c.Ping(cctx)
					cancel()
					mu.Lock()
					if err != nil {
						if !errors.Is(err, context.DeadlineExceeded) {
							failed = append(failed, err)
						}
						timeouts++
					}
					mu.Unlock()
					continue
				}
				got, err := c.Echo(ctx, []byte(fmt.Sprint(i, "/", k)))
				if err != nil || string(got) != fmt.Sprint(i, "/", k) {
					mu.Lock()
					failed = append(failed, fmt.Errorf("Echo %d/%d = %q, %v", i, k, got, err))
					mu.Unlock()
				}
			}
		}(i)
	}
	wg.Wait()
	for _, err := range failed {
		t.Error(err)
	}
	t.Logf("%d calls timed out on purpose", timeouts)
	// Every mailbox entry is free again.
	for i := range c.mbox.e {
		if k := c.mbox.e[i].key.Load(); k != 0 {
			t.Fatalf("mailbox entry %d still holds key %#x", i, k)
		}
	}
	if err := c.Ping(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestFastPathAllocs: a PING or MOVE from one goroutine allocates nothing.
func TestFastPathAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's instrumentation allocates; run without -race")
	}
	d := startDaemon(t)
	c := d.dial(t, nil)
	ctx := context.Background()
	h, err := c.HuntCreate(ctx, HuntParams{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.Join(ctx, h.HuntID, 1500, 1500)
	if err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(2000, func() {
		if err := c.Ping(ctx); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("Ping allocates %.1f times", n)
	}
	i := int32(0)
	if n := testing.AllocsPerRun(2000, func() {
		i ^= 1
		if _, err := c.Move(ctx, h.HuntID, p, 1500+1000*i, 1500); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("Move allocates %.1f times", n)
	}
}
