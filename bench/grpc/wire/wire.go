// Package wire defines cairn's engine as a gRPC service without protoc: a codec that
// carries a cairn message as its 56 raw bytes, and the service description written by
// hand, so that the gRPC baseline sends exactly the bytes the shared-memory rings carry.
//
// The service is cairn.Game with two methods:
//
//	/cairn.Game/Call    unary: one command, its one result
//	/cairn.Game/Stream  bidirectional: commands in, their results out, in order
//
// Both travel with the content type application/grpc+cairn. A result is the daemon's
// answer as it is, an ERROR result included; a gRPC status other than OK means the
// transport or the server's connection to cairnd failed, never that the engine refused
// the command.
package wire

import (
	"context"
	"fmt"
	"unsafe"

	"cairn.dev/cairn"
	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
)

// Name is the codec's name, the content subtype of every call.
const Name = "cairn"

// Method names, as they go on the wire.
const (
	ServiceName  = "cairn.Game"
	CallMethod   = "/cairn.Game/Call"
	StreamMethod = "/cairn.Game/Stream"
)

func init() {
	encoding.RegisterCodecV2(codec{})
}

// bytesOf is the 56 bytes of m as they are laid out in shared memory: the binding's
// Msg is the schema's msg byte for byte (it asserts so), on a little-endian machine.
func bytesOf(m *cairn.Msg) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(m)), cairn.MsgSize)
}

// codec carries *cairn.Msg values as their raw bytes.
type codec struct{}

func (codec) Name() string { return Name }

// Marshal hands gRPC the message's own memory rather than a copy, so the one copy is
// the one into the HTTP/2 frame. gRPC may still hold that memory after the call that
// sent it returns (a stream's SendMsg queues it for the writer), so a message given to
// gRPC must not be changed until its call is over: a unary client may reuse its request
// once Invoke returns (the request was written before any reply could come), a server
// returns a result it will not touch again, and a stream sends a new Msg each time.
func (codec) Marshal(v any) (mem.BufferSlice, error) {
	m, ok := v.(*cairn.Msg)
	if !ok {
		return nil, fmt.Errorf("cairn codec: cannot marshal %T, want *cairn.Msg", v)
	}
	return mem.BufferSlice{mem.SliceBuffer(bytesOf(m))}, nil
}

// Unmarshal copies exactly 56 bytes into the *cairn.Msg v. Anything else is an error:
// the bytes come from another process.
func (codec) Unmarshal(data mem.BufferSlice, v any) error {
	m, ok := v.(*cairn.Msg)
	if !ok {
		return fmt.Errorf("cairn codec: cannot unmarshal into %T, want *cairn.Msg", v)
	}
	if n := data.Len(); n != cairn.MsgSize {
		return fmt.Errorf("cairn codec: message of %d bytes, want %d", n, cairn.MsgSize)
	}
	data.CopyTo(bytesOf(m))
	return nil
}

// GameServer is what a cairn.Game server implements.
type GameServer interface {
	// Call answers one command. The result is the server's to give away: gRPC may
	// still be writing it after Call returns.
	Call(ctx context.Context, cmd *cairn.Msg) (*cairn.Msg, error)
	// Stream answers commands in order until the client closes its side.
	Stream(stream grpc.BidiStreamingServer[cairn.Msg, cairn.Msg]) error
}

func callHandler(srv any, ctx context.Context, dec func(any) error, in grpc.UnaryServerInterceptor) (any, error) {
	cmd := new(cairn.Msg)
	if err := dec(cmd); err != nil {
		return nil, err
	}
	if in == nil {
		return srv.(GameServer).Call(ctx, cmd)
	}
	info := &grpc.UnaryServerInfo{Server: srv, FullMethod: CallMethod}
	return in(ctx, cmd, info, func(ctx context.Context, req any) (any, error) {
		return srv.(GameServer).Call(ctx, req.(*cairn.Msg))
	})
}

func streamHandler(srv any, stream grpc.ServerStream) error {
	return srv.(GameServer).Stream(&grpc.GenericServerStream[cairn.Msg, cairn.Msg]{ServerStream: stream})
}

// ServiceDesc is cairn.Game, for grpc.Server.RegisterService.
var ServiceDesc = grpc.ServiceDesc{
	ServiceName: ServiceName,
	HandlerType: (*GameServer)(nil),
	Methods:     []grpc.MethodDesc{{MethodName: "Call", Handler: callHandler}},
	Streams: []grpc.StreamDesc{{
		StreamName:    "Stream",
		Handler:       streamHandler,
		ServerStreams: true,
		ClientStreams: true,
	}},
	Metadata: "cairn.Game (hand-written, no .proto)",
}

// StreamDesc describes the Stream method for grpc.ClientConn.NewStream.
var StreamDesc = &ServiceDesc.Streams[0]
