package cairn

import (
	"sync/atomic"
	"unsafe"
)

// ring is a view of one bounded MPMC ring of a lane (src/shm/ring.h): a header with
// head, tail and a doorbell on their own cache lines, then capacity 64-byte slots, each
// an 8-byte sequence number and a message. Slot i starts at seq = i; the producer of
// position p writes it when seq == p and publishes it with seq = p + 1; the consumer
// of p reads it when seq == p + 1 and frees it for the next lap with seq = p + capacity.
//
// Every access to the mapped memory goes through sync/atomic, whose operations are
// sequentially consistent: at least as strong as the acquire and release orders the C
// rings use, so each comment below names the weakest order the protocol needs.
type ring struct {
	head     *uint64
	tail     *uint64
	word     *uint32 // the doorbell's futex word
	sleepers *uint32 // the doorbell's sleeper count
	slots    unsafe.Pointer
	mask     uint64 // a private copy: the header is the peer's to scribble on
}

func newRing(hdr unsafe.Pointer, capacity uint32) ring {
	return ring{
		head:     (*uint64)(unsafe.Add(hdr, RingHeaderOffHead)),
		tail:     (*uint64)(unsafe.Add(hdr, RingHeaderOffTail)),
		word:     (*uint32)(unsafe.Add(hdr, RingHeaderOffBellWord)),
		sleepers: (*uint32)(unsafe.Add(hdr, RingHeaderOffBellSleepers)),
		slots:    unsafe.Add(hdr, RingHeaderSize),
		mask:     uint64(capacity) - 1,
	}
}

// slot returns the sequence word and the message of the slot of position pos.
func (r *ring) slot(pos uint64) (*uint64, *Msg) {
	p := unsafe.Add(r.slots, (pos&r.mask)*SlotSize)
	return (*uint64)(p), (*Msg)(unsafe.Add(p, SlotOffMsgHdrType))
}

// claimPush claims the next free position of the ring, or reports it full.
func (r *ring) claimPush() (uint64, bool) {
	pos := atomic.LoadUint64(r.head)
	for {
		seq, _ := r.slot(pos)
		// Acquire, paired with the consumer's release of seq = pos when it freed the
		// slot: its read of the previous message happens before our overwrite.
		s := atomic.LoadUint64(seq)
		switch dif := int64(s - pos); {
		case dif == 0:
			if atomic.CompareAndSwapUint64(r.head, pos, pos+1) {
				return pos, true
			}
			pos = atomic.LoadUint64(r.head)
		case dif < 0:
			return 0, false
		default:
			pos = atomic.LoadUint64(r.head)
		}
	}
}

// publish writes m into the slot of claimed position pos and publishes it.
func (r *ring) publish(pos uint64, m *Msg) {
	seq, dst := r.slot(pos)
	*dst = *m
	// Release: a consumer that sees seq = pos + 1 sees the message's bytes.
	atomic.StoreUint64(seq, pos+1)
}

// claimPop claims the oldest published position, or reports the ring empty.
func (r *ring) claimPop() (uint64, bool) {
	pos := atomic.LoadUint64(r.tail)
	for {
		seq, _ := r.slot(pos)
		// Acquire, paired with the producer's release of seq = pos + 1 (the message).
		s := atomic.LoadUint64(seq)
		switch dif := int64(s - (pos + 1)); {
		case dif == 0:
			if atomic.CompareAndSwapUint64(r.tail, pos, pos+1) {
				return pos, true
			}
			pos = atomic.LoadUint64(r.tail)
		case dif < 0:
			return 0, false
		default:
			pos = atomic.LoadUint64(r.tail)
		}
	}
}

// release frees the slot of popped position pos for the producer's next lap.
func (r *ring) release(pos uint64) {
	seq, _ := r.slot(pos)
	// Release: our copy of the message (and whatever the popper did before, such as
	// unhooking a path command) happens before the next lap's producer writes.
	atomic.StoreUint64(seq, pos+r.mask+1)
}

// readable reports whether there is something to pop now (a hint: another consumer
// may win it).
func (r *ring) readable() bool {
	pos := atomic.LoadUint64(r.tail)
	seq, _ := r.slot(pos)
	return atomic.LoadUint64(seq) == pos+1
}

// ring the doorbell: the producer side, after publishing. Wakes every sleeper.
func (r *ring) ring() {
	// The Dekker pair of doorbell.h: our publish (a sequentially consistent store)
	// comes before this load of sleepers, so either we see the sleeper or its re-check
	// of the ring sees the message.
	if atomic.LoadUint32(r.sleepers) == 0 {
		return
	}
	atomic.AddUint32(r.word, 1)
	futexWake(r.word)
}
