package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"cairn.dev/cairn"
)

// The test binary is the program too: with CAIRN_BENCH_GO_MAIN=1 it runs main, so that
// the tests run it as cairn-bench bindings does, without building it.
func TestMain(m *testing.M) {
	if os.Getenv("CAIRN_BENCH_GO_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// startDaemon starts $CAIRND in dir and returns its socket; it is stopped at the end.
func startDaemon(t *testing.T, dir string) string {
	t.Helper()
	bin := os.Getenv("CAIRND")
	if bin == "" || !filepath.IsAbs(bin) {
		t.Fatal("CAIRND is not set to an absolute path: run the tests with " +
			"CAIRND=/absolute/path/to/build/src/cairnd go test ./...")
	}
	sock := filepath.Join(dir, "s")
	log, err := os.Create(filepath.Join(dir, "cairnd.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--socket", sock, "--data-dir", filepath.Join(dir, "data"),
		"--durability", "none", "--table-max-cells", "0")
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		log.Close()
	})
	for deadline := time.Now().Add(15 * time.Second); ; {
		c, err := cairn.DialContext(context.Background(), sock, &cairn.Options{ReconnectTimeout: -1})
		if err == nil {
			c.Close()
			return sock
		}
		select {
		case <-exited:
			t.Fatalf("cairnd exited: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("cairnd did not come up at %s: %v", sock, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// echoServer echoes what each connection sends, one connection after another.
func echoServer(t *testing.T, path string) {
	t.Helper()
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			io.Copy(c, c)
			c.Close()
		}
	}()
}

func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "CAIRN_BENCH_GO_MAIN=1")
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if e, ok := err.(*exec.ExitError); ok {
		code = e.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, stdout.String(), stderr.String()
}

// The JSON line, the --raw files (every timed sample, little-endian uint64 ns) and the
// throughput.
func TestBench(t *testing.T) {
	dir := t.TempDir()
	sock := startDaemon(t, dir)
	echo := filepath.Join(dir, "echo")
	echoServer(t, echo)
	ctx := context.Background()
	c, err := cairn.DialContext(ctx, sock, nil)
	if err != nil {
		t.Fatal(err)
	}
	h, err := c.HuntCreate(ctx, cairn.HuntParams{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.Join(ctx, h.HuntID, 1500, 1500)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	rawDir := filepath.Join(dir, "raw")
	if err := os.Mkdir(rawDir, 0o755); err != nil {
		t.Fatal(err)
	}
	raw := filepath.Join(rawDir, "go")
	const n = 2000
	code, stdout, stderr := run(t, "--socket", sock, "--echo", echo, "--hunt", itoa(h.HuntID),
		"--player", itoa(p), "--samples", itoa(n), "--warmup", "100", "--raw", raw,
		"--throughput-ms", "200", "--goroutines", "8")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) != 1 {
		t.Fatalf("%d lines on stdout, not 1:\n%s", len(lines), stdout)
	}
	var res map[string]json.RawMessage
	if err := json.Unmarshal([]byte(lines[0]), &res); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"ping", "move", "socket"} {
		var s stats
		if err := json.Unmarshal(res[k], &s); err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		if s.N != n || s.P50 <= 0 || s.P50 > s.P90 || s.P90 > s.P99 || s.P99 > s.P999 || s.P999 > s.Max {
			t.Errorf("%s: %+v", k, s)
		}
		// Every timed sample, 8 bytes each, nonzero and below a second: the very samples
		// the summary was computed from.
		b, err := os.ReadFile(raw + "." + k)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) != 8*n {
			t.Fatalf("%s: %d bytes, not %d", k, len(b), 8*n)
		}
		v := make([]int64, n)
		for i := range v {
			v[i] = int64(binary.LittleEndian.Uint64(b[8*i:]))
			if v[i] <= 0 || v[i] >= int64(time.Second) {
				t.Fatalf("%s: sample %d is %d ns", k, i, v[i])
			}
		}
		if slices.Max(v) != s.Max {
			t.Errorf("%s: the largest raw sample is %d ns, the JSON's max %d ns", k, slices.Max(v), s.Max)
		}
		if got := summarize(v); got != s {
			t.Errorf("%s: the raw samples summarize to %+v, the JSON says %+v", k, got, s)
		}
	}
	ents, _ := os.ReadDir(rawDir)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if !slices.Equal(names, []string{"go.move", "go.ping", "go.socket"}) {
		t.Errorf("raw files: %v", names)
	}
	var par, moves int64
	var perS float64
	json.Unmarshal(res["parallelism"], &par)
	json.Unmarshal(res["throughput_moves"], &moves)
	json.Unmarshal(res["throughput_per_s"], &perS)
	if par != 8 || moves <= 0 || perS <= 0 || perS > float64(moves)/0.2 {
		t.Errorf("throughput: parallelism %d, %d moves, %.0f/s", par, moves, perS)
	}
}

func TestBadOptions(t *testing.T) {
	for _, bad := range [][]string{{"--goroutines", "0"}, {"--throughput-ms", "-1"}, {"--raw"}} {
		args := append([]string{"--echo", "e", "--hunt", "1", "--player", "1"}, bad...)
		if code, _, stderr := run(t, args...); code != 2 {
			t.Errorf("%v: exit %d, not 2\n%s", bad, code, stderr)
		}
	}
}

func itoa[T int | uint32](v T) string {
	return strconv.FormatInt(int64(v), 10)
}
