// Command cairn-chaos-host is the Go game host of the chaos soak (tools/soak-chaos):
// the same host as the C one (tests/chaos/host.c), through this package.
//
// Usage:
//
//	cairn-chaos-host --socket PATH --journal FILE [--seed N] [--actors N] [--players N]
//	                 [--malformed PCT] [--map ID]
//
// It creates a hunt of its own on map ID (default 1: the soak's open map) and runs
// ACTORS goroutines on it, each owning PLAYERS players and a few clues in a stripe of
// the map, each with one command in flight: PCT percent malformed commands that must
// be refused, the rest moves (some onto its own clues, to claim them), clue places and
// removes, a player leaving and another joining, and PLAYER_STATE queries checked
// against what was acknowledged. Every command and result goes to the journal, a line
// per write, in the format chaos-check reads (the top of tests/chaos/check.c).
//
// It stops when its standard input reaches end of file: each goroutine finishes its
// command, "bye" is written, and it exits 0. It exits 3 after a "fail" line when
// something is wrong, 2 on bad usage. A daemon restart is not wrong: the connection
// reattaches and resubmits, and the calls wait for it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"cairn.dev/cairn"
)

const (
	callTimeout = 120 * time.Second // longer than any restart the soak makes
	maxClues    = 6
	marginMM    = 500  // keeps stripes apart, far beyond the claim radius
	stepMM      = 3000 // the farthest a random move goes
	badIDMax    = 1 << cairn.IdSlotBits
)

var (
	conn      *cairn.Conn
	journal   *os.File
	huntID    uint32
	mapW      int32
	mapH      int32
	nextN     atomic.Uint64
	stopping  atomic.Bool
	malformed = 20
	players   = 4
)

// jw writes one journal line with one write, whole or not at all, whatever kills us.
func jw(format string, a ...any) {
	if _, err := journal.Write([]byte(fmt.Sprintf(format, a...) + "\n")); err != nil {
		fmt.Fprintf(os.Stderr, "cairn-chaos-host: journal: %v\n", err)
		os.Exit(3)
	}
}

// die records what is wrong and stops at once.
func die(format string, a ...any) {
	msg := strings.ReplaceAll(fmt.Sprintf(format, a...), "\n", " ")
	jw("fail %s", msg)
	fmt.Fprintf(os.Stderr, "cairn-chaos-host %d: %s\n", os.Getpid(), msg)
	os.Exit(3)
}

// refusal returns the code of a refusal by the daemon, or 0 for any other error.
func refusal(err error) int32 {
	var e *cairn.Error
	if !errors.As(err, &e) {
		return 0
	}
	switch e.Code {
	case cairn.EDisconnected, cairn.ELaneDropped, cairn.EEvicted, cairn.EBadReply:
		return 0
	}
	return e.Code
}

func ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), callTimeout)
}

type player struct {
	id     uint32
	x, y   int32
	claims uint32
	score  int64
}

type clue struct {
	id      uint32
	x, y    int32
	value   int64
	claimed bool
}

type actor struct {
	rng            *rand.Rand
	x0, x1, y0, y1 int32
	p              []player
	c              []clue
}

func (a *actor) in(lo, hi int32) int32 { return lo + a.rng.Int32N(hi-lo+1) }

// refused journals a refusal, or dies when the call failed otherwise.
func refused(n uint64, what string, err error) {
	code := refusal(err)
	if code == 0 {
		die("%s: %v", what, err)
	}
	jw("e %d %d", n, code)
}

func (a *actor) join(x, y int32) uint32 {
	n := nextN.Add(1)
	jw("s %d join %d %d %d", n, huntID, x, y)
	cx, cancel := ctx()
	defer cancel()
	id, err := conn.Join(cx, huntID, x, y)
	if err != nil {
		refused(n, "join", err)
		return 0
	}
	jw("a %d %d", n, id)
	return id
}

func (a *actor) move(p *player, x, y int32) {
	n := nextN.Add(1)
	jw("s %d move %d %d %d %d", n, huntID, p.id, x, y)
	cx, cancel := ctx()
	defer cancel()
	mv, err := conn.Move(cx, huntID, p.id, x, y)
	if err != nil {
		refused(n, "move", err)
		return
	}
	jw("a %d %d %d %d", n, mv.Outcome, mv.ClueID, mv.Score)
	if mv.PlayerID != p.id || mv.X != x || mv.Y != y {
		die("MOVED says player %d at %d,%d for a move of %d to %d,%d", mv.PlayerID, mv.X,
			mv.Y, p.id, x, y)
	}
	p.x, p.y, p.score = x, y, mv.Score
	if mv.Outcome == cairn.ClaimWon {
		p.claims++
		for i := range a.c {
			if a.c[i].id == mv.ClueID {
				a.c[i].claimed = true
			}
		}
	}
}

func (a *actor) place() {
	c := clue{x: a.in(a.x0, a.x1), y: a.in(a.y0, a.y1), value: 1 + a.rng.Int64N(100)}
	n := nextN.Add(1)
	jw("s %d place %d %d %d %d", n, huntID, c.x, c.y, c.value)
	cx, cancel := ctx()
	defer cancel()
	id, err := conn.CluePlace(cx, huntID, c.x, c.y, c.value)
	if err != nil {
		refused(n, "clue place", err)
		return
	}
	jw("a %d %d", n, id)
	c.id = id
	a.c = append(a.c, c)
}

func (a *actor) remove(i int) {
	n := nextN.Add(1)
	jw("s %d remove %d %d", n, huntID, a.c[i].id)
	cx, cancel := ctx()
	defer cancel()
	if _, err := conn.ClueRemove(cx, huntID, a.c[i].id); err != nil {
		refused(n, "clue remove", err)
		return
	}
	jw("a %d", n)
	a.c[i] = a.c[len(a.c)-1]
	a.c = a.c[:len(a.c)-1]
}

// rejoin makes player i leave and a new one take its place.
func (a *actor) rejoin(i int) {
	p := &a.p[i]
	n := nextN.Add(1)
	jw("s %d leave %d %d", n, huntID, p.id)
	cx, cancel := ctx()
	defer cancel()
	left, err := conn.Leave(cx, huntID, p.id)
	if err != nil {
		refused(n, "leave", err)
		return
	}
	jw("a %d", n)
	if left.Claims != p.claims || left.Score != p.score {
		die("LEFT says %d claims, score %d for player %d; acknowledged %d, %d", left.Claims,
			left.Score, p.id, p.claims, p.score)
	}
	q := player{x: a.in(a.x0, a.x1), y: a.in(a.y0, a.y1)}
	if q.id = a.join(q.x, q.y); q.id != 0 {
		*p = q
	} else {
		a.p[i] = a.p[len(a.p)-1]
		a.p = a.p[:len(a.p)-1]
	}
}

// query checks PLAYER_STATE against what the acknowledgements said, across restarts.
func (a *actor) query(p *player) {
	n := nextN.Add(1)
	cx, cancel := ctx()
	defer cancel()
	pi, err := conn.PlayerState(cx, huntID, p.id)
	if err != nil {
		die("PLAYER_STATE of player %d: %v", p.id, err)
	}
	jw("q %d %d %d %d %d %d", n, p.id, pi.X, pi.Y, pi.Claims, pi.Score)
	if pi.X != p.x || pi.Y != p.y || pi.Claims != p.claims || pi.Score != p.score {
		die("PLAYER_STATE of player %d: %d,%d, %d claims, score %d; acknowledged %d,%d, %d, %d",
			p.id, pi.X, pi.Y, pi.Claims, pi.Score, p.x, p.y, p.claims, p.score)
	}
}

var badKinds = []string{"unknown_hunt", "unknown_player", "off_map_move", "off_map_join",
	"unknown_clue", "unknown_map", "destroy_unknown", "bad_length", "bad_flags",
	"unknown_type", "garbage"}

// malformedOne sends one command that must be refused.
func (a *actor) malformedOne() {
	k := a.rng.IntN(len(badKinds))
	p := &a.p[a.rng.IntN(len(a.p))]
	bad := uint32(a.rng.IntN(badIDMax))
	x, y := a.in(a.x0, a.x1), a.in(a.y0, a.y1)
	n := nextN.Add(1)
	jw("m %d %s", n, badKinds[k])
	cx, cancel := ctx()
	defer cancel()
	var err error
	var m cairn.Msg
	switch k {
	case 0:
		_, err = conn.Move(cx, bad, p.id, x, y)
	case 1:
		_, err = conn.Move(cx, huntID, bad, x, y)
	case 2:
		off := 1 + a.rng.IntN(3) // off the left edge, the bottom one, or both
		if off&1 != 0 {
			x = -1 - int32(bad)
		}
		if off&2 != 0 {
			y = mapH + int32(bad&0xffff)
		}
		_, err = conn.Move(cx, huntID, p.id, x, y)
	case 3:
		_, err = conn.Join(cx, huntID, mapW+int32(bad&0xffff), y)
	case 4:
		_, err = conn.ClueRemove(cx, huntID, bad)
	case 5:
		_, err = conn.HuntCreate(cx, cairn.HuntParams{MapID: 1000 + bad})
	case 6:
		_, err = conn.HuntDestroy(cx, bad)
	case 7, 8:
		// A move of our own player to a valid place, spoiled by its header.
		m = cairn.MoveMsg(huntID, p.id, x, y)
		if k == 7 {
			if a.rng.IntN(2) == 0 {
				m.Length = uint8(a.rng.IntN(16))
			} else {
				m.Length = uint8(17 + a.rng.IntN(24))
			}
		} else {
			m.Flags = uint8(1 + a.rng.IntN(255))
		}
		_, err = conn.Call(cx, &m)
	case 9:
		m = cairn.Msg{Type: uint16(0x0100 + a.rng.IntN(0x7f00)),
			Length: uint8(a.rng.IntN(cairn.PayloadSize + 1))}
		_, err = conn.Call(cx, &m)
	default:
		// Noise of any type, with flags no message may have.
		m = cairn.Msg{Type: uint16(a.rng.Uint32()), Flags: uint8(a.rng.Uint32()) | 1,
			Length: uint8(a.rng.IntN(cairn.PayloadSize + 1))}
		if a.rng.IntN(2) == 0 {
			// Half of them of a command type of the schema, half of any type.
			m.Type = uint16(cairn.MsgPing + a.rng.IntN(cairn.MsgEvict))
		}
		for i := range m.Payload {
			m.Payload[i] = byte(a.rng.Uint32())
		}
		_, err = conn.Call(cx, &m)
	}
	if err == nil {
		jw("v %d %s type 0x%x", n, badKinds[k], m.Type)
		return
	}
	code := refusal(err)
	if code == 0 {
		die("malformed %s: %v", badKinds[k], err)
	}
	jw("r %d %d", n, code)
}

func (a *actor) unclaimed() int {
	var idx []int
	for i, c := range a.c {
		if !c.claimed {
			idx = append(idx, i)
		}
	}
	if len(idx) == 0 {
		return -1
	}
	return idx[a.rng.IntN(len(idx))]
}

func clamp(v, lo, hi int32) int32 { return max(lo, min(hi, v)) }

func (a *actor) step() {
	if len(a.p) > 0 && a.rng.IntN(100) < malformed {
		a.malformedOne()
		return
	}
	w := a.rng.IntN(100)
	if len(a.p) == 0 {
		w = 99 // only joining is left
	}
	var p *player
	if len(a.p) > 0 {
		p = &a.p[a.rng.IntN(len(a.p))]
	}
	switch {
	case w < 66:
		a.move(p, clamp(p.x+a.in(-stepMM, stepMM), a.x0, a.x1),
			clamp(p.y+a.in(-stepMM, stepMM), a.y0, a.y1))
	case w < 76:
		if i := a.unclaimed(); i >= 0 {
			a.move(p, a.c[i].x, a.c[i].y)
		} else if len(a.c) < maxClues {
			a.place()
		}
	case w < 84:
		if len(a.c) < maxClues {
			a.place()
		} else {
			a.remove(a.rng.IntN(len(a.c)))
		}
	case w < 89:
		if len(a.c) > 0 {
			a.remove(a.rng.IntN(len(a.c)))
		}
	case w < 93:
		for i := range a.p {
			if &a.p[i] == p {
				a.rejoin(i)
				break
			}
		}
	case w < 99:
		a.query(p)
	default:
		if len(a.p) < players {
			q := player{x: a.in(a.x0, a.x1), y: a.in(a.y0, a.y1)}
			if q.id = a.join(q.x, q.y); q.id != 0 {
				a.p = append(a.p, q)
			}
		}
	}
}

func (a *actor) run(done chan<- struct{}) {
	defer func() { done <- struct{}{} }()
	for len(a.p) < players && !stopping.Load() {
		q := player{x: a.in(a.x0, a.x1), y: a.in(a.y0, a.y1)}
		if q.id = a.join(q.x, q.y); q.id == 0 {
			break
		}
		a.p = append(a.p, q)
	}
	for !stopping.Load() {
		a.step()
	}
}

func main() {
	sock := flag.String("socket", "", "the daemon's socket")
	path := flag.String("journal", "", "the journal to append to")
	seed := flag.Uint64("seed", 1, "random seed")
	actors := flag.Int("actors", 4, "goroutines, each with its own players and clues")
	flag.IntVar(&players, "players", 4, "players per actor")
	flag.IntVar(&malformed, "malformed", 20, "percent of commands that are malformed")
	mapID := flag.Uint("map", 1, "the map of the hunt")
	flag.Parse()
	if *sock == "" || *path == "" || *actors < 1 || *actors > 64 || players < 1 ||
		malformed < 0 || malformed > 100 {
		flag.Usage()
		os.Exit(2)
	}
	var err error
	journal, err = os.OpenFile(*path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		fmt.Fprintf(os.Stderr, "cairn-chaos-host: %v\n", err)
		os.Exit(2)
	}
	jw("hello go %d", os.Getpid())

	// The first attach is retried: the daemon may be down, or killed in the middle of the
	// handshake. Only an attached connection reattaches by itself.
	for deadline := time.Now().Add(callTimeout); ; {
		cx, cancel := ctx()
		conn, err = cairn.DialContext(cx, *sock, &cairn.Options{Name: "chaos-host-go",
			ReconnectTimeout: callTimeout})
		cancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			die("attach: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	cx, cancel := ctx()
	n := nextN.Add(1)
	jw("s %d create %d", n, *mapID)
	h, err := conn.HuntCreate(cx, cairn.HuntParams{MapID: uint32(*mapID)})
	cancel()
	if err != nil {
		if code := refusal(err); code != 0 {
			jw("e %d %d", n, code)
		}
		die("HUNT_CREATE: %v", err)
	}
	jw("a %d %d", n, h.HuntID)
	huntID = h.HuntID
	mapW, mapH = int32(h.Width*h.CellMM), int32(h.Height*h.CellMM)
	stripe := mapW / int32(*actors)
	if stripe < 2*marginMM+1000 || mapH < 2*marginMM+1000 {
		die("map %d is too small for %d actors", *mapID, *actors)
	}

	go func() {
		io.Copy(io.Discard, os.Stdin)
		stopping.Store(true)
	}()
	done := make(chan struct{})
	for i := range *actors {
		a := &actor{rng: rand.New(rand.NewPCG(*seed, uint64(i))),
			x0: int32(i)*stripe + marginMM, x1: int32(i+1)*stripe - marginMM,
			y0: marginMM, y1: mapH - marginMM}
		go a.run(done)
	}
	for range *actors {
		<-done
	}
	jw("bye")
	conn.Close()
}
