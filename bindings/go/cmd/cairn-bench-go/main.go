// Command cairn-bench-go measures round trips through cairnd from Go: PING, MOVE, and
// a 56-byte write and read on a net.UnixConn to an echo server as the baseline, each
// from one goroutine with a spinning wait. It prints one line of JSON on stdout, in
// nanoseconds:
//
//	{"lang":"go","ping":{"n":..,"p50":..,"p90":..,"p99":..,"p999":..,"mean":..},"move":{...},"socket":{...}}
//
// Usage:
//
//	cairn-bench-go --socket PATH --echo PATH --hunt ID --player ID [--samples N] [--warmup N]
//
// The hunt must be on map 0 and the player in it. The player is moved back and forth
// between (1500, 1500) and (2500, 1500) mm, or, if those are not passable, between two
// passable points near where it stands. Progress goes to stderr.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"syscall"
	"time"

	"cairn.dev/cairn"
)

type stats struct {
	N    int     `json:"n"`
	P50  int64   `json:"p50"`
	P90  int64   `json:"p90"`
	P99  int64   `json:"p99"`
	P999 int64   `json:"p999"`
	Mean float64 `json:"mean"`
}

func summarize(ns []int64) stats {
	slices.Sort(ns)
	pct := func(p float64) int64 {
		i := int(p * float64(len(ns)-1))
		return ns[i]
	}
	var sum float64
	for _, v := range ns {
		sum += float64(v)
	}
	return stats{N: len(ns), P50: pct(0.50), P90: pct(0.90), P99: pct(0.99), P999: pct(0.999),
		Mean: float64(int64(sum/float64(len(ns))*10)) / 10}
}

func fail(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "cairn-bench-go: "+format+"\n", a...)
	os.Exit(1)
}

// measure runs f warmup times, then samples times, timing each.
func measure(name string, warmup, samples int, f func() error) stats {
	fmt.Fprintf(os.Stderr, "cairn-bench-go: %s: %d warm-up, %d samples\n", name, warmup, samples)
	for i := 0; i < warmup; i++ {
		if err := f(); err != nil {
			fail("%s: %v", name, err)
		}
	}
	ns := make([]int64, samples)
	for i := range ns {
		t0 := time.Now()
		if err := f(); err != nil {
			fail("%s: %v", name, err)
		}
		ns[i] = int64(time.Since(t0))
	}
	s := summarize(ns)
	fmt.Fprintf(os.Stderr, "cairn-bench-go: %s: p50 %d ns, p99 %d ns\n", name, s.P50, s.P99)
	return s
}

// movePoints finds two passable points for the player: the usual ones, or, if the map
// refuses them, neighbours of where it stands.
func movePoints(ctx context.Context, c *cairn.Conn, hunt, player uint32) ([2][2]int32, error) {
	pts := [2][2]int32{{1500, 1500}, {2500, 1500}}
	ok := true
	for _, p := range pts {
		if _, err := c.Move(ctx, hunt, player, p[0], p[1]); err != nil {
			if errors.Is(err, cairn.ErrBlocked) || errors.Is(err, cairn.ErrOffMap) {
				ok = false
				break
			}
			return pts, err
		}
	}
	if ok {
		return pts, nil
	}
	st, err := c.PlayerState(ctx, hunt, player)
	if err != nil {
		return pts, err
	}
	pts[0] = [2]int32{st.X, st.Y}
	for _, d := range [][2]int32{{1000, 0}, {-1000, 0}, {0, 1000}, {0, -1000}, {1000, 1000}, {-1000, -1000}} {
		q := [2]int32{st.X + d[0], st.Y + d[1]}
		if _, err := c.Move(ctx, hunt, player, q[0], q[1]); err == nil {
			pts[1] = q
			_, err = c.Move(ctx, hunt, player, pts[0][0], pts[0][1])
			return pts, err
		}
	}
	return pts, fmt.Errorf("no passable point next to (%d, %d)", st.X, st.Y)
}

// socketRoundTrip writes 56 bytes and reads them back, spinning on the non-blocking
// descriptor instead of parking in the netpoller.
func socketRoundTrip(conn *net.UnixConn, raw syscall.RawConn, buf []byte) error {
	if _, err := conn.Write(buf); err != nil {
		return err
	}
	got := 0
	var rerr error
	err := raw.Read(func(fd uintptr) bool {
		for got < len(buf) {
			n, err := syscall.Read(int(fd), buf[got:])
			if err == syscall.EAGAIN || err == syscall.EINTR {
				continue
			}
			if err != nil {
				rerr = err
				return true
			}
			if n == 0 {
				rerr = io.ErrUnexpectedEOF
				return true
			}
			got += n
		}
		return true
	})
	if err != nil {
		return err
	}
	return rerr
}

func main() {
	sock := flag.String("socket", "", "cairnd's socket (default: the default path)")
	echo := flag.String("echo", "", "a Unix-socket echo server speaking 56-byte messages (required)")
	hunt := flag.Uint("hunt", 0, "a hunt on map 0 (required)")
	player := flag.Uint("player", 0, "a player in that hunt (required)")
	samples := flag.Int("samples", 200000, "round trips timed per measurement")
	warmup := flag.Int("warmup", 20000, "round trips before timing")
	flag.Parse()
	if *echo == "" || *hunt == 0 || *player == 0 || *samples <= 0 || *warmup < 0 {
		fmt.Fprintln(os.Stderr, "usage: cairn-bench-go --socket PATH --echo PATH --hunt ID --player ID [--samples N] [--warmup N]")
		os.Exit(2)
	}
	ctx := context.Background()
	// A spin longer than any round trip: the waits never sleep.
	c, err := cairn.DialContext(ctx, *sock, &cairn.Options{Spin: time.Second, Name: "cairn-bench-go"})
	if err != nil {
		fail("attach: %v", err)
	}
	defer c.Close()
	h, p := uint32(*hunt), uint32(*player)

	var out struct {
		Lang   string `json:"lang"`
		Ping   stats  `json:"ping"`
		Move   stats  `json:"move"`
		Socket stats  `json:"socket"`
	}
	out.Lang = "go"
	out.Ping = measure("ping", *warmup, *samples, func() error { return c.Ping(ctx) })

	pts, err := movePoints(ctx, c, h, p)
	if err != nil {
		fail("move: %v", err)
	}
	fmt.Fprintf(os.Stderr, "cairn-bench-go: moving player %d between (%d, %d) and (%d, %d)\n",
		p, pts[0][0], pts[0][1], pts[1][0], pts[1][1])
	i := 0
	out.Move = measure("move", *warmup, *samples, func() error {
		i ^= 1
		_, err := c.Move(ctx, h, p, pts[i][0], pts[i][1])
		return err
	})

	conn, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: *echo, Net: "unix"})
	if err != nil {
		fail("echo server: %v", err)
	}
	defer conn.Close()
	raw, err := conn.SyscallConn()
	if err != nil {
		fail("echo server: %v", err)
	}
	buf := make([]byte, cairn.MsgSize)
	out.Socket = measure("socket", *warmup, *samples, func() error { return socketRoundTrip(conn, raw, buf) })

	line, _ := json.Marshal(out)
	fmt.Println(string(line))
}
