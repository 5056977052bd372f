package cairn

import (
	"encoding/binary"
	"unsafe"
)

// Msg is one command or result: the schema's msg, 56 bytes, with the same memory
// layout (little-endian), so that it is copied into and out of a ring slot whole.
type Msg struct {
	Type      uint16
	Flags     uint8
	Length    uint8 // payload bytes that count
	Status    int32 // an ERROR result's code
	RequestID uint64
	Payload   [PayloadSize]byte
}

// The Go struct must be the schema's msg byte for byte: it is copied to and from
// shared memory as it is.
var _ [MsgSize - unsafe.Sizeof(Msg{})]struct{}
var _ [unsafe.Sizeof(Msg{}) - MsgSize]struct{}
var _ [MsgOffPayload - unsafe.Offsetof(Msg{}.Payload)]struct{}
var _ [MsgOffHdrRequestId - unsafe.Offsetof(Msg{}.RequestID)]struct{}
var _ [MsgOffHdrStatus - unsafe.Offsetof(Msg{}.Status)]struct{}

// CallIDBit is set in the request id of every command this package sends.
const CallIDBit = uint64(1) << 63

var le = binary.LittleEndian

// newMsg returns a command of type t with payload length n.
func newMsg(t uint16, n uint8) Msg {
	return Msg{Type: t, Length: n}
}

func (m *Msg) putU32(off int, v uint32) { le.PutUint32(m.Payload[off:], v) }
func (m *Msg) putI32(off int, v int32)  { le.PutUint32(m.Payload[off:], uint32(v)) }
func (m *Msg) putU64(off int, v uint64) { le.PutUint64(m.Payload[off:], v) }
func (m *Msg) putI64(off int, v int64)  { le.PutUint64(m.Payload[off:], uint64(v)) }
func (m *Msg) u8(off int) uint8         { return m.Payload[off] }
func (m *Msg) u16(off int) uint16       { return le.Uint16(m.Payload[off:]) }
func (m *Msg) u32(off int) uint32       { return le.Uint32(m.Payload[off:]) }
func (m *Msg) i32(off int) int32        { return int32(le.Uint32(m.Payload[off:])) }
func (m *Msg) u64(off int) uint64       { return le.Uint64(m.Payload[off:]) }
func (m *Msg) i64(off int) int64        { return int64(le.Uint64(m.Payload[off:])) }

// isPathCmd reports whether a command runs on the daemon's solver threads, whose
// results come back out of command order (NEXT_MOVE, DISTANCE, PATH, PATH_TO_CLUE).
func isPathCmd(t uint16) bool {
	return t-MsgNextMove <= MsgPathToClue-MsgNextMove
}

// isPathResult reports whether result m answers a path command: one of their replies,
// or an ERROR naming a path command as its request type.
func isPathResult(m *Msg) bool {
	if m.Type-MsgNextMoveReply <= MsgPathReply-MsgNextMoveReply {
		return true
	}
	return m.Type == MsgError && isPathCmd(m.u16(ErrorInfoOffRequestType))
}

// resultErr returns the error an ERROR result carries, or nil for any other result.
func resultErr(m *Msg) error {
	if m.Type != MsgError {
		return nil
	}
	code := m.Status
	if code <= 0 {
		code = EBadReply
	}
	return &Error{Code: code, RequestType: m.u16(ErrorInfoOffRequestType),
		Detail: m.u32(ErrorInfoOffDetail)}
}
