package cairn

import (
	"context"
	"errors"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// Reattaching after the daemon went away, and resubmitting what it never answered:
// the protocol of libcairn's src/client/reconnect.c, which explains it at length.
// In short, cairnd takes one lane's commands in ring order and publishes exactly one
// result per command; every command but the path commands is answered in command
// order, path commands whenever their search ends. So when a lane dies with R results
// published and its command ring claimed up to position H:
//   - the in-order commands answered are the first (R - path results popped) of them;
//     the rest, the last U in-order commands below H, are still in the lane's shadow;
//   - the path commands unanswered are those still on the lane's path list.
//
// A dead lane L is retired while other goroutines may still push and pop on it:
//  1. seal L's command ring by claiming every free position (tombstones): every push
//     on L fails from then on, and its pusher moves to the current lane;
//  2. drain L's result ring to the callers (R is where the published results end);
//  3. wait until every pusher that claimed a position has written its shadow entry,
//     and every popper that claimed a result slot has released it; then take the
//     pending commands: the path list and the last U in-order commands, in ring order;
//  4. attach a new lane N with the same session, copy L's arena into N's, and push the
//     pending commands into N with their original request ids (the daemon answers
//     those it had already applied from its exactly-once table);
//  5. publish N as the current lane, hand N's early results to their callers, and ring
//     L's result doorbell so that a caller asleep on L moves to N.
//
// A lane counts as dead only when its daemon closed the socket: then nothing can
// publish in it any more.

const (
	backoffMin     = 10 * time.Millisecond
	backoffMax     = 500 * time.Millisecond
	attemptTimeout = 2 * time.Second
)

var errLayoutLane = &Error{Code: ELayout}

type recovery struct {
	mu      sync.Mutex
	running bool
	doneCh  chan struct{} // closed when running drops
	lanes   []*lane       // every lane attached, for Close

	// Only the goroutine running the recovery touches these.
	from     *lane
	pending  []Msg
	early    []Msg
	deadline time.Time
	nextTry  time.Time
	backoff  time.Duration

	reconnects  atomic.Uint64
	resubmitted atomic.Uint64
}

// recover is called by a call that found lane seen gone, or a reattach under way. It
// reattaches and resubmits, or waits for the goroutine doing it, within ctx. Returns
// nil once the current lane is no longer seen, a wrapped ctx.Err(), or the error
// every call returns once the connection is given up.
func (c *Conn) recover(ctx context.Context, seen *lane) error {
	for {
		c.rc.mu.Lock()
		if c.lane.Load() != seen {
			c.rc.mu.Unlock()
			return nil
		}
		if err := c.deadErr(); err != nil {
			c.rc.mu.Unlock()
			return err
		}
		if !c.rc.running {
			c.rc.running = true
			c.rc.doneCh = make(chan struct{})
			c.rc.mu.Unlock()
			break
		}
		ch := c.rc.doneCh
		c.rc.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctxErr(ctx)
		}
	}
	err := c.runRecovery(ctx, seen)
	c.rc.mu.Lock()
	c.rc.running = false
	close(c.rc.doneCh)
	c.rc.mu.Unlock()
	return err
}

// runRecovery does the work, by the one goroutine whose turn it is: it starts the
// retirement of seen if none is under way, then attempts attaches with backoff until
// one succeeds, the reattach deadline passes (the connection is given up), or ctx
// ends (the next caller goes on from there).
func (c *Conn) runRecovery(ctx context.Context, seen *lane) error {
	rc := &c.rc
	if rc.from == nil {
		// The first to find seen gone: look again ourselves, a lane is retired only
		// when its daemon has certainly stopped serving it.
		if !seen.hungUp() {
			return nil
		}
		code := seen.deadErr()
		// Only a plain disconnection reattaches: a dropped or evicted lane must not.
		if code != ErrDisconnected || c.reconnect < 0 {
			return c.giveUp(code)
		}
		rc.deadline = time.Now().Add(c.reconnect)
		rc.nextTry = time.Time{}
		rc.backoff = backoffMin
		rc.pending = nil
		if err := c.requeue(seen, 0); err != nil {
			return c.giveUp(ErrDisconnected)
		}
		rc.from = seen
		c.recovering.Store(true)
	}
	for {
		now := time.Now()
		if !now.Before(rc.deadline) {
			return c.giveUp(ErrDisconnected)
		}
		if done(ctx) {
			return ctxErr(ctx)
		}
		if now.Before(rc.nextTry) {
			t := time.NewTimer(min(rc.nextTry.Sub(now), rc.deadline.Sub(now)))
			select {
			case <-t.C:
			case <-ctx.Done():
			}
			t.Stop()
			continue
		}
		err := c.attempt()
		if err == nil {
			return nil
		}
		if d := c.deadErr(); d != nil {
			return d
		}
		rc.nextTry = time.Now().Add(rc.backoff)
		rc.backoff = min(rc.backoff*2, backoffMax)
	}
}

// giveUp gives the connection up for good: every call returns err from now on.
func (c *Conn) giveUp(err error) error {
	c.rc.pending = nil
	c.routeEarly()
	c.dead.CompareAndSwap(nil, &err)
	c.recovering.Store(false)
	// Wake whoever sleeps: they find the connection dead.
	l := c.lane.Load()
	futexWakeBell(&l.res)
	c.wakeParked()
	return *c.dead.Load()
}

// futexWakeBell wakes a ring's sleepers whether or not there is anything new in it.
func futexWakeBell(r *ring) {
	atomic.AddUint32(r.word, 1)
	futexWake(r.word)
}

func (c *Conn) routeEarly() {
	for i := range c.rc.early {
		c.route(&c.rc.early[i])
	}
	c.rc.early = c.rc.early[:0]
}

// attempt attaches a new lane, resubmits the pending commands into it and makes it the
// current lane. A new lane that dies during the resubmission is retired at once and
// becomes the lane the next attempt replaces.
func (c *Conn) attempt() error {
	rc := &c.rc
	timeout := min(time.Until(rc.deadline), attemptTimeout)
	resub := uint32(min(len(rc.pending), 1<<32-1))
	n, err := c.attach(resub, timeout)
	if err != nil {
		return err
	}
	from := rc.from
	n.gen = from.gen + 1
	rc.mu.Lock()
	closed := c.closed.Load()
	if !closed {
		rc.lanes = append(rc.lanes, n)
	}
	rc.mu.Unlock()
	if closed {
		n.free()
		return ErrClosed
	}
	copy(n.blob, from.blob)

	sent := 0
	idle := idler{spin: 20 * time.Microsecond}
	for sent < len(rc.pending) {
		if n.push(&rc.pending[sent]) {
			sent++
			if sent%64 == 0 || sent == len(rc.pending) {
				n.cmd.ring()
			}
			continue
		}
		n.cmd.ring()
		// Full: the daemon takes more only as its results are taken.
		c.takeResults(n)
		if n.hungUp() {
			// Gone again: what n did not answer goes first next time.
			rc.from = n
			if err := c.requeue(n, sent); err != nil {
				return c.giveUp(ErrDisconnected)
			}
			return ErrDisconnected
		}
		if !time.Now().Before(rc.deadline) {
			// Out of time with a daemon that still serves n: n cannot be retired (it may
			// still answer), so the connection is given up as it stands.
			return c.giveUp(ErrDisconnected)
		}
		if idle.step() {
			time.Sleep(50 * time.Microsecond)
		}
	}
	n.cmd.ring()

	old := c.lane.Load()
	rc.resubmitted.Add(uint64(len(rc.pending)))
	rc.reconnects.Add(1)
	rc.pending = nil
	rc.from = nil
	c.recovering.Store(false)
	// A goroutine that loads n sees it whole (its mappings, shadow, arena copy).
	c.lane.Store(n)
	c.routeEarly()
	// Callers asleep on the old lane's doorbell re-check the current lane before they
	// sleep: this wakes those that saw the old one.
	futexWakeBell(&old.res)
	c.wakeParked()
	return nil
}

// takeResults keeps every result n has published so far in rc.early, making room in
// its ring, until n is the current lane: an answer n's daemon wrote into n's arena is
// where callers look only from then on.
func (c *Conn) takeResults(n *lane) {
	var m Msg
	for n.pop(&m) {
		c.rc.early = append(c.rc.early, m)
	}
}

// requeue retires lane l and puts its unanswered commands in front of the pending
// commands from index sent on (those not pushed into l).
func (c *Conn) requeue(l *lane, sent int) error {
	v, err := c.retire(l)
	if err != nil {
		return err
	}
	v = append(v, c.rc.pending[sent:]...)
	c.rc.pending = v
	return nil
}

// retire does steps 1 to 3 for the dead lane l and returns its commands that were
// never answered, in ring order.
func (c *Conn) retire(l *lane) ([]Msg, error) {
	head, tombs, ok := l.seal()
	answered := c.drain(l)
	if !ok {
		return nil, errLayoutLane
	}
	deadline := c.rc.deadline
	if err := l.waitPushers(head, tombs, deadline); err != nil {
		return nil, err
	}
	if err := l.waitPoppers(answered, deadline); err != nil {
		return nil, err
	}

	l.paths.mu.Lock()
	pushed, popped := l.paths.pushed, l.paths.popped
	paths := append([]pathEntry(nil), l.paths.v...)
	l.paths.mu.Unlock()
	commands := head - uint64(len(tombs))
	if answered > commands || pushed > commands || popped > answered || popped > pushed ||
		pushed-popped != uint64(len(paths)) {
		return nil, errLayoutLane
	}
	inOrder, inOrderAnswered := commands-pushed, answered-popped
	if inOrderAnswered > inOrder || inOrder-inOrderAnswered > l.shadowMask+1 {
		return nil, errLayoutLane
	}
	unanswered := inOrder - inOrderAnswered
	sort.Slice(paths, func(i, j int) bool { return paths[i].pos < paths[j].pos })

	// The last `unanswered` in-order commands below head, newest first: all within the
	// shadow's current lap, else the daemon answered an in-order command out of turn.
	isTomb := make(map[uint64]bool, len(tombs))
	for _, t := range tombs {
		isTomb[t] = true
	}
	lap := l.shadowMask + 1
	lo := uint64(0)
	if head > lap {
		lo = head - lap
	}
	last := make([]uint64, 0, unanswered)
	for p := head; uint64(len(last)) < unanswered; p-- {
		if p == lo {
			return nil, errLayoutLane
		}
		if isTomb[p-1] {
			continue
		}
		sh := &l.shadow[(p-1)&l.shadowMask]
		if sh.seq.Load() != p {
			return nil, errLayoutLane
		}
		if !isPathCmd(sh.msg.Type) {
			last = append(last, p-1)
		}
	}
	// Both lists merged by position: the order the commands were first pushed in.
	out := make([]Msg, 0, len(paths)+len(last))
	i, k := 0, len(last)
	for i < len(paths) || k > 0 {
		if i < len(paths) && (k == 0 || paths[i].pos < last[k-1]) {
			out = append(out, paths[i].msg)
			i++
		} else {
			k--
			out = append(out, l.shadow[last[k]&l.shadowMask].msg)
		}
	}
	return out, nil
}

// seal claims every free position of l's command ring, whose consumer is gone, and
// returns the final head and the positions claimed (in increasing order); ok is false
// when the ring claims more free slots than it has.
func (l *lane) seal() (head uint64, tombs []uint64, ok bool) {
	r := &l.cmd
	pos := atomic.LoadUint64(r.head)
	for {
		seq, _ := r.slot(pos)
		s := atomic.LoadUint64(seq)
		switch dif := int64(s - pos); {
		case dif == 0:
			if uint64(len(tombs)) > r.mask {
				return 0, nil, false
			}
			// The claim alone makes the position ours; the slot is never published, so
			// no consumer could take it, and the ring stays full for good.
			if atomic.CompareAndSwapUint64(r.head, pos, pos+1) {
				tombs = append(tombs, pos)
				pos++
			} else {
				pos = atomic.LoadUint64(r.head)
			}
		case dif < 0:
			// The slot still holds an unconsumed command of the lap before, which only
			// the (gone) consumer could free: pos is the final head.
			return pos, tombs, true
		default:
			pos = atomic.LoadUint64(r.head)
		}
	}
}

// drain hands every result l's daemon published to its caller (or keeps it in
// rc.early when l never became the current lane) and returns how many it published in
// all (R), popped by us or by anyone before.
func (c *Conn) drain(l *lane) uint64 {
	r := &l.res
	hold := l != c.lane.Load()
	pos := atomic.LoadUint64(r.tail)
	for {
		seq, src := r.slot(pos)
		s := atomic.LoadUint64(seq)
		switch dif := int64(s - (pos + 1)); {
		case dif == 0:
			if atomic.CompareAndSwapUint64(r.tail, pos, pos+1) {
				m := *src
				if isPathResult(&m) {
					l.paths.unhook(&m)
				}
				r.release(pos)
				if hold {
					c.rc.early = append(c.rc.early, m)
				} else {
					c.route(&m)
				}
				pos++
			} else {
				pos = atomic.LoadUint64(r.tail)
			}
		case dif < 0:
			// Not published, and the daemon is gone, so it never will be; it fills its
			// slots in ring order: pos is R.
			return pos
		default:
			pos = atomic.LoadUint64(r.tail)
		}
	}
}

var errRetireTimeout = errors.New("cairn: a pusher or popper did not finish in time")

// waitPushers waits until every position of l's command ring in [head - capacity,
// head) that is not a tombstone has its shadow entry written (and so, for a path
// command, its list entry).
func (l *lane) waitPushers(head uint64, tombs []uint64, deadline time.Time) error {
	capacity := l.cmd.mask + 1
	p := uint64(0)
	if head > capacity {
		p = head - capacity
	}
	t := 0
	for ; p < head; p++ {
		for t < len(tombs) && tombs[t] < p {
			t++
		}
		if t < len(tombs) && tombs[t] == p {
			continue
		}
		sh := &l.shadow[p&l.shadowMask]
		for {
			s := sh.seq.Load()
			if s == p+1 {
				break
			}
			if int64(s-(p+1)) > 0 {
				return errLayoutLane
			}
			if time.Now().After(deadline) {
				return errRetireTimeout
			}
			runtime.Gosched()
		}
	}
	return nil
}

// waitPoppers waits until every result slot below answered that some goroutine
// claimed has been released, so that a path result among them is off the list.
func (l *lane) waitPoppers(answered uint64, deadline time.Time) error {
	capacity := l.res.mask + 1
	p := uint64(0)
	if answered > capacity {
		p = answered - capacity
	}
	for ; p < answered; p++ {
		seq, _ := l.res.slot(p)
		for atomic.LoadUint64(seq) == p+1 {
			if time.Now().After(deadline) {
				return errRetireTimeout
			}
			runtime.Gosched()
		}
	}
	return nil
}
