// Command cairn-grpc-server serves cairn's engine over gRPC: every message a client sends
// on /cairn.Game/Call or /cairn.Game/Stream is forwarded to cairnd through the Go
// binding as it is, and the daemon's result goes back as it is (an ERROR result
// included). It is the transport baseline of the benchmark report: the same engine, the
// same 56-byte messages, with gRPC over HTTP/2 in front instead of shared-memory rings.
//
// Usage:
//
//	cairn-grpc-server --socket CAIRND_SOCKET --listen unix:/path | HOST:PORT [--spin D]
//
// It runs until SIGINT or SIGTERM, then stops accepting, lets calls under way finish
// (for up to 5 s) and detaches.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"cairn.dev/bench/grpc/wire"
	"cairn.dev/cairn"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// server forwards to one attached connection, which is safe for every handler
// goroutine at once and takes no lock on a PING's or a MOVE's way.
type server struct {
	conn *cairn.Conn
}

// forward sends cmd to cairnd and writes the result over it, with the client's request
// id put back (the binding assigns its own). An ERROR result is a result, not a gRPC
// error: only a failure to reach the daemon is.
func (s *server) forward(ctx context.Context, cmd *cairn.Msg) error {
	id := cmd.RequestID
	res, err := s.conn.Call(ctx, cmd)
	var refused *cairn.Error
	if err != nil && !errors.As(err, &refused) {
		switch {
		case errors.Is(err, cairn.ErrInvalid):
			return status.Error(codes.InvalidArgument, err.Error())
		case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
			return status.FromContextError(ctx.Err()).Err()
		default:
			return status.Error(codes.Unavailable, err.Error())
		}
	}
	*cmd = res
	cmd.RequestID = id
	return nil
}

// Call answers in the command's own message, which the handler allocated for this call
// alone: no second allocation for the result.
func (s *server) Call(ctx context.Context, cmd *cairn.Msg) (*cairn.Msg, error) {
	if err := s.forward(ctx, cmd); err != nil {
		return nil, err
	}
	return cmd, nil
}

// Stream answers commands one after another. Each result is a new Msg, since gRPC may
// still hold the last one (see the wire package); the command is read into one reused Msg.
func (s *server) Stream(st grpc.BidiStreamingServer[cairn.Msg, cairn.Msg]) error {
	ctx := st.Context()
	var cmd cairn.Msg
	for {
		if err := st.RecvMsg(&cmd); err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
		res := cmd
		if err := s.forward(ctx, &res); err != nil {
			return err
		}
		out := new(cairn.Msg)
		*out = res
		if err := st.Send(out); err != nil {
			return err
		}
	}
}

// listen opens "unix:/path" (replacing a stale socket file) or a TCP "host:port".
func listen(addr string) (net.Listener, func(), error) {
	if path, ok := strings.CutPrefix(addr, "unix:"); ok {
		path = strings.TrimPrefix(path, "//")
		if fi, err := os.Lstat(path); err == nil && fi.Mode()&os.ModeSocket != 0 {
			os.Remove(path)
		}
		l, err := net.Listen("unix", path)
		return l, func() { os.Remove(path) }, err
	}
	l, err := net.Listen("tcp", addr)
	return l, func() {}, err
}

func fail(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "cairn-grpc-server: "+format+"\n", a...)
	os.Exit(1)
}

func main() {
	sock := flag.String("socket", "", "cairnd's socket (default: the binding's default path)")
	addr := flag.String("listen", "", "unix:/path or host:port to serve on (required)")
	spin := flag.Duration("spin", 50*time.Microsecond,
		"how long a forwarded call busy-polls for its result before yielding and sleeping")
	workers := flag.Uint("stream-workers", 0,
		"grpc.NumStreamWorkers: reuse this many goroutines for handlers (0: one per call)")
	flag.Parse()
	if *addr == "" || flag.NArg() != 0 || *spin <= 0 {
		fmt.Fprintln(os.Stderr, "usage: cairn-grpc-server --socket PATH --listen unix:/path|host:port [--spin D] [--stream-workers N]")
		os.Exit(2)
	}

	conn, err := cairn.DialContext(context.Background(), *sock,
		&cairn.Options{Spin: *spin, Name: "cairn-grpc-server"})
	if err != nil {
		fail("attach: %v", err)
	}
	defer conn.Close()

	l, cleanup, err := listen(*addr)
	if err != nil {
		fail("listen: %v", err)
	}
	defer cleanup()

	var opts []grpc.ServerOption
	if *workers > 0 {
		opts = append(opts, grpc.NumStreamWorkers(uint32(*workers)))
	}
	srv := grpc.NewServer(opts...)
	srv.RegisterService(&wire.ServiceDesc, &server{conn: conn})

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-sig
		stopped := make(chan struct{})
		go func() { srv.GracefulStop(); close(stopped) }()
		select {
		case <-stopped:
		case <-time.After(5 * time.Second):
			srv.Stop()
		}
	}()

	fmt.Fprintf(os.Stderr, "cairn-grpc-server: serving cairnd (pid %d) on %s\n", conn.DaemonInfo().PID, *addr)
	if err := srv.Serve(l); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
		fail("serve: %v", err)
	}
}
