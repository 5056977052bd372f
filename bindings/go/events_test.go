package cairn

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestEvents reacts to a claim through the feed's iterator, as a host would.
func TestEvents(t *testing.T) {
	d := startDaemon(t)
	c := d.dial(t, nil)
	ctx := ctxT(t)
	f, err := c.Events()
	if err != nil {
		t.Fatal(err)
	}
	h, err := c.HuntCreate(ctx, HuntParams{})
	if err != nil {
		t.Fatal(err)
	}
	p, _ := c.Join(ctx, h.HuntID, 1500, 1500)
	clue, _ := c.CluePlace(ctx, h.HuntID, 2500, 1500, 42)
	// The claim comes from another goroutine while this one waits in the iterator.
	moved := make(chan error, 1)
	go func() {
		time.Sleep(30 * time.Millisecond)
		_, err := c.Move(ctx, h.HuntID, p, 2500, 1500)
		moved <- err
	}()
	// Close must not run while the Move does.
	defer func() {
		if err := <-moved; err != nil {
			t.Errorf("Move: %v", err)
		}
	}()
	var types []uint16
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for e, err := range f.All(wctx) {
		if err != nil {
			t.Fatalf("feed: %v (events so far %v)", err, types)
		}
		types = append(types, e.Type)
		if e.Type == EventClueClaimed {
			if e.PlayerID != p || e.ClueID != clue || e.Value != 42 || e.HuntID != h.HuntID {
				t.Fatalf("claim event %+v", e)
			}
			break
		}
	}
	want := []uint16{EventHuntCreated, EventPlayerJoined, EventCluePlaced, EventClueClaimed}
	if len(types) != len(want) {
		t.Fatalf("events %v, want %v", types, want)
	}
	for i := range want {
		if types[i] != want[i] {
			t.Fatalf("events %v, want %v", types, want)
		}
	}
	if f.Missed() != 0 {
		t.Fatalf("missed %d", f.Missed())
	}
	// Nothing more to read: Wait times out.
	sctx, cancel2 := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel2()
	if err := f.Wait(sctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait on a quiet feed: %v", err)
	}
}

// TestEventsLapped falls behind a 64-slot ring and checks what the reader is told.
func TestEventsLapped(t *testing.T) {
	d := startDaemon(t, "--event-capacity", "64")
	c := d.dial(t, nil)
	ctx := ctxT(t)
	f, err := c.Events()
	if err != nil {
		t.Fatal(err)
	}
	h, err := c.HuntCreate(ctx, HuntParams{})
	if err != nil {
		t.Fatal(err)
	}
	const joins = 200
	var last uint32
	for i := 0; i < joins; i++ {
		if last, err = c.Join(ctx, h.HuntID, 1500, 1500); err != nil {
			t.Fatal(err)
		}
	}
	// 201 events published into 64 slots: the reader gets the newest ones it can and
	// is told how many it missed.
	var got []Event
	var lapped uint64
	for e, err := range f.All(ctx) {
		var le *LappedError
		if errors.As(err, &le) {
			lapped += le.Missed
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, e)
		if e.PlayerID == last {
			break
		}
	}
	if lapped == 0 || lapped != f.Missed() {
		t.Fatalf("lapped %d, Missed %d", lapped, f.Missed())
	}
	if uint64(len(got))+lapped != joins+1 {
		t.Fatalf("read %d and missed %d of %d events", len(got), lapped, joins+1)
	}
	if len(got) > 64 {
		t.Fatalf("read %d events out of a 64-slot ring", len(got))
	}
	for i := 1; i < len(got); i++ {
		if got[i].Type != EventPlayerJoined || got[i].Order <= got[i-1].Order {
			t.Fatalf("event %d: %+v after %+v", i, got[i], got[i-1])
		}
	}
}
