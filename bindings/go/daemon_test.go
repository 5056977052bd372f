package cairn

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// testDaemon is a cairnd started by a test, in a directory of its own.
type testDaemon struct {
	t    *testing.T
	dir  string
	sock string
	args []string
	cmd  *exec.Cmd
	exit chan struct{} // closed when cmd has exited
	log  *os.File
	runs int
}

// cairndPath returns the daemon to test against, from $CAIRND, or fails the test
// saying how to set it.
func cairndPath(t *testing.T) string {
	t.Helper()
	p := os.Getenv("CAIRND")
	if p == "" {
		t.Fatal("CAIRND is not set: build cairnd (meson setup build-go && ninja -C build-go src/cairnd, " +
			"from the repository root) and run the tests with CAIRND=/absolute/path/to/build-go/src/cairnd go test ./...")
	}
	if !filepath.IsAbs(p) {
		t.Fatalf("CAIRND must be an absolute path, not %q", p)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("CAIRND=%s: %v", p, err)
	}
	return p
}

// startDaemon starts cairnd with the test's flags plus extra, and stops it (SIGTERM,
// wait) when the test ends. Durability is off unless extra says otherwise.
func startDaemon(t *testing.T, extra ...string) *testDaemon {
	t.Helper()
	bin := cairndPath(t)
	dir := t.TempDir()
	d := &testDaemon{t: t, dir: dir, sock: filepath.Join(dir, "s")}
	d.args = append([]string{bin, "--socket", d.sock, "--data-dir", filepath.Join(dir, "data"),
		"--table-max-cells", "0", "--max-hunts", "256", "--max-entities", "65536",
		"--max-clients", "16"}, extra...)
	hasDurability := false
	for _, a := range extra {
		if a == "--durability" {
			hasDurability = true
		}
	}
	if !hasDurability {
		d.args = append(d.args, "--durability", "none")
	}
	d.start()
	t.Cleanup(d.stop)
	return d
}

func (d *testDaemon) start() {
	d.t.Helper()
	d.runs++
	var err error
	d.log, err = os.Create(filepath.Join(d.dir, fmt.Sprintf("cairnd.%d.log", d.runs)))
	if err != nil {
		d.t.Fatal(err)
	}
	os.Remove(d.sock)
	d.cmd = exec.Command(d.args[0], d.args[1:]...)
	d.cmd.Stdout = d.log
	d.cmd.Stderr = d.log
	if err := d.cmd.Start(); err != nil {
		d.t.Fatalf("start %s: %v", d.args[0], err)
	}
	d.exit = make(chan struct{})
	go func(cmd *exec.Cmd, exit chan struct{}) {
		cmd.Wait()
		close(exit)
	}(d.cmd, d.exit)
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := DialContext(context.Background(), d.sock, &Options{ReconnectTimeout: -1})
		if err == nil {
			c.Close()
			return
		}
		exited := false
		select {
		case <-d.exit:
			exited = true
		default:
		}
		if exited || time.Now().After(deadline) {
			d.stop()
			d.t.Fatalf("cairnd did not come up at %s: %v\n%s", d.sock, err, d.logText())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (d *testDaemon) logText() string {
	b, _ := os.ReadFile(d.log.Name())
	return string(b)
}

// stop sends SIGTERM and waits for the daemon to exit.
func (d *testDaemon) stop() {
	if d.cmd == nil || d.cmd.Process == nil {
		return
	}
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.exit:
	case <-time.After(10 * time.Second):
		d.cmd.Process.Kill()
		<-d.exit
	}
	d.cmd = nil
	d.log.Close()
}

// kill stops the daemon at once (SIGKILL), as a crash would.
func (d *testDaemon) kill() {
	if d.cmd == nil {
		return
	}
	d.cmd.Process.Kill()
	<-d.exit
	d.cmd = nil
	d.log.Close()
}

// dial connects a client to d, closed when the test ends.
func (d *testDaemon) dial(t *testing.T, opts *Options) *Conn {
	t.Helper()
	c, err := DialContext(context.Background(), d.sock, opts)
	if err != nil {
		t.Fatalf("dial %s: %v", d.sock, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}
