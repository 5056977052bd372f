package cairn

import (
	"context"
	"math"
	"math/bits"
	"sync"
	"sync/atomic"
)

// Query slices: fixed parts at the end of the blob arena, one per query in flight on
// the connection (NEAREST_CLUES, PLAYERS_NEAR, LEADERBOARD, the path commands and
// ECHO_BLOB write their answers there), as in libcairn (cairn.h):
//
//	slice i (0 .. n-1) covers [size - (i + 1) * 32 KiB, size - i * 32 KiB),
//	n = min(8, arena size / 32 KiB).
//
// A slice is busy while its query runs, and stays busy ("quarantined") after a query
// that gave up waiting, because the daemon may still write its answer there. It is
// freed once a command pushed later has been answered (the daemon applies one lane's
// commands in order), or, for a path command, whose answer comes whenever its search
// ends, once its own late result arrives.
const (
	querySliceSize = 32 * 1024
	querySlicesMax = 8
)

type sliceSet struct {
	busy        atomic.Uint32 // bitmap: taken or quarantined
	quarantined atomic.Uint32 // bitmap, changed under mu
	ticket      atomic.Uint64 // taken before each push that may fence a slice
	mu          sync.Mutex
	fence       [querySlicesMax]uint64 // quarantined slice i is freed by ticket >= fence[i]
	awaited     [querySlicesMax]uint64 // or, when fence[i] is MaxUint64, by this result
}

func sliceCount(blobSize uint64) uint32 {
	return uint32(min(blobSize/querySliceSize, querySlicesMax))
}

func (c *Conn) sliceOffset(i int) uint32 {
	return uint32(uint64(len(c.lane.Load().blob)) - uint64(i+1)*querySliceSize)
}

func (s *sliceSet) take(n uint32) (int, bool) {
	all := uint32(1)<<n - 1
	for {
		busy := s.busy.Load()
		free := ^busy & all
		if free == 0 {
			return 0, false
		}
		i := bits.TrailingZeros32(free)
		if s.busy.CompareAndSwap(busy, busy|1<<i) {
			return i, true
		}
	}
}

func (s *sliceSet) put(i int) { s.busy.And(^(uint32(1) << i)) }

func (s *sliceSet) takeTicket() uint64 { return s.ticket.Add(1) }

// quarantine keeps slice i busy after its query gave up: any command whose ticket is
// taken from now on is pushed after it.
func (s *sliceSet) quarantine(i int) {
	s.mu.Lock()
	s.fence[i] = s.takeTicket()
	s.quarantined.Or(1 << i)
	s.mu.Unlock()
}

// quarantinePath keeps slice i busy until the late result of path command id arrives.
func (s *sliceSet) quarantinePath(i int, id uint64) {
	s.mu.Lock()
	s.fence[i] = math.MaxUint64
	s.awaited[i] = id
	s.quarantined.Or(1 << i)
	s.mu.Unlock()
}

// late is told of every result nobody waited for: a path slice waiting for it is free.
func (s *sliceSet) late(id uint64) {
	if s.quarantined.Load() == 0 {
		return
	}
	s.mu.Lock()
	for i := 0; i < querySlicesMax; i++ {
		if s.quarantined.Load()&(1<<i) != 0 && s.fence[i] == math.MaxUint64 && s.awaited[i] == id {
			s.quarantined.And(^(uint32(1) << i))
			s.put(i)
		}
	}
	s.mu.Unlock()
}

// release frees the quarantined slices that the answer to a command with this ticket
// proves done.
func (s *sliceSet) release(ticket uint64) {
	if s.quarantined.Load() == 0 {
		return
	}
	s.mu.Lock()
	q := s.quarantined.Load()
	for i := 0; i < querySlicesMax; i++ {
		if q&(1<<i) != 0 && s.fence[i] <= ticket {
			s.quarantined.And(^(uint32(1) << i))
			s.put(i)
		}
	}
	s.mu.Unlock()
}

// acquireSlice takes a slice; when all are busy but some only quarantined, it first
// proves the daemon done with them by a PING pushed after the queries that gave up.
func (c *Conn) acquireSlice(ctx context.Context) (int, error) {
	n := sliceCount(uint64(len(c.lane.Load().blob)))
	if n == 0 {
		return 0, ErrNoSlices
	}
	if i, ok := c.slices.take(n); ok {
		return i, nil
	}
	if c.slices.quarantined.Load() == 0 {
		return 0, ErrSlicesBusy
	}
	t := c.slices.takeTicket()
	if err := c.Ping(ctx); err != nil {
		return 0, err
	}
	c.slices.release(t)
	if i, ok := c.slices.take(n); ok {
		return i, nil
	}
	return 0, ErrSlicesBusy
}
