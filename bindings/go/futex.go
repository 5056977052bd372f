//go:build linux && (amd64 || arm64 || riscv64 || ppc64le || loong64)

package cairn

import (
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The futex words live in memory shared with another process: FUTEX_WAIT and
// FUTEX_WAKE without FUTEX_PRIVATE_FLAG, which would key them by this process alone.
const (
	futexOpWait = 0
	futexOpWake = 1
)

// futexWaitOn sleeps while *word == v, for at most d (d <= 0: no limit). It returns
// early on a wake-up, a signal or a changed word; callers re-check what they wait for.
// It goes through unix.Syscall6 (not RawSyscall) so that the Go scheduler hands this
// thread's P to other goroutines while it sleeps.
func futexWaitOn(word *uint32, v uint32, d time.Duration) {
	var ts *unix.Timespec
	if d > 0 {
		t := unix.NsecToTimespec(int64(d))
		ts = &t
	}
	unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(word)), futexOpWait, uintptr(v),
		uintptr(unsafe.Pointer(ts)), 0, 0)
}

// futexWake wakes every thread asleep on word.
func futexWake(word *uint32) {
	unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(word)), futexOpWake,
		uintptr(^uint32(0)>>1), 0, 0, 0)
}
