package cairn

import (
	"context"
	"runtime"
	"sync/atomic"
)

// The mailbox: where a result popped by one goroutine waits for the goroutine whose
// call it answers. Any goroutine may pop the result ring (it is MPMC), so whoever pops
// a result that is not its own hands it over here, as libcairn does with its mailbox,
// and the common case, one goroutine popping its own result, touches nothing but its
// own entry.
//
// A call registers an entry before it pushes its command, so the entry exists before
// its result can. The entry's index is part of the request id:
//
//	request id = CallIDBit | counter << mailBits | index
//
// where counter is unique for the connection's life (the request id is the command's
// identity in the daemon's exactly-once table). The entry's key word holds the counter
// and a state, and every change is a compare-and-swap on that one word, so a late
// result can never land in an entry that a later call has taken since:
//
//	free (0) -> waiting (owner registers) -> writing (a router claims it) ->
//	done (the result is in res) -> free (owner takes it)
//	waiting -> free (owner gives up, or popped its own result)
const (
	mailBits = 10
	mailSize = 1 << mailBits
	mailMask = mailSize - 1

	stWaiting = 1
	stWriting = 2
	stDone    = 3
)

type mailEntry struct {
	key    atomic.Uint64 // counter << 2 | state, or 0 when free
	parked atomic.Uint32 // the owner is asleep in wake
	res    Msg
	wake   chan struct{} // buffered 1: a token for the parked owner
	_      [128 - 8 - 4 - 4 - MsgSize - 8]byte
}

type mailbox struct {
	e    [mailSize]mailEntry
	hint atomic.Uint32 // an entry likely free: the one freed last
}

func newMailbox() *mailbox {
	m := &mailbox{}
	for i := range m.e {
		m.e[i].wake = make(chan struct{}, 1)
	}
	return m
}

// register takes a free entry for a new call and returns its request id. With every
// entry taken (more than mailSize calls at once), it yields until one is free.
func (c *Conn) register(ctx context.Context) (uint64, error) {
	ctr := c.nextID.Add(1)
	key := ctr<<2 | stWaiting
	h := c.mbox.hint.Load()
	for n := 0; ; n++ {
		for i := uint32(0); i < mailSize; i++ {
			idx := (h + i) & mailMask
			e := &c.mbox.e[idx]
			if e.key.Load() == 0 && e.key.CompareAndSwap(0, key) {
				return CallIDBit | ctr<<mailBits | uint64(idx), nil
			}
		}
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		runtime.Gosched()
	}
}

func entryOf(id uint64) (uint32, uint64) {
	return uint32(id & mailMask), (id &^ CallIDBit) >> mailBits
}

// unregister frees the entry of a call that got its result itself or never pushed.
func (c *Conn) unregister(id uint64) {
	idx, _ := entryOf(id)
	c.mbox.e[idx].key.Store(0)
	c.mbox.hint.Store(idx)
}

// take returns the result routed to call id, if it has arrived, and frees the entry.
func (c *Conn) take(id uint64) (Msg, bool) {
	idx, ctr := entryOf(id)
	e := &c.mbox.e[idx]
	if e.key.Load() != ctr<<2|stDone {
		return Msg{}, false
	}
	// The load of done ordered the router's write of res before our read.
	m := e.res
	e.key.Store(0)
	c.mbox.hint.Store(idx)
	return m, true
}

// abandon gives up call id. If a router has claimed its result meanwhile, it waits for
// the copy and returns it (true).
func (c *Conn) abandon(id uint64) (Msg, bool) {
	idx, ctr := entryOf(id)
	e := &c.mbox.e[idx]
	if e.key.CompareAndSwap(ctr<<2|stWaiting, 0) {
		c.mbox.hint.Store(idx)
		return Msg{}, false
	}
	for {
		if m, ok := c.take(id); ok {
			return m, true
		}
		runtime.Gosched()
	}
}

// route hands a result popped by someone other than its caller to the caller's entry
// and wakes the caller. A result nobody waits for (its call gave up) is dropped, after
// freeing the query slice it may have held.
func (c *Conn) route(m *Msg) {
	if m.RequestID&CallIDBit != 0 {
		idx, ctr := entryOf(m.RequestID)
		e := &c.mbox.e[idx]
		if e.key.CompareAndSwap(ctr<<2|stWaiting, ctr<<2|stWriting) {
			e.res = *m
			e.key.Store(ctr<<2 | stDone)
			// Dekker with the owner, which sets parked and then re-checks the key.
			if e.parked.Load() != 0 {
				select {
				case e.wake <- struct{}{}:
				default:
				}
			}
			// The owner may be the goroutine asleep on the result doorbell.
			c.lane.Load().res.ring()
			return
		}
	}
	c.slices.late(m.RequestID)
}

// wakeParked wakes every parked caller, so that each looks at the connection again.
func (c *Conn) wakeParked() {
	for i := range c.mbox.e {
		e := &c.mbox.e[i]
		if e.parked.Load() != 0 {
			select {
			case e.wake <- struct{}{}:
			default:
			}
		}
	}
}
