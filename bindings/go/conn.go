package cairn

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"time"
	"unsafe"
)

const (
	defaultSpin      = 50 * time.Microsecond
	yieldTime        = 200 * time.Microsecond
	sleepSlice       = 50 * time.Millisecond // look at the socket at least this often
	handshakeTimeout = 5 * time.Second
	defaultReconnect = 10 * time.Second
)

// Options tune a connection. The zero value (or nil) gives the defaults.
type Options struct {
	CmdCapacity uint32        // command ring slots, a power of two; 0: 1024
	ResCapacity uint32        // result ring slots, a power of two; 0: 1024
	BlobSize    uint32        // blob arena bytes; 0: 1 MiB
	Spin        time.Duration // busy-poll this long before yielding when waiting; 0: 50 µs
	Name        string        // shown to operators (32 bytes at most); "": the program's name
	// ReconnectTimeout is how long to keep trying to reattach, from when the daemon is
	// found gone, before calls give up with ErrDisconnected; 0: 10 s. Negative: never
	// reattach; calls return ErrDisconnected as soon as the daemon is found gone.
	ReconnectTimeout time.Duration
}

// Conn is an attached connection to cairnd. All its methods are safe for concurrent
// use by many goroutines, except Close.
type Conn struct {
	lane       atomic.Pointer[lane]  // the current lane
	dead       atomic.Pointer[error] // set once: what every call now returns
	recovering atomic.Bool           // a reattach is under way (rc.from is set)
	closed     atomic.Bool
	poller     atomic.Uint32 // a caller holds the role of sleeping on the result ring
	vacancy    chan struct{} // buffered 1: the poller role is free again

	_      [64]byte
	nextID atomic.Uint64
	_      [56]byte

	mbox       *mailbox
	slices     sliceSet
	evWait     eventSleeper
	rc         recovery
	sessionID  uint64
	path       string
	name       string
	opts       Options
	spin       time.Duration
	reconnect  time.Duration // < 0: never
	protoMajor uint16        // what the hello says; a test changes it
}

// DefaultSocketPath is where cairnd listens by default: $CAIRN_SOCKET if set, else
// $XDG_RUNTIME_DIR/cairn/cairnd.sock, else /tmp/cairn-UID/cairnd.sock.
func DefaultSocketPath() string {
	if p := os.Getenv("CAIRN_SOCKET"); p != "" {
		return p
	}
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		return filepath.Join(d, "cairn", "cairnd.sock")
	}
	return fmt.Sprintf("/tmp/cairn-%d/cairnd.sock", os.Getuid())
}

// Dial attaches to the daemon listening at path ("" for DefaultSocketPath()) with the
// default options. See DialContext.
func Dial(path string) (*Conn, error) {
	return DialContext(context.Background(), path, nil)
}

// DialContext attaches to the daemon listening at path ("" for DefaultSocketPath())
// with a new session. The handshake takes at most 5 s, or until ctx's deadline. It
// returns a wrapped fs.ErrNotExist or syscall.ECONNREFUSED when no daemon listens
// there, and an *Error for a refusal (ErrDenied, ErrVersion, ErrTooManyClients) or a
// malformed answer (ErrHandshake, ErrLayout, ErrBadMagic).
func DialContext(ctx context.Context, path string, opts *Options) (*Conn, error) {
	return dial(ctx, path, opts, ProtoMajor)
}

func dial(ctx context.Context, path string, opts *Options, major uint16) (*Conn, error) {
	if path == "" {
		path = DefaultSocketPath()
	}
	c := &Conn{path: path, mbox: newMailbox(), vacancy: make(chan struct{}, 1), protoMajor: major}
	if opts != nil {
		c.opts = *opts
	}
	c.name = c.opts.Name
	if c.name == "" {
		c.name = filepath.Base(os.Args[0])
	}
	if len(c.name) > NameSize-1 {
		c.name = c.name[:NameSize-1]
	}
	c.spin = c.opts.Spin
	if c.spin <= 0 {
		c.spin = defaultSpin
	}
	switch {
	case c.opts.ReconnectTimeout < 0:
		c.reconnect = -1
	case c.opts.ReconnectTimeout == 0:
		c.reconnect = defaultReconnect
	default:
		c.reconnect = c.opts.ReconnectTimeout
	}
	var b [8]byte
	for c.sessionID == 0 {
		if _, err := rand.Read(b[:]); err != nil {
			return nil, err
		}
		c.sessionID = binary.LittleEndian.Uint64(b[:])
	}
	timeout := handshakeTimeout
	if d, ok := ctx.Deadline(); ok && time.Until(d) < timeout {
		timeout = time.Until(d)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	l, err := c.attach(0, timeout)
	if err != nil {
		return nil, err
	}
	c.rc.lanes = append(c.rc.lanes, l)
	c.lane.Store(l)
	return c, nil
}

// Close detaches; the daemon reclaims the lane. Calls still running fail, results not
// yet taken are lost. It unmaps every lane this connection attached (after daemon
// restarts, the old ones too). Close is not safe to call while other calls run or
// after they may start; a second Close returns nil.
func (c *Conn) Close() error {
	if c.closed.Swap(true) {
		return nil
	}
	c.rc.mu.Lock()
	lanes := c.rc.lanes
	c.rc.lanes = nil
	c.rc.mu.Unlock()
	for _, l := range lanes {
		l.free()
	}
	return nil
}

// SessionID is the connection's session: the same across reattaches.
func (c *Conn) SessionID() uint64 { return c.sessionID }

// deadErr returns what every call returns once the connection is given up, or nil.
func (c *Conn) deadErr() error {
	if p := c.dead.Load(); p != nil {
		return *p
	}
	if c.closed.Load() {
		return ErrClosed
	}
	return nil
}

// push pushes cmd on l with its private copy (and, for a path command, its entry in
// the path list) kept between the claim and the publish, as libcairn's lane_push.
// It returns false when the ring is full, or sealed because its daemon is gone.
func (l *lane) push(m *Msg) bool {
	pos, ok := l.cmd.claimPush()
	if !ok {
		return false
	}
	if isPathCmd(m.Type) {
		l.paths.hook(pos, m)
	}
	sh := &l.shadow[pos&l.shadowMask]
	// The pusher of the previous lap stored seq before publishing its slot, and we
	// could only claim this position once that slot was consumed: this load orders its
	// write of the entry before ours (for the race detector, which does not see the
	// ordering through shared memory).
	_ = sh.seq.Load()
	sh.msg = *m
	// Release, paired with the reconnect's acquire of seq == pos + 1: the copy is whole.
	sh.seq.Store(pos + 1)
	l.cmd.publish(pos, m)
	return true
}

// pop takes one result from l, unhooking a path result from l's path list between the
// claim and the release, so that once every claimed slot is released every path
// result popped is accounted for.
func (l *lane) pop(m *Msg) bool {
	pos, ok := l.res.claimPop()
	if !ok {
		return false
	}
	_, src := l.res.slot(pos)
	*m = *src
	if isPathResult(m) {
		l.paths.unhook(m)
	}
	l.res.release(pos)
	return true
}

func (p *pathList) hook(pos uint64, m *Msg) {
	p.mu.Lock()
	p.pushed++
	p.v = append(p.v, pathEntry{pos: pos, msg: *m})
	p.mu.Unlock()
}

func (p *pathList) unhook(m *Msg) {
	p.mu.Lock()
	p.popped++
	best := -1
	for i := range p.v {
		if p.v[i].msg.RequestID == m.RequestID && (best < 0 || p.v[i].pos < p.v[best].pos) {
			best = i
		}
	}
	// No entry: a result for a command never pushed here, which no honest daemon
	// sends; the counts then disagree, and the reconnect says so.
	if best >= 0 {
		p.v[best] = p.v[len(p.v)-1]
		p.v = p.v[:len(p.v)-1]
	}
	p.mu.Unlock()
}

// idler is the adaptive wait of a caller: spin for spin, then yield for yieldTime,
// then sleep. It reads the clock only every 64 steps.
type idler struct {
	start    time.Time
	spin     time.Duration
	n        uint32
	yielding bool
	sleeping bool
}

// step returns true when the caller should now sleep (and keeps returning true).
func (i *idler) step() bool {
	if i.sleeping {
		return true
	}
	if i.n == 0 {
		i.start = time.Now()
	}
	i.n++
	if !i.yielding {
		if i.n&63 != 0 || time.Since(i.start) < i.spin {
			return false
		}
		i.yielding = true
	}
	if time.Since(i.start) < i.spin+yieldTime {
		runtime.Gosched()
		return false
	}
	i.sleeping = true
	return true
}

// ctxErr wraps a context's error as the result of a call. A deadline that has passed
// counts even before the context's own timer has fired.
func ctxErr(ctx context.Context) error {
	err := ctx.Err()
	if err == nil {
		err = context.DeadlineExceeded
	}
	return fmt.Errorf("cairn: %w", err)
}

func done(ctx context.Context) bool {
	d := ctx.Done()
	if d == nil {
		return false
	}
	select {
	case <-d:
		return true
	default:
		return false
	}
}

// Call sends cmd and waits for its own result, whatever other goroutines do on the
// connection, and across daemon restarts (the command is resubmitted on the new lane
// if the daemon went away before answering it). It assigns cmd.RequestID. It returns
// the result, with an *Error when the daemon answered with ERROR (the result is then
// that ERROR message); or a wrapped ctx.Err(), ErrDisconnected, ErrLaneDropped, ErrEvicted,
// ErrClosed. When ctx ends first, the late result is discarded when it arrives.
func (c *Conn) Call(ctx context.Context, cmd *Msg) (Msg, error) {
	if cmd.Length > PayloadSize {
		return Msg{}, ErrInvalid
	}
	if err := c.deadErr(); err != nil {
		return Msg{}, err
	}
	id, err := c.register(ctx)
	if err != nil {
		return Msg{}, ctxErr(ctx)
	}
	cmd.RequestID = id
	if err := c.pushCall(ctx, cmd); err != nil {
		c.unregister(id)
		return Msg{}, err
	}
	return c.wait(ctx, id)
}

// pushCall pushes a registered call's command on the current lane.
func (c *Conn) pushCall(ctx context.Context, cmd *Msg) error {
	idle := idler{spin: c.spin}
	for {
		if err := c.deadErr(); err != nil {
			return err
		}
		l := c.lane.Load()
		if l.push(cmd) {
			l.cmd.ring()
			return nil
		}
		// The ring is full. The daemon takes a command only when its result has room,
		// so move results out of the way (to their callers) while we wait.
		var m Msg
		for l.pop(&m) {
			c.route(&m)
		}
		if err := c.checkLane(ctx, l); err != nil {
			return err
		}
		if c.lane.Load() != l {
			continue // a new lane: push there at once
		}
		if done(ctx) {
			return ctxErr(ctx)
		}
		if idle.step() {
			time.Sleep(50 * time.Microsecond)
		}
	}
}

// wait waits for the result of call id, popping the result ring itself and handing
// other callers' results to them.
func (c *Conn) wait(ctx context.Context, id uint64) (Msg, error) {
	idle := idler{spin: c.spin}
	var m Msg
	for {
		l := c.lane.Load()
		if l.pop(&m) {
			if m.RequestID == id {
				c.unregister(id)
				return m, resultErr(&m)
			}
			c.route(&m)
			continue
		}
		if r, ok := c.take(id); ok {
			return r, resultErr(&r)
		}
		var err error
		if d := c.deadErr(); d != nil {
			err = d
		} else if idle.step() {
			err = c.sleep(ctx, l, id)
		} else if idle.n&63 == 0 && done(ctx) {
			err = ctxErr(ctx)
		}
		if err != nil {
			if r, ok := c.abandon(id); ok {
				return r, resultErr(&r)
			}
			return Msg{}, err
		}
	}
}

// sleep waits until something may have changed for call id on lane l. One caller at a
// time (the poller) sleeps on the result ring's doorbell, so that a thousand waiting
// goroutines do not hold a thousand threads in futex calls; the others park on their
// mailbox entry until a result is routed to them or the poller role is free. Both
// sleep at most sleepSlice, and then look at the connection: if the daemon is gone,
// they reattach (or wait for the reattach). Returns nil, a wrapped ctx.Err(), or the
// connection's death.
func (c *Conn) sleep(ctx context.Context, l *lane, id uint64) error {
	if done(ctx) {
		return ctxErr(ctx)
	}
	if c.recovering.Load() {
		return c.checkLane(ctx, l)
	}
	d := sleepSlice
	if dl, ok := ctx.Deadline(); ok {
		left := time.Until(dl)
		if left <= 0 {
			return ctxErr(ctx)
		}
		d = min(d, left)
	}
	idx, ctr := entryOf(id)
	e := &c.mbox.e[idx]
	delivered := func() bool { return e.key.Load() == ctr<<2|stDone }
	if c.poller.CompareAndSwap(0, 1) {
		// The doorbell protocol (doorbell.h): read the word, announce the sleeper,
		// re-check the ring; the daemon publishes, then reads the sleeper count, and
		// bumps the word if it sees us, so the FUTEX_WAIT returns at once or is woken.
		v := atomic.LoadUint32(l.res.word)
		atomic.AddUint32(l.res.sleepers, 1)
		if !l.res.readable() && !delivered() && c.lane.Load() == l && c.deadErr() == nil {
			var stop func() bool
			if ctx.Done() != nil {
				stop = context.AfterFunc(ctx, func() { futexWake(l.res.word) })
			}
			futexWaitOn(l.res.word, v, d)
			if stop != nil {
				stop()
			}
		}
		atomic.AddUint32(l.res.sleepers, ^uint32(0))
		c.poller.Store(0)
		// Hand the role over: a parked caller may be waiting for it.
		select {
		case c.vacancy <- struct{}{}:
		default:
		}
	} else {
		// Dekker with route, which stores done and then looks at parked.
		e.parked.Store(1)
		select { // a stale token from an earlier call on this entry
		case <-e.wake:
		default:
		}
		if !delivered() && c.poller.Load() != 0 && c.lane.Load() == l {
			t := time.NewTimer(d)
			select {
			case <-e.wake:
			case <-c.vacancy:
			case <-ctx.Done():
			case <-t.C:
			}
			t.Stop()
		}
		e.parked.Store(0)
	}
	if done(ctx) {
		return ctxErr(ctx)
	}
	return c.checkLane(ctx, l)
}

// checkLane looks at whether lane l, which the caller was using, still has its daemon
// (one syscall); if not, reattaches or waits for the reattach. Returns nil when l is
// fine or has been replaced (the caller compares c.lane with l).
func (c *Conn) checkLane(ctx context.Context, l *lane) error {
	if err := c.deadErr(); err != nil {
		return err
	}
	if c.lane.Load() != l {
		return nil
	}
	if !c.recovering.Load() && !l.hungUp() {
		return nil
	}
	return c.recover(ctx, l)
}

// Check returns nil when the daemon still holds the connection. When the daemon has
// gone away and reattaching is on, it first reattaches (or waits for the goroutine
// doing it), within ctx. One non-blocking syscall when all is well.
func (c *Conn) Check(ctx context.Context) error {
	for {
		l := c.lane.Load()
		if err := c.checkLane(ctx, l); err != nil {
			return err
		}
		if c.lane.Load() == l {
			return nil
		}
	}
}

// Blob returns the front of the current lane's blob arena, the part that belongs to
// the caller: everything below the query slices at its end. Commands such as
// ECHO_BLOB sent with Call refer to offsets in it. After a daemon restart the new lane
// has a new arena, a copy of the old one: call Blob again (DaemonInfo().Reconnects
// says when).
func (c *Conn) Blob() []byte {
	l := c.lane.Load()
	n := sliceCount(uint64(len(l.blob)))
	return l.blob[:uint64(len(l.blob))-uint64(n)*querySliceSize]
}

// DaemonInfo is a copy of what the daemon publishes about itself, and about this
// connection.
type DaemonInfo struct {
	PID            uint32
	State          uint32 // DaemonStarting, DaemonRunning, DaemonDraining, DaemonStopped
	MaxLanes       uint32
	ApplyCPU       int32 // -1 when not pinned
	NumaNode       int32 // -1 when unknown
	LaneID         uint32
	ClientID       uint64
	BootEpoch      time.Time
	SessionID      uint64
	DedupWindow    uint32 // results per session kept for resubmission (0: no exactly-once)
	Resumed        bool   // the daemon already knew the session at this attach
	DurableLSN     uint64 // the daemon's durable LSN when this lane was made
	Reconnects     uint64 // reattaches after the daemon went away, so far
	Resubmitted    uint64 // commands resubmitted by those reattaches
	Commands       uint64 // daemon counters: commands taken from every lane
	Results        uint64 // results published
	Errors         uint64 // ERROR results published
	EngineApplied  uint64 // commands the engine applied
	EngineMoves    uint64
	EngineClaims   uint64
	EngineRejected uint64
}

// DaemonInfo reads what the daemon that holds the session now publishes.
func (c *Conn) DaemonInfo() DaemonInfo {
	l := c.lane.Load()
	s := l.state
	u64 := func(off uint64) uint64 {
		return atomic.LoadUint64((*uint64)(unsafe.Pointer(&s[off])))
	}
	u32 := func(off uint64) uint32 {
		return atomic.LoadUint32((*uint32)(unsafe.Pointer(&s[off])))
	}
	co := u64(StateHeaderOffCountersOffset)
	eo := u64(StateHeaderOffEngineCountersOffset)
	return DaemonInfo{
		PID:            u32(StateHeaderOffDaemonPid),
		State:          u32(StateHeaderOffDaemonState),
		MaxLanes:       u32(StateHeaderOffMaxLanes),
		ApplyCPU:       int32(u32(StateHeaderOffApplyCpu)),
		NumaNode:       int32(u32(StateHeaderOffNumaNode)),
		LaneID:         l.laneID,
		ClientID:       l.clientID,
		BootEpoch:      time.Unix(0, int64(u64(StateHeaderOffBootEpochNs))),
		SessionID:      c.sessionID,
		DedupWindow:    l.dedupWindow,
		Resumed:        l.resumed != 0,
		DurableLSN:     l.durableLSN,
		Reconnects:     c.rc.reconnects.Load(),
		Resubmitted:    c.rc.resubmitted.Load(),
		Commands:       u64(co + DaemonCountersOffCommands),
		Results:        u64(co + DaemonCountersOffResults),
		Errors:         u64(co + DaemonCountersOffErrors),
		EngineApplied:  u64(eo + EngineCountersOffApplied),
		EngineMoves:    u64(eo + EngineCountersOffMoves),
		EngineClaims:   u64(eo + EngineCountersOffClaims),
		EngineRejected: u64(eo + EngineCountersOffRejected),
	}
}

// isDisconnect reports whether err means the connection is gone for good.
func isDisconnect(err error) bool {
	return errors.Is(err, ErrDisconnected) || errors.Is(err, ErrLaneDropped) ||
		errors.Is(err, ErrEvicted) || errors.Is(err, ErrClosed)
}
