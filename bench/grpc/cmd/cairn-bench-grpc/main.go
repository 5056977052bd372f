// Command cairn-bench-grpc measures cairn's engine served over gRPC (cairn-grpc-server):
// unary round trips of PING and of MOVE from one goroutine, then the throughput of
// MOVEs pipelined on one bidirectional stream. It prints one line of JSON on stdout, in
// nanoseconds (throughput in results per second):
//
//	{"lang":"grpc","ping":{"n":..,"p50":..,"p90":..,"p99":..,"p999":..,"mean":..,"max":..},"move":{...},"throughput_per_s":..}
//
// Usage:
//
//	cairn-bench-grpc --target unix:/path|HOST:PORT --socket CAIRND_SOCKET [--hunt ID --player ID]
//	                 [--samples N] [--warmup N] [--stream N] [--spawn-server BIN [--server-cpu N]]
//	                 [--raw PREFIX]
//
// The bench attaches to cairnd itself (--socket) only to set the stage: to find two
// passable points for the player, as cairn-bench-go does, or, without --hunt and
// --player, to make a hunt on map 0 and a player on its first passable cell. With
// --spawn-server it starts BIN --socket .. --listen TARGET (on a private Unix socket
// when --target is not given), under taskset when --server-cpu is given, and stops it
// at the end. With --raw it also writes every timed round trip to PREFIX.ping and
// PREFIX.move, as little-endian uint64 nanoseconds (cairn-bench baselines reads them, so
// that every transport's percentiles come from one piece of code). Progress goes to
// stderr.
package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"time"

	"cairn.dev/bench/grpc/wire"
	"cairn.dev/cairn"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

type stats struct {
	N    int     `json:"n"`
	P50  int64   `json:"p50"`
	P90  int64   `json:"p90"`
	P99  int64   `json:"p99"`
	P999 int64   `json:"p999"`
	Mean float64 `json:"mean"`
	Max  int64   `json:"max"`
}

func summarize(ns []int64) stats {
	slices.Sort(ns)
	pct := func(p float64) int64 { return ns[int(p*float64(len(ns)-1))] }
	var sum float64
	for _, v := range ns {
		sum += float64(v)
	}
	return stats{N: len(ns), P50: pct(0.50), P90: pct(0.90), P99: pct(0.99), P999: pct(0.999),
		Mean: float64(int64(sum/float64(len(ns))*10)) / 10, Max: ns[len(ns)-1]}
}

var child *exec.Cmd

func fail(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "cairn-bench-grpc: "+format+"\n", a...)
	stopServer()
	os.Exit(1)
}

func logf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "cairn-bench-grpc: "+format+"\n", a...)
}

// rawPrefix, when set, names the files every timed sample is written to (PREFIX.ping,
// PREFIX.move: little-endian uint64 nanoseconds, in the order taken), so that
// cairn-bench computes every transport's percentiles with the same code.
var rawPrefix string

// writeRaw writes ns to rawPrefix.name, after the timing is over.
func writeRaw(name string, ns []int64) {
	if rawPrefix == "" {
		return
	}
	buf := make([]byte, 8*len(ns))
	for i, v := range ns {
		binary.LittleEndian.PutUint64(buf[8*i:], uint64(v))
	}
	if err := os.WriteFile(rawPrefix+"."+name, buf, 0o644); err != nil {
		fail("--raw: %v", err)
	}
}

// measure runs f warmup times, then samples times, timing each.
func measure(name string, warmup, samples int, f func() error) stats {
	logf("%s: %d warm-up, %d samples", name, warmup, samples)
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
	writeRaw(name, ns)
	s := summarize(ns)
	logf("%s: p50 %d ns, p99 %d ns", name, s.P50, s.P99)
	return s
}

// stage makes a hunt on map 0 and a player on its first passable cell, as
// cairn-bench bindings does.
func stage(ctx context.Context, c *cairn.Conn) (uint32, uint32, error) {
	h, err := c.HuntCreate(ctx, cairn.HuntParams{})
	if err != nil {
		return 0, 0, fmt.Errorf("hunt: %w", err)
	}
	for y := int32(500); y < 96000; y += 1000 {
		for x := int32(500); x < 128000; x += 1000 {
			if p, err := c.Join(ctx, h.HuntID, x, y); err == nil {
				return h.HuntID, p, nil
			}
		}
	}
	return 0, 0, errors.New("no passable cell to join on")
}

// movePoints finds two passable points for the player: (1500, 1500) and (2500, 1500),
// or, if the map refuses them, neighbours of where it stands (as cairn-bench-go).
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

// expect checks a result: the reply type, or the engine's refusal as an error.
func expect(res *cairn.Msg, reply uint16) error {
	if res.Type == cairn.MsgError {
		return fmt.Errorf("daemon answered ERROR %d", res.Status)
	}
	if res.Type != reply {
		return fmt.Errorf("result of type %d, want %d", res.Type, reply)
	}
	return nil
}

// streamThroughput sends n MOVEs on one stream from one goroutine while another reads
// the results, and returns results per second. gRPC's flow control bounds how many are
// in flight.
func streamThroughput(ctx context.Context, cc *grpc.ClientConn, n int, cmds [2]cairn.Msg) (float64, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	st, err := cc.NewStream(ctx, wire.StreamDesc, wire.StreamMethod)
	if err != nil {
		return 0, err
	}
	sent := make(chan error, 1)
	t0 := time.Now()
	go func() {
		for i := 0; i < n; i++ {
			// A new Msg each time: gRPC may still hold the last one (see wire).
			m := new(cairn.Msg)
			*m = cmds[i&1]
			m.RequestID = uint64(i)
			if err := st.SendMsg(m); err != nil {
				sent <- err
				return
			}
		}
		sent <- st.CloseSend()
	}()
	var res cairn.Msg
	for i := 0; i < n; i++ {
		if err := st.RecvMsg(&res); err != nil {
			return 0, fmt.Errorf("result %d: %w", i, err)
		}
		if res.RequestID != uint64(i) {
			return 0, fmt.Errorf("result %d carries request id %d", i, res.RequestID)
		}
		if err := expect(&res, cairn.MsgMoved); err != nil {
			return 0, err
		}
	}
	el := time.Since(t0)
	if err := <-sent; err != nil {
		return 0, err
	}
	if err := st.RecvMsg(&res); err != io.EOF {
		return 0, fmt.Errorf("end of stream: %v", err)
	}
	return float64(n) / el.Seconds(), nil
}

func startServer(bin, sock, target string, cpu int) error {
	args := []string{bin, "--socket", sock, "--listen", target}
	if cpu >= 0 {
		args = append([]string{"taskset", "-c", strconv.Itoa(cpu)}, args...)
	}
	child = exec.Command(args[0], args[1:]...)
	child.Stdout = os.Stderr
	child.Stderr = os.Stderr
	logf("starting %v", args)
	return child.Start()
}

func stopServer() {
	if child == nil || child.Process == nil {
		return
	}
	child.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { child.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		child.Process.Kill()
		<-done
	}
	child = nil
}

func main() {
	target := flag.String("target", "", "the gRPC server: unix:/path or host:port")
	sock := flag.String("socket", "", "cairnd's socket, to set the stage (default: the binding's default path)")
	hunt := flag.Uint("hunt", 0, "a hunt on map 0 (default: make one)")
	player := flag.Uint("player", 0, "a player in that hunt (default: make one)")
	samples := flag.Int("samples", 200000, "round trips timed per measurement")
	warmup := flag.Int("warmup", 20000, "round trips before timing")
	streamN := flag.Int("stream", 200000, "MOVEs sent on one stream for the throughput (0: skip)")
	spawn := flag.String("spawn-server", "", "start this cairn-grpc-server binary, and stop it at the end")
	serverCPU := flag.Int("server-cpu", -1, "with --spawn-server: run it under taskset -c N")
	flag.StringVar(&rawPrefix, "raw", "", "write every timed round trip to `PREFIX`.ping and PREFIX.move (uint64 ns, little-endian)")
	flag.Parse()
	if (*target == "" && *spawn == "") || (*hunt == 0) != (*player == 0) || *samples <= 0 ||
		*warmup < 0 || *streamN < 0 || flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: cairn-bench-grpc --target unix:/path|host:port --socket PATH [--hunt ID --player ID] [--samples N] [--warmup N] [--stream N] [--spawn-server BIN [--server-cpu N]] [--raw PREFIX]")
		os.Exit(2)
	}
	ctx := context.Background()

	c, err := cairn.DialContext(ctx, *sock, &cairn.Options{Name: "cairn-bench-grpc"})
	if err != nil {
		fail("attach: %v", err)
	}
	defer c.Close()
	h, p := uint32(*hunt), uint32(*player)
	if h == 0 {
		if h, p, err = stage(ctx, c); err != nil {
			fail("stage: %v", err)
		}
		logf("made hunt %d, player %d", h, p)
	}
	pts, err := movePoints(ctx, c, h, p)
	if err != nil {
		fail("move: %v", err)
	}
	logf("moving player %d between (%d, %d) and (%d, %d)", p, pts[0][0], pts[0][1], pts[1][0], pts[1][1])

	if *spawn != "" {
		if *target == "" {
			dir, err := os.MkdirTemp("", "cairn-bench-grpc-")
			if err != nil {
				fail("%v", err)
			}
			defer os.RemoveAll(dir)
			*target = "unix:" + filepath.Join(dir, "grpc.sock")
		}
		if err := startServer(*spawn, *sock, *target, *serverCPU); err != nil {
			fail("start server: %v", err)
		}
		defer stopServer()
	}

	cc, err := grpc.NewClient(*target,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.CallContentSubtype(wire.Name)))
	if err != nil {
		fail("client: %v", err)
	}
	defer cc.Close()
	// The first call waits for the server to come up (a spawned one may still start).
	var req, res cairn.Msg
	req = cairn.Msg{Type: cairn.MsgPing, Length: cairn.MsgPingLenMin}
	wctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	err = cc.Invoke(wctx, wire.CallMethod, &req, &res, grpc.WaitForReady(true))
	cancel()
	if err == nil {
		err = expect(&res, cairn.MsgPong)
	}
	if err != nil {
		fail("first call to %s: %v", *target, err)
	}

	var out struct {
		Lang       string  `json:"lang"`
		Ping       stats   `json:"ping"`
		Move       stats   `json:"move"`
		Throughput float64 `json:"throughput_per_s,omitempty"`
	}
	out.Lang = "grpc"

	// One request and one result, reused: Invoke returns after the request was written.
	ping := req
	out.Ping = measure("ping", *warmup, *samples, func() error {
		req = ping
		if err := cc.Invoke(ctx, wire.CallMethod, &req, &res); err != nil {
			return err
		}
		return expect(&res, cairn.MsgPong)
	})

	moves := [2]cairn.Msg{
		cairn.MoveMsg(h, p, pts[0][0], pts[0][1]),
		cairn.MoveMsg(h, p, pts[1][0], pts[1][1]),
	}
	i := 0
	out.Move = measure("move", *warmup, *samples, func() error {
		i ^= 1
		req = moves[i]
		if err := cc.Invoke(ctx, wire.CallMethod, &req, &res); err != nil {
			return err
		}
		return expect(&res, cairn.MsgMoved)
	})

	if *streamN > 0 {
		logf("stream: %d MOVEs on one stream", *streamN)
		if _, err := streamThroughput(ctx, cc, min(*streamN, 20000), moves); err != nil {
			fail("stream: %v", err)
		}
		if out.Throughput, err = streamThroughput(ctx, cc, *streamN, moves); err != nil {
			fail("stream: %v", err)
		}
		out.Throughput = float64(int64(out.Throughput))
		logf("stream: %.0f results/s", out.Throughput)
	}

	line, _ := json.Marshal(out)
	fmt.Println(string(line))
}
