package cairn

import (
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

const page = 4096

// shadowEntry is the private copy of the command pushed at one command-ring position
// (seq = position + 1 once whole), kept for the reconnect (reconnect.go).
type shadowEntry struct {
	seq atomic.Uint64
	msg Msg
}

// pathEntry is a path command without a result yet, by command-ring position.
type pathEntry struct {
	pos uint64
	msg Msg
}

// pathList holds a lane's path commands whose results have not been popped: the daemon
// answers them when their search ends, out of command order, so the reconnect cannot
// tell from positions alone which were answered. Only path commands touch it.
type pathList struct {
	mu     sync.Mutex
	v      []pathEntry
	pushed uint64
	popped uint64
}

// lane is one attachment to a daemon: its lane and state segments and what was checked
// about them. Dial makes the first; each reattach after a daemon restart makes another.
// A lane is never unmapped before Close, so a goroutine still holding an old one
// touches valid memory: it finds its command ring sealed and moves to the current one.
type lane struct {
	cmd, res ring

	// shadow[p & shadowMask] is the copy of the command pushed at position p, written
	// before the slot is published; it has room for as many commands as the lane can
	// have unanswered (command plus result ring).
	shadow     []shadowEntry
	shadowMask uint64
	paths      pathList

	sock       int
	base       []byte // the lane segment, read-write
	state      []byte // the state segment, read-only
	blob       []byte // the blob arena, inside base
	laneState  *uint32
	evSleepers *uint32

	laneID      uint32
	clientID    uint64
	sessionID   uint64
	gen         uint64 // 0 for Dial's lane, one more per reattach
	dedupWindow uint32
	resumed     uint32
	durableLSN  uint64

	grid   gridView
	events eventView
}

// hello is what attach sends: the hello and, behind it, the session.
func (c *Conn) hello(resubmitting uint32) []byte {
	b := make([]byte, HelloSize+HelloSessionSize)
	le.PutUint64(b[HelloOffMagic:], HelloMagic)
	le.PutUint16(b[HelloOffVersionMajor:], c.protoMajor)
	le.PutUint16(b[HelloOffVersionMinor:], ProtoMinor)
	le.PutUint32(b[HelloOffFlags:], HelloSession)
	le.PutUint32(b[HelloOffClientPid:], uint32(os.Getpid()))
	le.PutUint32(b[HelloOffCmdCapacity:], c.opts.CmdCapacity)
	le.PutUint32(b[HelloOffResCapacity:], c.opts.ResCapacity)
	le.PutUint32(b[HelloOffBlobSize:], c.opts.BlobSize)
	copy(b[HelloOffName:HelloOffName+NameSize], c.name)
	s := b[HelloSize:]
	le.PutUint64(s[HelloSessionOffSessionId:], c.sessionID)
	le.PutUint32(s[HelloSessionOffResubmitting:], resubmitting)
	return b
}

// attach connects to the daemon, sends the hello with c's session, maps and checks
// both segments. timeout bounds each socket operation.
func (c *Conn) attach(resubmitting uint32, timeout time.Duration) (*lane, error) {
	if len(c.path) >= len(unix.RawSockaddrUnix{}.Path) {
		return nil, fmt.Errorf("cairn: socket path too long: %q", c.path)
	}
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, os.NewSyscallError("socket", err)
	}
	l := &lane{sock: fd}
	ok := false
	defer func() {
		if !ok {
			l.free()
		}
	}()
	if timeout < time.Millisecond {
		timeout = time.Millisecond // 0 would mean no timeout at all
	}
	tv := unix.NsecToTimeval(int64(timeout))
	_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_SNDTIMEO, &tv)
	if err := connectEINTR(fd, &unix.SockaddrUnix{Name: c.path}); err != nil {
		return nil, fmt.Errorf("cairn: connect to %s: %w", c.path, os.NewSyscallError("connect", err))
	}
	msg := c.hello(resubmitting)
	for done := 0; done < len(msg); {
		n, err := unix.SendmsgN(fd, msg[done:], nil, nil, unix.MSG_NOSIGNAL)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("cairn: send hello: %w", os.NewSyscallError("sendmsg", err))
		}
		done += n
	}
	w, fds, err := recvWelcome(fd)
	defer func() {
		for _, f := range fds {
			unix.Close(f)
		}
	}()
	if err != nil {
		return nil, err
	}
	if le.Uint64(w[WelcomeOffSessionId:]) != c.sessionID {
		// A daemon that did not take our session cannot keep its promises about it.
		return nil, &Error{Code: EHandshake}
	}
	l.laneID = le.Uint32(w[WelcomeOffLaneId:])
	l.clientID = le.Uint64(w[WelcomeOffClientId:])
	l.sessionID = c.sessionID
	l.dedupWindow = le.Uint32(w[WelcomeOffDedupWindow:])
	l.resumed = le.Uint32(w[WelcomeOffResumed:])
	l.durableLSN = le.Uint64(w[WelcomeOffDurableLsn:])
	if err := l.mapSegments(fds[0], fds[1]); err != nil {
		return nil, err
	}
	l.grid.attach(l.state)
	l.events.attach(l.state)
	ok = true
	return l, nil
}

func connectEINTR(fd int, sa unix.Sockaddr) error {
	for {
		err := unix.Connect(fd, sa)
		if err != unix.EINTR {
			return err
		}
	}
}

// recvWelcome receives the welcome and, when it says yes, the state and lane
// descriptors (in that order).
func recvWelcome(fd int) ([]byte, []int, error) {
	w := make([]byte, WelcomeSize)
	oob := make([]byte, unix.CmsgSpace(4*4))
	var n, oobn int
	var err error
	for {
		n, oobn, _, _, err = unix.Recvmsg(fd, w, oob, unix.MSG_CMSG_CLOEXEC|unix.MSG_WAITALL)
		if err != unix.EINTR {
			break
		}
	}
	if err == unix.EAGAIN {
		return nil, nil, fmt.Errorf("cairn: no welcome from the daemon: %w", os.ErrDeadlineExceeded)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("cairn: receive welcome: %w", os.NewSyscallError("recvmsg", err))
	}
	var fds []int
	if cms, perr := unix.ParseSocketControlMessage(oob[:oobn]); perr == nil {
		for i := range cms {
			if got, err := unix.ParseUnixRights(&cms[i]); err == nil {
				fds = append(fds, got...)
			}
		}
	}
	if n == 0 {
		return nil, fds, &Error{Code: EDisconnected}
	}
	if n != WelcomeSize || le.Uint64(w[WelcomeOffMagic:]) != WelcomeMagic {
		return nil, fds, &Error{Code: EHandshake}
	}
	if major := le.Uint16(w[WelcomeOffVersionMajor:]); major != ProtoMajor {
		return nil, fds, fmt.Errorf("cairn: the daemon speaks protocol %d.%d, this client %d.%d: %w",
			major, le.Uint16(w[WelcomeOffVersionMinor:]), ProtoMajor, ProtoMinor, ErrVersion)
	}
	if st := int32(le.Uint32(w[WelcomeOffStatus:])); st != 0 {
		if st < 0 {
			st = EHandshake
		}
		if st == EVersion {
			return nil, fds, fmt.Errorf("cairn: the daemon refused protocol %d.%d: %w",
				ProtoMajor, ProtoMinor, ErrVersion)
		}
		return nil, fds, &Error{Code: st}
	}
	if len(fds) != 2 {
		return nil, fds, &Error{Code: EHandshake}
	}
	return w, fds, nil
}

// mapWhole maps a whole segment received from the daemon.
func mapWhole(fd int, writable bool) ([]byte, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, os.NewSyscallError("fstat", err)
	}
	if st.Size <= 0 || st.Size > 1<<40 || int64(int(st.Size)) != st.Size {
		return nil, &Error{Code: ELayout}
	}
	prot := unix.PROT_READ
	if writable {
		prot |= unix.PROT_WRITE
	}
	b, err := unix.Mmap(fd, 0, int(st.Size), prot, unix.MAP_SHARED)
	if err != nil {
		return nil, os.NewSyscallError("mmap", err)
	}
	return b, nil
}

func fits(off, n, size uint64) bool { return off <= size && n <= size-off }

func isPow2(v uint64) bool { return v != 0 && v&(v-1) == 0 }

// checkPreamble checks what every segment starts with: magic, major, header size.
func checkPreamble(b []byte, magic uint64, minHeader int) error {
	if len(b) < 8 {
		return &Error{Code: ELayout}
	}
	if le.Uint64(b) != magic {
		return &Error{Code: EBadMagic}
	}
	if len(b) < minHeader {
		return &Error{Code: ELayout}
	}
	if le.Uint16(b[8:]) != ProtoMajor {
		return &Error{Code: EVersion}
	}
	return nil
}

// validateState checks the state header against the segment (src/shm/segment.c). The
// header is copied first, so that the values checked are the values used.
func validateState(b []byte) error {
	if err := checkPreamble(b, StateMagic, StateHeaderSize); err != nil {
		return err
	}
	h := append([]byte(nil), b[:StateHeaderSize]...)
	size := uint64(len(b))
	u64 := func(off int) uint64 { return le.Uint64(h[off:]) }
	hs := uint64(le.Uint32(h[StateHeaderOffHeaderSize:]))
	co, cs := u64(StateHeaderOffCountersOffset), u64(StateHeaderOffCountersSize)
	eo, es := u64(StateHeaderOffEngineCountersOffset), u64(StateHeaderOffEngineCountersSize)
	if hs < StateHeaderSize || hs > size || u64(StateHeaderOffSegmentSize) != size ||
		co%8 != 0 || cs < DaemonCountersSize || co < hs || !fits(co, cs, size) ||
		eo%8 != 0 || eo < hs || es < EngineCountersSize || !fits(eo, es, size) {
		return &Error{Code: ELayout}
	}
	vo, vs := u64(StateHeaderOffEventsOffset), u64(StateHeaderOffEventsSize)
	gro, grs := u64(StateHeaderOffGridOffset), u64(StateHeaderOffGridSize)
	if (vo != 0 && (vo%page != 0 || vo < hs || vs < EventRingHeaderSize || !fits(vo, vs, size))) ||
		(gro != 0 && (gro%page != 0 || gro < hs || grs < GridHeaderSize || !fits(gro, grs, size))) {
		return &Error{Code: ELayout}
	}
	return nil
}

func ringBytes(capacity uint32) uint64 { return RingHeaderSize + uint64(capacity)*SlotSize }

func ringOK(b []byte, off uint64, capacity uint32) bool {
	c := uint64(capacity)
	if !isPow2(c) || c < RingMinCapacity || c > RingMaxCapacity || off%CacheLine != 0 ||
		!fits(off, ringBytes(capacity), uint64(len(b))) {
		return false
	}
	h := b[off:]
	return le.Uint32(h[RingHeaderOffCapacity:]) == capacity &&
		le.Uint32(h[RingHeaderOffMask:]) == capacity-1 &&
		le.Uint32(h[RingHeaderOffSlotSize:]) == SlotSize
}

func overlap(a, la, b, lb uint64) bool { return a < b+lb && b < a+la }

// mapSegments maps the state (read-only) and lane (read-write) segments, checks them
// and sets up the rings, the arena and the shadow.
func (l *lane) mapSegments(stateFd, laneFd int) error {
	var err error
	if l.state, err = mapWhole(stateFd, false); err != nil {
		return err
	}
	if err := validateState(l.state); err != nil {
		return err
	}
	if l.base, err = mapWhole(laneFd, true); err != nil {
		return err
	}
	b := l.base
	if err := checkPreamble(b, LaneMagic, LaneHeaderSize); err != nil {
		return err
	}
	h := append([]byte(nil), b[:LaneHeaderSize]...)
	size := uint64(len(b))
	hs := uint64(le.Uint32(h[LaneHeaderOffHeaderSize:]))
	co, ro := le.Uint64(h[LaneHeaderOffCmdRingOffset:]), le.Uint64(h[LaneHeaderOffResRingOffset:])
	bo, bs := le.Uint64(h[LaneHeaderOffBlobOffset:]), le.Uint64(h[LaneHeaderOffBlobSize:])
	cc, rc := le.Uint32(h[LaneHeaderOffCmdCapacity:]), le.Uint32(h[LaneHeaderOffResCapacity:])
	if hs < LaneHeaderSize || hs > size || le.Uint64(h[LaneHeaderOffLaneSize:]) != size ||
		le.Uint32(h[LaneHeaderOffSlotSize:]) != SlotSize || co < hs || ro < hs || bo < hs ||
		!ringOK(b, co, cc) || !ringOK(b, ro, rc) || !fits(bo, bs, size) {
		return &Error{Code: ELayout}
	}
	cb, rb := ringBytes(cc), ringBytes(rc)
	if overlap(co, cb, ro, rb) || overlap(co, cb, bo, bs) || overlap(ro, rb, bo, bs) {
		return &Error{Code: ELayout}
	}
	p := unsafe.Pointer(&b[0])
	l.cmd = newRing(unsafe.Add(p, co), cc)
	l.res = newRing(unsafe.Add(p, ro), rc)
	l.blob = b[bo : bo+bs : bo+bs]
	l.laneState = (*uint32)(unsafe.Add(p, LaneHeaderOffLaneState))
	l.evSleepers = (*uint32)(unsafe.Add(p, LaneHeaderOffEventSleepers))
	n, s := uint64(cc)+uint64(rc), uint64(1)
	for s < n {
		s <<= 1
	}
	l.shadow = make([]shadowEntry, s)
	l.shadowMask = s - 1
	return nil
}

// free unmaps the lane and closes its socket.
func (l *lane) free() {
	if l.sock >= 0 {
		unix.Close(l.sock)
		l.sock = -1
	}
	if l.state != nil {
		unix.Munmap(l.state)
		l.state = nil
	}
	if l.base != nil {
		unix.Munmap(l.base)
		l.base = nil
	}
}

// hungUp reports whether the daemon closed the lane's socket. It never writes to the
// socket after the welcome, so readable means closed. One syscall.
func (l *lane) hungUp() bool {
	fds := []unix.PollFd{{Fd: int32(l.sock), Events: unix.POLLIN}}
	n, err := unix.Poll(fds, 0)
	return err == nil && n > 0 && fds[0].Revents&(unix.POLLIN|unix.POLLHUP|unix.POLLERR) != 0
}

// deadErr is what calls return once l is known to be gone.
func (l *lane) deadErr() error {
	// The daemon writes the state before it closes the socket we saw close.
	switch atomic.LoadUint32(l.laneState) {
	case LaneDropped:
		return ErrLaneDropped
	case LaneEvicted:
		return ErrEvicted
	}
	return ErrDisconnected
}
