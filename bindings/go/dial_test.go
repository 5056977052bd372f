package cairn

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"net"
	"path/filepath"
	"strings"
	"testing"
)

func TestDialBadPath(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nobody-here.sock")
	_, err := Dial(path)
	if err == nil {
		t.Fatal("Dial of a missing socket succeeded")
	}
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), path) {
		t.Fatalf("Dial(%s): %v; want a not-exist error naming the path", path, err)
	}
	long := "/" + strings.Repeat("x", 200)
	if _, err := Dial(long); err == nil || !strings.Contains(err.Error(), "too long") {
		t.Fatalf("Dial of a too-long path: %v", err)
	}
}

// TestDialVersionMismatch: a daemon that speaks another major version is refused with
// ErrVersion, whichever side notices.
func TestDialVersionMismatch(t *testing.T) {
	// A fake daemon that answers with a welcome of major version ProtoMajor + 1.
	path := filepath.Join(t.TempDir(), "fake.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		hello := make([]byte, HelloSize+HelloSessionSize)
		if _, err := io.ReadFull(conn, hello); err != nil {
			return
		}
		w := make([]byte, WelcomeSize)
		le.PutUint64(w[WelcomeOffMagic:], WelcomeMagic)
		le.PutUint16(w[WelcomeOffVersionMajor:], ProtoMajor+1)
		copy(w[WelcomeOffSessionId:], hello[HelloSize+HelloSessionOffSessionId:][:8])
		conn.Write(w)
	}()
	_, err = Dial(path)
	if !errors.Is(err, ErrVersion) || !strings.Contains(err.Error(), "protocol") {
		t.Fatalf("Dial of a newer daemon: %v, want ErrVersion", err)
	}

	// The real daemon, sent a hello of another major version.
	d := startDaemon(t)
	_, err = dial(context.Background(), d.sock, nil, ProtoMajor+1)
	if !errors.Is(err, ErrVersion) {
		t.Fatalf("hello with major %d: %v, want ErrVersion", ProtoMajor+1, err)
	}
	// And the daemon still serves clients that speak its version.
	c := d.dial(t, nil)
	if err := c.Ping(ctxT(t)); err != nil {
		t.Fatal(err)
	}
}

func TestClosed(t *testing.T) {
	d := startDaemon(t)
	c := d.dial(t, nil)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Ping(ctxT(t)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Ping after Close: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}
