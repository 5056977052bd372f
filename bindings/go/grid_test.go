package cairn

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
)

func TestGridReads(t *testing.T) {
	d := startDaemon(t)
	c := d.dial(t, nil)
	ctx := ctxT(t)
	m, err := c.Map(0)
	if err != nil || m.Width != 128 || m.Height != 96 || m.Passable == 0 || m.Name == "" {
		t.Fatalf("Map(0) = %+v, %v", m, err)
	}
	if _, err := c.Map(9); !errors.Is(err, ErrUnknownMap) {
		t.Fatalf("Map(9): %v", err)
	}
	h, _ := c.HuntCreate(ctx, HuntParams{})
	other, _ := c.HuntCreate(ctx, HuntParams{})
	p1, _ := c.Join(ctx, h.HuntID, 1500, 1500)
	p2, _ := c.Join(ctx, h.HuntID, 2500, 1500)
	far, _ := c.Join(ctx, h.HuntID, 20500, 20500)
	clue, _ := c.CluePlace(ctx, h.HuntID, 1700, 1500, 9)
	po, _ := c.Join(ctx, other.HuntID, 1500, 1500)

	hi, err := c.Hunt(h.HuntID)
	if err != nil || hi.ID != h.HuntID || hi.Players != 3 || hi.Clues != 1 || hi.Width != 128 {
		t.Fatalf("Hunt = %+v, %v", hi, err)
	}
	if _, err := c.Hunt(h.HuntID + 77); !errors.Is(err, ErrUnknownHunt) {
		t.Fatalf("Hunt(unknown): %v", err)
	}
	e, err := c.Entity(h.HuntID, p2)
	if err != nil || e.ID != p2 || e.Kind != EntityPlayer || e.X != 2500 || e.Y != 1500 {
		t.Fatalf("Entity(p2) = %+v, %v", e, err)
	}
	e, err = c.Entity(h.HuntID, clue)
	if err != nil || e.Kind != EntityClue || e.Value != 9 {
		t.Fatalf("Entity(clue) = %+v, %v", e, err)
	}
	if _, err := c.Entity(h.HuntID, po); !errors.Is(err, ErrWrongHunt) {
		t.Fatalf("Entity of another hunt: %v", err)
	}
	if _, err := c.Entity(h.HuntID, 0x7fffff); !errors.Is(err, ErrUnknownPlayer) {
		t.Fatalf("Entity(unknown): %v", err)
	}

	es, err := c.Rect(h.HuntID, 0, 0, 5000, 5000, ReadPlayers|ReadClues, nil)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[uint32]bool{}
	for _, e := range es {
		ids[e.ID] = true
	}
	if len(es) != 3 || !ids[p1] || !ids[p2] || !ids[clue] || ids[far] {
		t.Fatalf("Rect = %+v", es)
	}
	n := 0
	for e, err := range c.Entities(h.HuntID, 0, 0, 1<<30, 1<<30, ReadPlayers) {
		if err != nil || e.Kind != EntityPlayer {
			t.Fatalf("Entities: %+v, %v", e, err)
		}
		n++
	}
	if n != 3 {
		t.Fatalf("Entities yielded %d players, want 3", n)
	}
	if _, err := c.Rect(h.HuntID, 10, 0, 5, 5, ReadPlayers, nil); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Rect with x0 > x1: %v", err)
	}
}

// TestGridReadsRacingMoves reads rectangles while another goroutine moves players in
// and out of them: every read is one snapshot, so a player is never seen twice, and
// the players that never leave are always there.
func TestGridReadsRacingMoves(t *testing.T) {
	d := startDaemon(t)
	c := d.dial(t, nil)
	ctx := ctxT(t)
	h, _ := c.HuntCreate(ctx, HuntParams{})
	var stay []uint32
	for i := 0; i < 4; i++ {
		p, err := c.Join(ctx, h.HuntID, 6500, 2500)
		if err != nil {
			t.Fatal(err)
		}
		stay = append(stay, p)
	}
	mover, _ := c.Join(ctx, h.HuntID, 7500, 2500)
	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; !stop.Load(); i++ {
			// The mover goes in and out of the rectangle; the others cross from
			// block 0 to block 1 (other shards) and back, always inside it.
			x := int32(7500 + 13000*(i%2))
			if _, err := c.Move(ctx, h.HuntID, mover, x, 2500); err != nil {
				t.Error(err)
				return
			}
			for k, p := range stay {
				c.Move(ctx, h.HuntID, p, int32(6500+3000*((i+k)%2)), 2500)
			}
		}
	}()
	defer func() { // Close must not run while the mover does, even after a failure.
		stop.Store(true)
		wg.Wait()
	}()
	buf := make([]Entity, 0, 16)
	retries := 0
	for i := 0; i < 2000; i++ {
		es, err := c.Rect(h.HuntID, 0, 0, 15999, 7999, ReadPlayers, buf[:0])
		if errors.Is(err, ErrRetry) {
			retries++
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		seen := map[uint32]int{}
		for _, e := range es {
			seen[e.ID]++
			if e.X > 15999 || e.Y > 7999 {
				t.Fatalf("entity outside the rectangle: %+v", e)
			}
		}
		for id, n := range seen {
			if n != 1 {
				t.Fatalf("entity %d seen %d times", id, n)
			}
		}
		for _, p := range stay {
			if seen[p] != 1 {
				t.Fatalf("player %d missing from %+v", p, es)
			}
		}
	}
	if retries > 1000 {
		t.Fatalf("%d of 2000 reads gave up", retries)
	}
}
