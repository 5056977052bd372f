package cairn

import (
	"errors"
	"fmt"
)

// Error is a protocol error: a command the daemon refused (the code of its ERROR
// result), or a failure of the attach handshake or of the connection. Code is one of
// the schema's error codes (EBlocked, EOffMap, ...). Compare with errors.Is against
// the sentinels below, which match any *Error of the same code:
//
//	if errors.Is(err, cairn.ErrBlocked) { ... }
type Error struct {
	Code int32
	// RequestType is the type of the command that failed (0 when not a command).
	RequestType uint16
	// Detail is the ERROR result's detail field: for BLOB_TOO_SMALL, the bytes the
	// whole answer needs.
	Detail uint32
}

// Name is the schema name of the code ("BLOCKED"), or "" for an unknown code.
func (e *Error) Name() string { return ErrorNames[e.Code] }

// Error returns the schema's name and message of the code.
func (e *Error) Error() string {
	if msg, ok := ErrorMessages[e.Code]; ok {
		return fmt.Sprintf("cairn: %s: %s", ErrorNames[e.Code], msg)
	}
	return fmt.Sprintf("cairn: error %d", e.Code)
}

// Is reports whether target is an *Error with the same code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// The protocol errors, one sentinel per code of the schema, for errors.Is.
var (
	ErrBadMagic          = &Error{Code: EBadMagic}
	ErrVersion           = &Error{Code: EVersion}
	ErrLayout            = &Error{Code: ELayout}
	ErrUnknownType       = &Error{Code: EUnknownType}
	ErrBadLength         = &Error{Code: EBadLength}
	ErrBadFlags          = &Error{Code: EBadFlags}
	ErrBlobRange         = &Error{Code: EBlobRange}
	ErrBlobTooSmall      = &Error{Code: EBlobTooSmall}
	ErrDenied            = &Error{Code: EDenied}
	ErrTooManyClients    = &Error{Code: ETooManyClients}
	ErrHandshake         = &Error{Code: EHandshake}
	ErrDisconnected      = &Error{Code: EDisconnected}
	ErrLaneDropped       = &Error{Code: ELaneDropped}
	ErrShuttingDown      = &Error{Code: EShuttingDown}
	ErrBadReply          = &Error{Code: EBadReply}
	ErrUnknownMap        = &Error{Code: EUnknownMap}
	ErrUnknownHunt       = &Error{Code: EUnknownHunt}
	ErrUnknownPlayer     = &Error{Code: EUnknownPlayer}
	ErrUnknownClue       = &Error{Code: EUnknownClue}
	ErrWrongHunt         = &Error{Code: EWrongHunt}
	ErrOffMap            = &Error{Code: EOffMap}
	ErrBlocked           = &Error{Code: EBlocked}
	ErrTooFast           = &Error{Code: ETooFast}
	ErrBadValue          = &Error{Code: EBadValue}
	ErrTooManyHunts      = &Error{Code: ETooManyHunts}
	ErrTooManyEntities   = &Error{Code: ETooManyEntities}
	ErrBadMap            = &Error{Code: EBadMap}
	ErrBadSnapshot       = &Error{Code: EBadSnapshot}
	ErrWalFailed         = &Error{Code: EWalFailed}
	ErrSessionInUse      = &Error{Code: ESessionInUse}
	ErrRollbackRange     = &Error{Code: ERollbackRange}
	ErrRollbackConflict  = &Error{Code: ERollbackConflict}
	ErrBusy              = &Error{Code: EBusy}
	ErrNoStore           = &Error{Code: ENoStore}
	ErrBadLog            = &Error{Code: EBadLog}
	ErrUnreachable       = &Error{Code: EUnreachable}
	ErrTableNotReady     = &Error{Code: ETableNotReady}
	ErrUnknownClient     = &Error{Code: EUnknownClient}
	ErrEvicted           = &Error{Code: EEvicted}
	ErrTooManyPlayers    = &Error{Code: ETooManyPlayers}
	ErrTooManyLanes      = &Error{Code: ETooManyLanes}
	ErrLaneMemory        = &Error{Code: ELaneMemory}
	errProtocolSentinels = []*Error{ErrBadMagic, ErrVersion, ErrLayout, ErrUnknownType,
		ErrBadLength, ErrBadFlags, ErrBlobRange, ErrBlobTooSmall, ErrDenied,
		ErrTooManyClients, ErrHandshake, ErrDisconnected, ErrLaneDropped, ErrShuttingDown,
		ErrBadReply, ErrUnknownMap, ErrUnknownHunt, ErrUnknownPlayer, ErrUnknownClue,
		ErrWrongHunt, ErrOffMap, ErrBlocked, ErrTooFast, ErrBadValue, ErrTooManyHunts,
		ErrTooManyEntities, ErrBadMap, ErrBadSnapshot, ErrWalFailed, ErrSessionInUse,
		ErrRollbackRange, ErrRollbackConflict, ErrBusy, ErrNoStore, ErrBadLog,
		ErrUnreachable, ErrTableNotReady, ErrUnknownClient, ErrEvicted, ErrTooManyPlayers,
		ErrTooManyLanes, ErrLaneMemory}
)

// Errors of this package that are not protocol codes.
var (
	// ErrClosed: the Conn was closed.
	ErrClosed = errors.New("cairn: connection closed")
	// ErrSlicesBusy: every query slice of the blob arena is in use by other calls
	// (libcairn's -EBUSY); try again when one of them returns.
	ErrSlicesBusy = errors.New("cairn: every query slice of the blob arena is busy")
	// ErrNoSlices: the blob arena is smaller than one query slice (libcairn's -ENOBUFS).
	ErrNoSlices = errors.New("cairn: the blob arena has no room for a query slice")
	// ErrInvalid: an argument is out of range; nothing was sent.
	ErrInvalid = errors.New("cairn: invalid argument")
	// ErrRetry: a grid read kept racing with the daemon's writes, or found a record
	// the daemon left half written (libcairn's -EAGAIN).
	ErrRetry = errors.New("cairn: grid read kept changing; try again")
	// ErrNoEvents: the daemon publishes no events.
	ErrNoEvents = errors.New("cairn: the daemon publishes no events")
)

// LappedError is yielded by EventFeed.All when the reader fell more than the ring's
// capacity behind: Missed events were overwritten before it read them. The feed goes
// on with the oldest event still there.
type LappedError struct {
	Missed uint64
}

// Error says how many events were missed.
func (e *LappedError) Error() string {
	return fmt.Sprintf("cairn: event reader lapped, %d events missed", e.Missed)
}

// protoErr returns the error of a protocol code (positive, as in the schema).
func protoErr(code int32) error {
	return &Error{Code: code}
}
