// Command cairn-bench-go measures round trips through cairnd from Go: PING, MOVE, and
// a 56-byte write and read on a net.UnixConn to an echo server as the baseline, each
// from one goroutine with a spinning wait. Then MOVE throughput: K goroutines (a
// player each, joined next to the given one, on a second connection with the default
// options), each calling Conn.Move in a loop for a fixed time. It prints one line of
// JSON on stdout, in nanoseconds:
//
//	{"lang":"go","ping":{"n":..,"p50":..,"p90":..,"p99":..,"p999":..,"max":..,"mean":..},
//	 "move":{...},"socket":{...},"throughput_per_s":..,"parallelism":K,"throughput_moves":..}
//
// Usage:
//
//	cairn-bench-go --socket PATH --echo PATH --hunt ID --player ID [--samples N] [--warmup N]
//	               [--raw PREFIX] [--throughput-ms N] [--goroutines K]
//
// The hunt must be on map 0 and the player in it. The player is moved back and forth
// between (1500, 1500) and (2500, 1500) mm, or, if those are not passable, between two
// passable points near where it stands; the throughput's players join at the first of
// those and move between the same two. With --raw, every timed round trip of each
// series is written, once all timing is done, to PREFIX.ping, PREFIX.move and
// PREFIX.socket as little-endian uint64 nanoseconds, in the order they were taken.
// --throughput-ms 0 skips the throughput. Progress goes to stderr.
package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"sync"
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
	Max  int64   `json:"max"`
	Mean float64 `json:"mean"`
}

// summarize summarizes a sorted copy of ns; ns keeps the order the samples were taken in.
func summarize(samples []int64) stats {
	ns := slices.Clone(samples)
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
		Max: ns[len(ns)-1], Mean: float64(int64(sum/float64(len(ns))*10)) / 10}
}

func fail(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "cairn-bench-go: "+format+"\n", a...)
	os.Exit(1)
}

// measure runs f warmup times, then samples times, timing each. It returns the summary
// and the samples, in the order they were taken.
func measure(name string, warmup, samples int, f func() error) (stats, []int64) {
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
	return s, ns
}

// writeRaw writes samples to path as little-endian uint64s, in one write.
func writeRaw(path string, samples []int64) error {
	b := make([]byte, 0, 8*len(samples))
	for _, v := range samples {
		b = binary.LittleEndian.AppendUint64(b, uint64(v))
	}
	return os.WriteFile(path, b, 0o644)
}

// throughput joins k players at pts[0] and has k goroutines, one per player, call
// Move in a loop, between pts[0] and pts[1], until d has passed since the start (each
// finishes the call it is in). It returns how many moves were answered and in how
// long: from the start to the last goroutine's last answer. The players leave at the
// end.
func throughput(ctx context.Context, c *cairn.Conn, hunt uint32, pts [2][2]int32, k int,
	d time.Duration) (int64, time.Duration, error) {
	players := make([]uint32, k)
	for i := range players {
		p, err := c.Join(ctx, hunt, pts[0][0], pts[0][1])
		if err != nil {
			return 0, 0, fmt.Errorf("join %d of %d: %w", i+1, k, err)
		}
		players[i] = p
	}
	defer func() {
		for _, p := range players {
			c.Leave(ctx, hunt, p)
		}
	}()
	counts := make([]int64, k)
	errs := make([]error, k)
	var start, wg sync.WaitGroup
	var end time.Time
	start.Add(1)
	for g := range k {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start.Wait()
			n := int64(0)
			for time.Now().Before(end) {
				q := pts[(n+1)&1]
				if _, err := c.Move(ctx, hunt, players[g], q[0], q[1]); err != nil {
					errs[g] = err
					break
				}
				n++
			}
			counts[g] = n
		}()
	}
	t0 := time.Now()
	end = t0.Add(d)
	start.Done()
	wg.Wait()
	took := time.Since(t0)
	total := int64(0)
	for g := range k {
		if errs[g] != nil {
			return 0, 0, errs[g]
		}
		total += counts[g]
	}
	return total, took, nil
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
	raw := flag.String("raw", "", "write every timed round trip to `PREFIX`.ping, .move and .socket (little-endian uint64 ns)")
	tputMs := flag.Int("throughput-ms", 2000, "how long to measure MOVE throughput, ms (0: skip)")
	goroutines := flag.Int("goroutines", 64, "goroutines calling Move at once for the throughput, a player each")
	flag.Parse()
	if *echo == "" || *hunt == 0 || *player == 0 || *samples <= 0 || *warmup < 0 || *tputMs < 0 ||
		*goroutines <= 0 || flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: cairn-bench-go --socket PATH --echo PATH --hunt ID --player ID [--samples N] [--warmup N]\n"+
			"                      [--raw PREFIX] [--throughput-ms N] [--goroutines K]")
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
		Lang        string  `json:"lang"`
		Ping        stats   `json:"ping"`
		Move        stats   `json:"move"`
		Socket      stats   `json:"socket"`
		PerS        float64 `json:"throughput_per_s,omitempty"`
		Parallelism int     `json:"parallelism,omitempty"`
		Moves       int64   `json:"throughput_moves,omitempty"`
	}
	var rawPing, rawMove, rawSocket []int64
	out.Lang = "go"
	out.Ping, rawPing = measure("ping", *warmup, *samples, func() error { return c.Ping(ctx) })

	pts, err := movePoints(ctx, c, h, p)
	if err != nil {
		fail("move: %v", err)
	}
	fmt.Fprintf(os.Stderr, "cairn-bench-go: moving player %d between (%d, %d) and (%d, %d)\n",
		p, pts[0][0], pts[0][1], pts[1][0], pts[1][1])
	i := 0
	out.Move, rawMove = measure("move", *warmup, *samples, func() error {
		i ^= 1
		_, err := c.Move(ctx, h, p, pts[i][0], pts[i][1])
		return err
	})

	conn, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: *echo, Net: "unix"})
	if err != nil {
		fail("echo server: %v", err)
	}
	defer conn.Close()
	rawConn, err := conn.SyscallConn()
	if err != nil {
		fail("echo server: %v", err)
	}
	buf := make([]byte, cairn.MsgSize)
	out.Socket, rawSocket = measure("socket", *warmup, *samples, func() error { return socketRoundTrip(conn, rawConn, buf) })

	if *tputMs > 0 {
		// A connection as a Go program would open it: the default spin, so that a
		// waiting goroutine gives way to the others.
		tc, err := cairn.DialContext(ctx, *sock, &cairn.Options{Name: "cairn-bench-go"})
		if err != nil {
			fail("attach: %v", err)
		}
		d := time.Duration(*tputMs) * time.Millisecond
		fmt.Fprintf(os.Stderr, "cairn-bench-go: throughput: %d goroutines calling Move for %v\n", *goroutines, d)
		n, took, err := throughput(ctx, tc, h, pts, *goroutines, d)
		tc.Close()
		if err != nil {
			fail("throughput: %v", err)
		}
		out.Moves, out.Parallelism = n, *goroutines
		out.PerS = float64(int64(float64(n) / took.Seconds()))
		fmt.Fprintf(os.Stderr, "cairn-bench-go: throughput: %d moves in %v: %.0f/s\n", n, took, out.PerS)
	}

	if *raw != "" {
		for _, f := range []struct {
			ext string
			v   []int64
		}{{"ping", rawPing}, {"move", rawMove}, {"socket", rawSocket}} {
			if err := writeRaw(*raw+"."+f.ext, f.v); err != nil {
				fail("raw samples: %v", err)
			}
		}
	}

	line, _ := json.Marshal(out)
	fmt.Println(string(line))
}
