package cairn

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// The golden vectors of shm-protocol/vectors: each NAME.json gives field values of one
// schema struct, NAME.bin its exact bytes. Every vector is decoded through the
// generated Structs table to its values and compared with the JSON, and the JSON values
// are encoded back and compared with the bytes.

const vectorsDir = "../../shm-protocol/vectors"

type vector struct {
	Struct string                     `json:"struct"`
	Fields map[string]json.RawMessage `json:"fields"`
}

// fieldValue is one decoded or expected field: an integer, a hex string (u8 arrays) or
// a list of integers (other arrays).
type fieldValue struct {
	ints []*big.Int // scalars: one
	hex  string     // u8 arrays
}

func (v fieldValue) String() string {
	if v.ints == nil {
		return v.hex
	}
	s := make([]string, len(v.ints))
	for i, x := range v.ints {
		s[i] = x.String()
	}
	return "[" + strings.Join(s, " ") + "]"
}

func (v fieldValue) equal(w fieldValue) bool {
	if (v.ints == nil) != (w.ints == nil) || v.hex != w.hex || len(v.ints) != len(w.ints) {
		return false
	}
	for i := range v.ints {
		if v.ints[i].Cmp(w.ints[i]) != 0 {
			return false
		}
	}
	return true
}

// parseInt reads a JSON integer: a number, or a string "0x..." or decimal.
func parseInt(raw json.RawMessage) (*big.Int, error) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		v, ok := new(big.Int).SetString(s, 0)
		if !ok {
			return nil, fmt.Errorf("bad integer string %q", s)
		}
		return v, nil
	}
	v, ok := new(big.Int).SetString(strings.TrimSpace(string(raw)), 10)
	if !ok {
		return nil, fmt.Errorf("bad integer %s", raw)
	}
	return v, nil
}

// expected turns a field's JSON value (nil: not named, so zero) into a fieldValue.
func expected(f StructField, raw json.RawMessage) (fieldValue, error) {
	if f.Size == 1 && f.Count > 1 {
		var s string
		if raw != nil {
			if err := json.Unmarshal(raw, &s); err != nil {
				return fieldValue{}, err
			}
		}
		b, err := hex.DecodeString(s)
		if err != nil || len(b) > f.Count {
			return fieldValue{}, fmt.Errorf("bad hex %q for %d bytes", s, f.Count)
		}
		full := make([]byte, f.Count)
		copy(full, b)
		return fieldValue{hex: hex.EncodeToString(full)}, nil
	}
	v := fieldValue{ints: make([]*big.Int, f.Count)}
	for i := range v.ints {
		v.ints[i] = new(big.Int)
	}
	if raw == nil {
		return v, nil
	}
	if f.Count == 1 {
		x, err := parseInt(raw)
		if err != nil {
			return v, err
		}
		v.ints[0] = x
		return v, nil
	}
	var list []json.RawMessage
	if err := json.Unmarshal(raw, &list); err != nil || len(list) > f.Count {
		return v, fmt.Errorf("bad list %s for %d elements", raw, f.Count)
	}
	for i, r := range list {
		x, err := parseInt(r)
		if err != nil {
			return v, err
		}
		v.ints[i] = x
	}
	return v, nil
}

// decodeField reads field f from b.
func decodeField(b []byte, f StructField) fieldValue {
	if f.Size == 1 && f.Count > 1 {
		return fieldValue{hex: hex.EncodeToString(b[f.Offset : f.Offset+f.Count])}
	}
	v := fieldValue{ints: make([]*big.Int, f.Count)}
	for i := range v.ints {
		p := b[f.Offset+i*f.Size:]
		var u uint64
		switch f.Size {
		case 1:
			u = uint64(p[0])
		case 2:
			u = uint64(le.Uint16(p))
		case 4:
			u = uint64(le.Uint32(p))
		case 8:
			u = le.Uint64(p)
		}
		x := new(big.Int).SetUint64(u)
		if f.Signed && u>>(f.Size*8-1)&1 == 1 {
			x.Sub(x, new(big.Int).Lsh(big.NewInt(1), uint(f.Size*8)))
		}
		v.ints[i] = x
	}
	return v
}

// encodeField writes v into b as field f, checking the range.
func encodeField(b []byte, f StructField, v fieldValue) error {
	if v.ints == nil {
		h, _ := hex.DecodeString(v.hex)
		copy(b[f.Offset:], h)
		return nil
	}
	bits := uint(f.Size * 8)
	for i, x := range v.ints {
		lo, hi := big.NewInt(0), new(big.Int).Lsh(big.NewInt(1), bits)
		if f.Signed {
			lo = new(big.Int).Neg(new(big.Int).Lsh(big.NewInt(1), bits-1))
			hi = new(big.Int).Lsh(big.NewInt(1), bits-1)
		}
		if x.Cmp(lo) < 0 || x.Cmp(hi) >= 0 {
			return fmt.Errorf("%s out of range: %s", f.Name, x)
		}
		u := new(big.Int).Set(x)
		if u.Sign() < 0 {
			u.Add(u, new(big.Int).Lsh(big.NewInt(1), bits))
		}
		p := b[f.Offset+i*f.Size:]
		w := u.Uint64()
		switch f.Size {
		case 1:
			p[0] = byte(w)
		case 2:
			le.PutUint16(p, uint16(w))
		case 4:
			le.PutUint32(p, uint32(w))
		case 8:
			le.PutUint64(p, w)
		}
	}
	return nil
}

func TestVectors(t *testing.T) {
	names, err := filepath.Glob(filepath.Join(vectorsDir, "*.json"))
	if err != nil || len(names) == 0 {
		t.Fatalf("no vectors in %s: %v", vectorsDir, err)
	}
	sort.Strings(names)
	seen := map[string]bool{}
	for _, jp := range names {
		name := strings.TrimSuffix(filepath.Base(jp), ".json")
		t.Run(name, func(t *testing.T) {
			var v vector
			raw, err := os.ReadFile(jp)
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(raw, &v); err != nil {
				t.Fatal(err)
			}
			bin, err := os.ReadFile(strings.TrimSuffix(jp, ".json") + ".bin")
			if err != nil {
				t.Fatal(err)
			}
			layout, ok := Structs[v.Struct]
			if !ok {
				t.Fatalf("struct %q is not in Structs", v.Struct)
			}
			seen[v.Struct] = true
			if len(bin) != layout.Size {
				t.Fatalf("%s.bin has %d bytes, struct %s has %d", name, len(bin), v.Struct, layout.Size)
			}
			byName := map[string]StructField{}
			for _, f := range layout.Fields {
				byName[f.Name] = f
			}
			for k := range v.Fields {
				if _, ok := byName[k]; !ok {
					t.Errorf("field %q is not a field of %s", k, v.Struct)
				}
			}
			enc := make([]byte, layout.Size)
			for _, f := range layout.Fields {
				want, err := expected(f, v.Fields[f.Name])
				if err != nil {
					t.Fatalf("%s: %v", f.Name, err)
				}
				if got := decodeField(bin, f); !got.equal(want) {
					t.Errorf("decode %s: got %s, want %s", f.Name, got, want)
				}
				if err := encodeField(enc, f, want); err != nil {
					t.Fatal(err)
				}
			}
			if !bytes.Equal(enc, bin) {
				t.Errorf("encoding differs from %s.bin:\n got %x\nwant %x", name, enc, bin)
			}
			// A message's payload is the companion payload vector's bytes.
			if v.Struct == "msg" {
				pb, err := os.ReadFile(filepath.Join(vectorsDir, name+".payload.bin"))
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(bin[MsgOffPayload:], pb[:PayloadSize]) {
					t.Errorf("payload differs from %s.payload.bin", name)
				}
			}
		})
	}
	// The layout vectors named in vectors/README.md are all there.
	for _, s := range []string{"state_header", "lane_header", "ring_header", "slot", "daemon_counters",
		"hello", "welcome", "doorbell", "msg_hdr", "grid_header", "map_info", "hunt_info", "shard",
		"block", "entity", "event_ring_header", "event", "event_slot", "engine_counters", "hit", "msg"} {
		if !seen[s] {
			t.Errorf("no vector of struct %s", s)
		}
	}
}

// TestMsgLayout checks that Msg, copied whole to and from ring slots, decodes a golden
// message vector as the table says.
func TestMsgLayout(t *testing.T) {
	bin, err := os.ReadFile(filepath.Join(vectorsDir, "msg_move.bin"))
	if err != nil {
		t.Fatal(err)
	}
	var m Msg
	copy((*[MsgSize]byte)(unsafePointer(&m))[:], bin)
	want := MoveMsg(16777219, 33554689, 126000, 7250)
	want.RequestID = 0x0000C41A00000004
	if m != want {
		t.Fatalf("msg_move.bin as a Msg: %+v, want %+v", m, want)
	}
}

func TestErrorSentinels(t *testing.T) {
	if len(errProtocolSentinels) != len(ErrorNames) {
		t.Fatalf("%d sentinels for %d error codes", len(errProtocolSentinels), len(ErrorNames))
	}
	for _, e := range errProtocolSentinels {
		if e.Name() == "" {
			t.Errorf("sentinel with unknown code %d", e.Code)
		}
		got := &Error{Code: e.Code, Detail: 7}
		if !strings.Contains(got.Error(), ErrorNames[e.Code]) || !strings.Contains(got.Error(), ErrorMessages[e.Code]) {
			t.Errorf("Error() = %q", got.Error())
		}
	}
}
