"""The golden vectors of shm-protocol/vectors, through the generated STRUCTS tables:
every .bin decodes to the values of its .json, and those values encode back to the
same bytes. Also: cairn/_protocol.py is what gen.py writes from the schema today."""

import glob
import json
import os
import subprocess
import sys

import pytest

from cairn import _protocol

from conftest import REPO

VECTORS = os.path.join(REPO, "shm-protocol", "vectors")
JSONS = sorted(glob.glob(os.path.join(VECTORS, "*.json")))


def layout(struct):
    size, fields = _protocol.STRUCTS[struct]
    return size, {name: (off, size_, count, signed) for name, off, size_, count, signed in fields}


def decode(struct, data):
    """Every field of struct in data: ints, lists of ints, and u8 arrays as bytes."""
    size, fields = layout(struct)
    assert len(data) == size, "%s is %d bytes, not %d" % (struct, len(data), size)
    out = {}
    for name, (off, es, count, signed) in fields.items():
        if es == 1 and count > 1:
            out[name] = bytes(data[off:off + count])
            continue
        vals = [int.from_bytes(data[off + i * es:off + (i + 1) * es], "little", signed=signed)
                for i in range(count)]
        out[name] = vals if count > 1 else vals[0]
    return out


def encode(struct, values):
    size, fields = layout(struct)
    buf = bytearray(size)
    for name, v in values.items():
        off, es, count, signed = fields[name]
        if es == 1 and count > 1:
            buf[off:off + len(v)] = v
            continue
        for i, x in enumerate(v if count > 1 else [v]):
            buf[off + i * es:off + (i + 1) * es] = x.to_bytes(es, "little", signed=signed)
    return bytes(buf)


def expected(struct, named):
    """The full field values a vector's .json stands for (fields not named are zero)."""
    size, fields = layout(struct)
    out = {}
    for name, (off, es, count, signed) in fields.items():
        if es == 1 and count > 1:
            out[name] = bytes(count)
        else:
            out[name] = [0] * count if count > 1 else 0
    for name, v in named.items():
        assert name in fields, "%s: no field %s" % (struct, name)
        off, es, count, signed = fields[name]
        if es == 1 and count > 1:
            raw = bytes.fromhex(v)
            out[name] = raw + bytes(count - len(raw))
        elif count > 1:
            vals = [int(x, 0) if isinstance(x, str) else x for x in v]
            out[name] = vals + [0] * (count - len(vals))
        else:
            out[name] = int(v, 0) if isinstance(v, str) else v
    return out


def test_there_are_vectors():
    assert len(JSONS) >= 20, "no golden vectors found in %s" % VECTORS


@pytest.mark.parametrize("path", JSONS, ids=[os.path.basename(p)[:-5] for p in JSONS])
def test_vector(path):
    with open(path) as f:
        vec = json.load(f)
    with open(path[:-5] + ".bin", "rb") as f:
        data = f.read()
    struct = vec["struct"]
    got = decode(struct, data)
    assert got == expected(struct, vec["fields"])
    assert encode(struct, got) == data


def msg_vectors():
    """(name, 56 bytes, payload struct, payload values) of every message vector."""
    for path in JSONS:
        name = os.path.basename(path)[:-5]
        pj = path[:-5] + ".payload.json"
        if not name.startswith("msg_") or name.endswith(".payload") or not os.path.exists(pj):
            continue
        with open(path[:-5] + ".bin", "rb") as f:
            data = f.read()
        with open(pj) as f:
            payload = json.load(f)
        yield name, data, payload["struct"], expected(payload["struct"], payload["fields"])


def test_msg_vectors_decode_through_the_extension():
    """The result vectors decode to the typed objects of the extension, field by field."""
    import cairn
    seen = 0
    for name, data, struct, want in msg_vectors():
        obj = cairn.decode(data)
        if isinstance(obj, cairn.Result):
            continue
        if isinstance(obj, cairn.Error):
            assert name == "msg_error", name
            assert obj.code == decode("msg", data)["hdr.status"]
            continue
        for field in type(obj).__match_args__:
            assert getattr(obj, field) == want[field], (name, field)
        seen += 1
    assert seen >= 8


def test_msg_vectors_built_by_the_extension():
    """The command builders write the type, length and payload of the command vectors."""
    from cairn import msg
    builders = {
        "msg_join": lambda v: msg.join(v["hunt_id"], v["x"], v["y"]),
        "msg_move": lambda v: msg.move(v["hunt_id"], v["player_id"], v["x"], v["y"]),
        "msg_leave": lambda v: msg.leave(v["hunt_id"], v["player_id"]),
        "msg_clue_place": lambda v: msg.clue_place(v["hunt_id"], v["x"], v["y"], v["value"]),
        "msg_clue_remove": lambda v: msg.clue_remove(v["hunt_id"], v["clue_id"]),
        "msg_hunt_create": lambda v: msg.hunt_create(v["map_id"], v["claim_radius_mm"],
                                                     v["speed_limit_mm_s"], v["cell_mm"]),
        "msg_hunt_destroy": lambda v: msg.hunt_destroy(v["hunt_id"]),
        "msg_player_state": lambda v: msg.player_state(v["hunt_id"], v["player_id"]),
    }
    seen = set()
    for name, data, struct, want in msg_vectors():
        if name in builders:
            built = builders[name](want)
            assert built[:4] == data[:4], name      # type, flags, length
            assert built[16:] == data[16:], name    # the payload
            seen.add(name)
    assert seen == set(builders) - ({"msg_player_state"} - seen)
    assert len(seen) >= 7


def test_protocol_py_is_fresh(tmp_path):
    out = tmp_path / "protocol_gen.py"
    subprocess.check_call([sys.executable, os.path.join(REPO, "shm-protocol", "gen.py"),
                           os.path.join(REPO, "shm-protocol", "schema.json"), "--python", str(out)])
    with open(_protocol.__file__, "rb") as f:
        assert f.read() == out.read_bytes(), "cairn/_protocol.py differs from gen.py's output: recopy it"
