package cairn

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestDaemonRestart kills cairnd (SIGKILL) while goroutines keep placing clues, moving
// and asking paths, and restarts it on the same data directory. The connection must
// reattach with its session and resubmit what was not answered: every call returns
// without error, and every clue placed exists exactly once (a resubmitted CLUE_PLACE
// that the dead daemon had applied is answered from its exactly-once table, not
// applied again).
func TestDaemonRestart(t *testing.T) {
	d := startDaemon(t, "--durability", "sync")
	c := d.dial(t, nil)
	ctx := ctxT(t)
	h, err := c.HuntCreate(ctx, HuntParams{})
	if err != nil {
		t.Fatal(err)
	}
	feed, err := c.Events()
	if err != nil {
		t.Fatal(err)
	}
	const workers = 6
	var placed atomic.Int64
	var stop atomic.Bool
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	clues := make([][]uint32, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			p, err := c.Join(ctx, h.HuntID, 1500, 2500)
			if err != nil {
				errs <- err
				return
			}
			for i := 0; !stop.Load(); i++ {
				id, err := c.CluePlace(ctx, h.HuntID, int32(3500+1000*(i%30)), int32(2500+1000*(w%2)), int64(i))
				if err != nil {
					errs <- fmt.Errorf("worker %d: CluePlace: %v", w, err)
					return
				}
				clues[w] = append(clues[w], id)
				placed.Add(1)
				mv, err := c.Move(ctx, h.HuntID, p, int32(1500+1000*(i%2)), 2500)
				if err != nil || mv.PlayerID != p {
					errs <- fmt.Errorf("worker %d: Move = %+v, %v", w, mv, err)
					return
				}
				if i%4 == 0 {
					_, _, err := c.Distances(ctx, h.HuntID, []PathPair{{1500, 2500, 30500, 2500}}, MethodAuto)
					if err != nil && !errors.Is(err, ErrSlicesBusy) {
						errs <- fmt.Errorf("worker %d: Distances: %v", w, err)
						return
					}
				}
			}
		}(w)
	}
	// Let them run, kill the daemon under load, restart it on the same directory.
	time.Sleep(300 * time.Millisecond)
	before := placed.Load()
	d.kill()
	time.Sleep(100 * time.Millisecond)
	d.start()
	for placed.Load() < before+200 && len(errs) == 0 {
		time.Sleep(10 * time.Millisecond)
	}
	stop.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		t.Fatalf("daemon log:\n%s", d.logText())
	}
	info := c.DaemonInfo()
	t.Logf("placed %d clues (%d before the kill), reconnects %d, resubmitted %d, resumed %v",
		placed.Load(), before, info.Reconnects, info.Resubmitted, info.Resumed)
	if info.Reconnects != 1 || !info.Resumed || info.DedupWindow == 0 {
		t.Fatalf("DaemonInfo after the restart: %+v", info)
	}
	if info.Resubmitted == 0 {
		t.Fatalf("nothing was in flight at the kill: the test did not test resubmission")
	}
	// Every clue placed is there exactly once, and nothing else was placed.
	hi, err := c.Hunt(h.HuntID)
	if err != nil {
		t.Fatal(err)
	}
	if int64(hi.Clues) != placed.Load() || hi.Players != workers {
		t.Fatalf("hunt holds %d clues and %d players; %d clues were placed by %d workers",
			hi.Clues, hi.Players, placed.Load(), workers)
	}
	seen := map[uint32]bool{}
	for _, ids := range clues {
		for _, id := range ids {
			if seen[id] {
				t.Fatalf("clue id %d returned twice", id)
			}
			seen[id] = true
			if _, err := c.Entity(h.HuntID, id); err != nil {
				t.Fatalf("clue %d: %v", id, err)
			}
		}
	}
	// The old event feed belongs to the dead daemon.
	if _, err := feed.Read(make([]Event, 4)); !errors.Is(err, ErrDisconnected) {
		t.Fatalf("event feed across a restart: %v, want ErrDisconnected", err)
	}
	// The durable commands work on the new daemon.
	if _, err := c.Snapshot(ctx); err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	ws, err := c.WalStatus(ctx)
	if err != nil || ws.Durability != DurabilitySync || ws.DurableLSN == 0 {
		t.Fatalf("WalStatus = %+v, %v", ws, err)
	}
	if _, err := c.Rollback(ctx, h.HuntID, 1<<62); !errors.Is(err, ErrRollbackRange) {
		t.Fatalf("Rollback to a future LSN: %v, want ROLLBACK_RANGE", err)
	}
}

// TestNoReconnect: with reattaching off, calls fail with ErrDisconnected once the
// daemon is gone.
func TestNoReconnect(t *testing.T) {
	d := startDaemon(t)
	c := d.dial(t, &Options{ReconnectTimeout: -1})
	if err := c.Ping(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	d.kill()
	if err := c.Ping(ctxT(t)); !errors.Is(err, ErrDisconnected) {
		t.Fatalf("Ping after the daemon died: %v, want ErrDisconnected", err)
	}
	if err := c.Check(ctxT(t)); !errors.Is(err, ErrDisconnected) {
		t.Fatalf("Check: %v", err)
	}
}
