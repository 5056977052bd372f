// Package cairn is the Go client of cairnd, the shared-memory coprocessor for
// real-time treasure-hunt games.
//
// A Conn attaches to the daemon over its Unix socket, receives two memory segments
// (the daemon's state, mapped read-only, and the connection's own lane: a command
// ring, a result ring, their doorbells and a blob arena) and from then on talks to the
// daemon through shared memory only: a command is a 56-byte message pushed into the
// command ring, its result a message popped from the result ring. A system call
// happens only when one side sleeps.
//
// The package is pure Go: golang.org/x/sys/unix for the socket, SCM_RIGHTS, mmap and
// futex, and sync/atomic on the mapped memory. It speaks the protocol of
// shm-protocol/schema.json, whose constants are generated into protocol_gen.go, and
// follows libcairn (include/cairn/cairn.h) in its semantics:
//
//   - every method of Conn is safe for many goroutines at once, except Close;
//   - every call that can block takes a context.Context and returns ctx.Err() (wrapped)
//     when it ends first;
//   - a command the daemon refused returns an *Error whose Code is the schema's code,
//     comparable with errors.Is against ErrBlocked, ErrOffMap and the other sentinels;
//   - when the daemon restarts, the connection reattaches with the same session and
//     resubmits, with their original request ids, the commands it had not answered
//     (see Options.ReconnectTimeout): with a data directory, every command gets exactly
//     one result and one effect across the restart.
//
// The memory layout is little-endian, as on every machine cairnd runs on (amd64,
// arm64); the package refuses to build elsewhere.
package cairn
