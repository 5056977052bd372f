package cairn

import (
	"context"
	"iter"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// The event feed: claims, joins, leaves, clue changes and hunt lifecycle, published by
// the daemon on a broadcast ring in the state segment (src/shm/broadcast.h). Event n
// goes into slot n mod capacity; the writer marks the slot being written (seq = 0),
// fills it, publishes it (seq = n + 1) and advances the tail. A reader that wants
// event n checks that the slot's seq is n + 1 before and after copying the event:
// anything else means the writer lapped it, and it skips to the oldest event still in
// the ring, counting what it missed. Readers never write to the ring, which is mapped
// read-only.

// Event is one published event. Type is one of the Event* constants; which fields
// mean something depends on it (see the constants).
type Event struct {
	Type     uint16
	HuntID   uint32
	Order    uint64 // the engine's order number of the change
	StampNs  uint64
	PlayerID uint32
	ClueID   uint32
	Value    int64
	X, Y     int32
}

type eventView struct {
	err      error
	hdr      unsafe.Pointer
	tail     *uint64
	word     *uint32
	slots    unsafe.Pointer
	capacity uint64
	mask     uint64
}

func (v *eventView) attach(state []byte) {
	off := le.Uint64(state[StateHeaderOffEventsOffset:])
	size := le.Uint64(state[StateHeaderOffEventsSize:])
	if off == 0 {
		v.err = ErrNoEvents
		return
	}
	h := unsafe.Pointer(&state[off])
	capacity := uint64(atomic.LoadUint32((*uint32)(unsafe.Add(h, EventRingHeaderOffCapacity))))
	mask := uint64(atomic.LoadUint32((*uint32)(unsafe.Add(h, EventRingHeaderOffMask))))
	ss := atomic.LoadUint32((*uint32)(unsafe.Add(h, EventRingHeaderOffSlotSize)))
	if !isPow2(capacity) || mask != capacity-1 || ss != SlotSize ||
		size < EventRingHeaderSize+capacity*EventSlotSize {
		v.err = ErrLayout
		return
	}
	*v = eventView{hdr: h, tail: (*uint64)(unsafe.Add(h, EventRingHeaderOffTail)),
		word:  (*uint32)(unsafe.Add(h, EventRingHeaderOffBellWord)),
		slots: unsafe.Add(h, EventRingHeaderSize), capacity: capacity, mask: mask}
}

// EventFeed is a reader of the event feed with its own cursor. It reads at its own
// pace; one that falls more than the ring's capacity behind (cairnd --event-capacity)
// skips to the oldest event still there and counts what it missed. A feed belongs to
// one run of the daemon: after a restart it returns ErrDisconnected; open a new one
// (and re-read what you need with the grid reads). One feed must not be used by two
// goroutines at once; separate feeds may.
type EventFeed struct {
	c      *Conn
	l      *lane
	next   uint64
	missed uint64
}

// Events opens a feed at the newest event: it reads only what is published from now
// on. ErrNoEvents when the daemon publishes none, ErrLayout when its ring is malformed.
func (c *Conn) Events() (*EventFeed, error) {
	l := c.lane.Load()
	if l.events.err != nil {
		return nil, l.events.err
	}
	return &EventFeed{c: c, l: l, next: atomic.LoadUint64(l.events.tail)}, nil
}

// Next is the number of the next event the feed will read.
func (f *EventFeed) Next() uint64 { return f.next }

// Missed is how many events were overwritten before this feed got to them, so far.
func (f *EventFeed) Missed() uint64 { return f.missed }

func (f *EventFeed) check() error {
	if err := f.c.deadErr(); err != nil {
		return err
	}
	if f.c.lane.Load() != f.l {
		return ErrDisconnected // another daemon's ring: its numbers mean nothing here
	}
	return nil
}

// Read copies up to len(buf) events into buf, oldest first, and returns how many (0:
// none new). It never blocks. Missed grows by what was lost.
func (f *EventFeed) Read(buf []Event) (int, error) {
	if err := f.check(); err != nil {
		return 0, err
	}
	v := &f.l.events
	tail := atomic.LoadUint64(v.tail)
	if f.next > tail {
		f.next = tail // a cursor from the future: nothing to read before tail
	}
	if tail-f.next > v.capacity {
		f.missed += tail - v.capacity - f.next
		f.next = tail - v.capacity
	}
	got := 0
	var b [EventSize]byte
	for retries := 0; got < len(buf) && f.next < tail && retries < 1<<20; {
		slot := unsafe.Add(v.slots, (f.next&v.mask)*EventSlotSize)
		seq := (*uint64)(slot)
		s1 := atomic.LoadUint64(seq)
		if s1 == f.next+1 {
			loadWords(b[:], unsafe.Add(slot, EventSlotOffEventType))
			if atomic.LoadUint64(seq) == s1 {
				buf[got] = Event{Type: le.Uint16(b[EventOffType:]), HuntID: le.Uint32(b[EventOffHuntId:]),
					Order: le.Uint64(b[EventOffOrder:]), StampNs: le.Uint64(b[EventOffStampNs:]),
					PlayerID: le.Uint32(b[EventOffPlayerId:]), ClueID: le.Uint32(b[EventOffClueId:]),
					Value: int64(le.Uint64(b[EventOffValue:])), X: int32(le.Uint32(b[EventOffX:])),
					Y: int32(le.Uint32(b[EventOffY:]))}
				got++
				f.next++
				continue
			}
		}
		// The slot holds a later event, or is being rewritten: the writer lapped us.
		// Skip to the oldest event the ring can still hold while it writes the next.
		tail = atomic.LoadUint64(v.tail)
		oldest := uint64(0)
		if tail+1 > v.capacity {
			oldest = tail + 1 - v.capacity
		}
		if f.next < oldest {
			f.missed += oldest - f.next
			f.next = oldest
		}
		retries++
	}
	return got, nil
}

// Wait waits until there is an event to read, within ctx. It spins about 20 µs, then
// sleeps on the ring's doorbell after announcing itself in the lane (the daemon rings
// it after a turn that published events). Only one goroutine of the connection sleeps
// on the doorbell at a time; the others wait for it to wake. Each sleep lasts at most
// 50 ms, after which the connection is checked. Returns nil when an event is there, a
// wrapped ctx.Err(), or ErrDisconnected (the daemon restarted: open a new feed).
func (f *EventFeed) Wait(ctx context.Context) error {
	if err := f.check(); err != nil {
		return err
	}
	v := &f.l.events
	ready := func() bool { return atomic.LoadUint64(v.tail) != f.next }
	if ready() {
		return nil
	}
	for start := time.Now(); time.Since(start) < 20*time.Microsecond; {
		for i := 0; i < 64; i++ {
			if ready() {
				return nil
			}
		}
	}
	c := f.c
	for {
		if err := c.checkLane(ctx, f.l); err != nil {
			return err
		}
		if err := f.check(); err != nil {
			return err
		}
		if done(ctx) {
			return ctxErr(ctx)
		}
		d := sleepSlice
		if dl, ok := ctx.Deadline(); ok {
			d = min(d, time.Until(dl))
			if d <= 0 {
				return ctxErr(ctx)
			}
		}
		c.evWait.sleep(ctx, f.l, ready, d)
		if ready() {
			return nil
		}
	}
}

// eventSleeper makes one goroutine of the connection at a time sleep on the event
// ring's futex; the others wait for a broadcast from it.
type eventSleeper struct {
	mu       sync.Mutex
	sleeping bool
	woke     chan struct{} // closed when the sleeper wakes
}

func (s *eventSleeper) sleep(ctx context.Context, l *lane, ready func() bool, d time.Duration) {
	s.mu.Lock()
	if s.sleeping {
		ch := s.woke
		s.mu.Unlock()
		t := time.NewTimer(d)
		select {
		case <-ch:
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
		return
	}
	s.sleeping = true
	s.woke = make(chan struct{})
	s.mu.Unlock()

	v := &l.events
	// The doorbell protocol of doorbell.h, with the sleeper count in our lane (the
	// ring is read-only): read the word, announce ourselves, re-check the tail. The
	// daemon stores the tail, fences, then reads the lanes' counts: either it sees ours
	// and bumps the word, or our re-check sees its tail.
	w := atomic.LoadUint32(v.word)
	atomic.AddUint32(l.evSleepers, 1)
	if !ready() {
		var stop func() bool
		if ctx.Done() != nil {
			stop = context.AfterFunc(ctx, func() { futexWake(v.word) })
		}
		// FUTEX_WAIT only reads the word, which works on a read-only mapping.
		futexWaitOn(v.word, w, d)
		if stop != nil {
			stop()
		}
	}
	atomic.AddUint32(l.evSleepers, ^uint32(0))

	s.mu.Lock()
	s.sleeping = false
	close(s.woke)
	s.mu.Unlock()
}

// All returns an iterator over the feed's events, waiting for each within ctx. When
// the reader was lapped it yields a *LappedError (with the number missed since the last
// one) and goes on with the oldest event still there. It stops after yielding the
// error that ends it: a wrapped ctx.Err(), or ErrDisconnected after a daemon restart.
func (f *EventFeed) All(ctx context.Context) iter.Seq2[Event, error] {
	return func(yield func(Event, error) bool) {
		var buf [64]Event
		for {
			before := f.missed
			n, err := f.Read(buf[:])
			if err != nil {
				yield(Event{}, err)
				return
			}
			if f.missed != before {
				if !yield(Event{}, &LappedError{Missed: f.missed - before}) {
					return
				}
			}
			for i := 0; i < n; i++ {
				if !yield(buf[i], nil) {
					return
				}
			}
			if n == 0 {
				if err := f.Wait(ctx); err != nil {
					yield(Event{}, err)
					return
				}
			}
		}
	}
}
