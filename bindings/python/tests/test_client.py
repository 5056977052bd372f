"""Connect, every command, errors as exceptions, batches, grid reads."""

import errno
import os
import socket
import threading

import pytest

import cairn
from cairn import _protocol as P


def test_ping(client):
    pong = client.ping()
    assert isinstance(pong, cairn.Pong)
    assert pong.ingress_ns > 0
    assert client.daemon_info()["state"] == P.DAEMON_RUNNING


def test_context_manager_and_close(daemon):
    with cairn.Client(daemon.socket) as c:
        c.ping()
    assert c.closed
    with pytest.raises(ValueError):
        c.ping()


def test_every_game_command(client):
    h = client.hunt_create(claim_radius_mm=30)
    assert isinstance(h, cairn.HuntCreated)
    assert (h.width, h.height, h.cell_mm, h.claim_radius_mm) == (128, 96, 1000, 30)
    hid = h.hunt_id
    p = client.join(hid, 1500, 1500)
    q = client.join(hid, 1600, 1500)
    assert p != q
    clue = client.clue_place(hid, 2500, 1500, 7)

    m = client.move(hid, p, 2480, 1500)
    assert isinstance(m, cairn.Moved)
    assert (m.player_id, m.outcome, m.clue_id, m.holder_id, m.value, m.score) == (p, cairn.CLAIM_WON, clue, p, 7, 7)
    m = client.move(hid, q, 2490, 1500)
    assert (m.outcome, m.holder_id, m.score) == (cairn.CLAIM_LOST, p, 0)

    st = client.player_state(hid, p)
    assert (st.player_id, st.hunt_id, st.x, st.y, st.claims, st.score) == (p, hid, 2480, 1500, 1, 7)
    sh = client.state_hash()
    assert (sh.hunts, sh.entities) == (1, 3)

    rm = client.clue_remove(hid, clue)
    assert (rm.clue_id, rm.claimed_by, rm.value) == (clue, p, 7)
    left = client.leave(hid, p)
    assert (left.player_id, left.claims, left.score) == (p, 1, 7)
    d = client.hunt_destroy(hid)
    assert (d.hunt_id, d.players, d.clues) == (hid, 1, 0)
    assert client.state_hash().hunts == 0


def test_queries(client, hunt):
    hid = hunt.hunt_id
    p = client.join(hid, 1500, 1500)
    q = client.join(hid, 1700, 1500)
    c1 = client.clue_place(hid, 2500, 1500, 5)
    c2 = client.clue_place(hid, 3500, 1500, 9)
    hits = client.nearest_clues(hid, 1500, 1500, 8)
    assert [h.id for h in hits] == [c1, c2]
    assert hits[0].dist_mm == 1000 and hits[0].value == 5
    near, total = client.players_near(hid, 1500, 1500, 1000)
    assert [h.id for h in near] == [p, q] and total == 2
    client.move(hid, q, 3500, 1500)
    board = client.leaderboard(hid, 2)
    assert [(h.id, h.value) for h in board] == [(q, 9), (p, 0)]
    with pytest.raises(cairn.Error) as e:
        client.nearest_clues(hid, 1500, 1500, 0)
    assert e.value.code == errno.EINVAL


def test_paths(client, hunt):
    hid = hunt.hunt_id
    pts, info = client.path(hid, 1500, 1500, 4500, 1500)
    assert pts[0] == (1500, 1500) and pts[-1] == (4500, 1500)
    assert info.count == len(pts) and info.length_mm >= 3000
    d = client.distances(hid, [(1500, 1500, 4500, 1500), (1500, 1500, 0, 0)])
    assert d[0].status == 0 and d[0].length_mm == info.length_mm
    assert d[1].status != 0
    nm = client.next_moves(hid, [(1500, 1500, 4500, 1500)])
    assert nm[0].status == 0 and nm[0].x == 2500


def test_errors_are_exceptions_with_codes(client, hunt):
    hid = hunt.hunt_id
    with pytest.raises(cairn.UnknownHuntError) as e:
        client.join(hid + 12345, 1500, 1500)
    assert e.value.code == P.E_UNKNOWN_HUNT == 1017
    assert e.value.name == "UNKNOWN_HUNT"
    assert isinstance(e.value, cairn.Error)
    p = client.join(hid, 1500, 1500)
    with pytest.raises(cairn.BlockedError) as e:
        client.move(hid, p, 500, 500)  # the border wall
    assert e.value.code == P.E_BLOCKED
    with pytest.raises(cairn.OffMapError):
        client.move(hid, p, -5, 1500)
    with pytest.raises(cairn.UnknownPlayerError):
        client.move(hid, p + 1000, 1500, 1500)
    # A rejected move changed nothing.
    assert client.player_state(hid, p)[2:4] == (1500, 1500)
    with pytest.raises(cairn.TooFastError):
        h2 = client.hunt_create(speed_limit_mm_s=1)
        p2 = client.join(h2.hunt_id, 1500, 1500)
        client.move(h2.hunt_id, p2, 5500, 1500)
    assert cairn.ERRORS[P.E_TOO_FAST] is cairn.TooFastError


def test_generic_call_and_raw_result(client):
    r = client.call(cairn.msg.echo(b"hello"))
    assert isinstance(r, cairn.Result)
    assert (r.type, r.payload) == (P.MSG_ECHO_REPLY, b"hello")
    with pytest.raises(cairn.UnknownTypeError):
        client.call(cairn.msg.msg(999))
    with pytest.raises(ValueError):
        client.call(b"short")


def test_call_many_and_move_many(client, hunt):
    hid = hunt.hunt_id
    ps = [client.join(hid, 1500 + 10 * i, 1500) for i in range(50)]
    moves = [(p, 2000 + 10 * i, 1600) for i, p in enumerate(ps)]
    moves[7] = (ps[7], 500, 500)  # a wall
    res = client.move_many(hid, moves)
    assert len(res) == 50
    assert isinstance(res[7], cairn.BlockedError)
    for i, r in enumerate(res):
        if i != 7:
            assert isinstance(r, cairn.Moved) and (r.player_id, r.x, r.y) == moves[i]
    # More commands than the rings hold, in one batch.
    many = client.move_many(hid, [(ps[i % 50], 2000 + i % 300, 1700) for i in range(5000)])
    assert all(isinstance(r, cairn.Moved) for r in many)
    assert [r.x for r in many[:3]] == [2000, 2001, 2002]
    out = client.call_many([cairn.msg.ping(), cairn.msg.join(hid + 99, 0, 0), cairn.msg.state_hash()])
    assert isinstance(out[0], cairn.Pong)
    assert isinstance(out[1], cairn.UnknownHuntError)
    assert isinstance(out[2], cairn.StateHash)


def test_submit_poll_wait(client, hunt):
    hid = hunt.hunt_id
    assert client.poll() == []
    ids = client.submit_many([cairn.msg.join(hid, 1500, 1500 + i) for i in range(10)])
    assert len(ids) == 10 and len(set(ids)) == 10
    one = client.submit(cairn.msg.ping())
    got = {}
    while len(got) < 11:
        for rid, obj in client.wait(max=4, timeout=5):
            got[rid] = obj
    assert set(got) == set(ids) | {one}
    assert isinstance(got[one], cairn.Pong)
    assert sorted(j.y for j in (got[i] for i in ids)) == list(range(1500, 1510))
    assert client.wait(timeout=0.05) == []
    # Results of submit() never go to calls, and the other way round.
    rid = client.submit(cairn.msg.ping())
    assert isinstance(client.state_hash(), cairn.StateHash)
    assert [r for r, _ in client.wait(timeout=5)] == [rid]


def test_grid_reads(client, hunt):
    hid = hunt.hunt_id
    p = client.join(hid, 1500, 1500)
    c = client.clue_place(hid, 2500, 1500, 3)
    m = client.read_map(0)
    assert (m.width, m.height, m.name) == (128, 96, "cairn-default")
    with pytest.raises(cairn.UnknownMapError):
        client.read_map(77)
    h = client.read_hunt(hid)
    assert (h.id, h.players, h.clues) == (hid, 1, 1)
    e = client.read_entity(hid, p)
    assert (e.id, e.kind, e.x, e.y) == (p, cairn.ENTITY_PLAYER, 1500, 1500)
    client.move(hid, p, 1800, 1500)
    assert client.read_entity(hid, p).x == 1800
    with pytest.raises(cairn.UnknownPlayerError):
        client.read_entity(hid, p + 100)
    ents = client.read_rect(hid, 0, 0, 10000, 10000)
    assert sorted((x.id, x.kind) for x in ents) == sorted([(p, cairn.ENTITY_PLAYER), (c, cairn.ENTITY_CLUE)])
    assert [x.id for x in client.read_rect(hid, 0, 0, 10000, 10000, players=False)] == [c]
    # More entities than the first buffer: read_rect grows it.
    for i in range(40):
        client.join(hid, 1500, 2500 + 10 * i)
    assert len(client.read_rect(hid, 0, 0, 20000, 20000, cap=4)) == 42
    with pytest.raises(cairn.UnknownHuntError):
        client.read_hunt(hid + 1)


def test_bad_socket_path(tmp_path):
    with pytest.raises(cairn.ConnectError) as e:
        cairn.Client(str(tmp_path / "nothing-here"))
    assert e.value.code == errno.ENOENT
    assert "ENOENT" == e.value.name
    # A file that is not a listening socket.
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(tmp_path / "deaf"))
    with pytest.raises(cairn.ConnectError) as e:
        cairn.Client(str(tmp_path / "deaf"))
    assert e.value.code == errno.ECONNREFUSED
    s.close()
    with pytest.raises(cairn.Error) as e:
        cairn.Client("/x" * 100)
    assert e.value.code == errno.ENAMETOOLONG


def fake_daemon(path, welcome):
    """A socket that answers one hello with the given welcome bytes (no descriptors)."""
    srv = socket.socket(socket.AF_UNIX)
    srv.bind(path)
    srv.listen(1)

    def serve():
        conn, _ = srv.accept()
        want = P.HELLO_SIZE + P.HELLO_SESSION_SIZE
        got = b""
        while len(got) < want:
            chunk = conn.recv(want - len(got))
            if not chunk:
                break
            got += chunk
        conn.sendall(welcome)
        conn.recv(1)
        conn.close()
        srv.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    return t


def welcome_bytes(**fields):
    size, layout = P.STRUCTS["welcome"]
    buf = bytearray(size)
    for name, off, es, count, signed in layout:
        if name in fields:
            buf[off:off + es] = fields[name].to_bytes(es, "little", signed=signed)
    return bytes(buf)


def test_version_mismatch(tmp_path):
    path = str(tmp_path / "old")
    t = fake_daemon(path, welcome_bytes(magic=P.WELCOME_MAGIC, version_major=P.PROTO_MAJOR + 1))
    with pytest.raises(cairn.VersionError) as e:
        cairn.Client(path)
    assert e.value.code == P.E_VERSION
    assert "version" in str(e.value)
    t.join(5)


def test_refused_attach_carries_the_code(tmp_path):
    path = str(tmp_path / "full")
    t = fake_daemon(path, welcome_bytes(magic=P.WELCOME_MAGIC, version_major=P.PROTO_MAJOR,
                                        status=P.E_TOO_MANY_CLIENTS))
    with pytest.raises(cairn.TooManyClientsError) as e:
        cairn.Client(path)
    assert e.value.code == P.E_TOO_MANY_CLIENTS
    t.join(5)


def test_strerror_and_default_path():
    assert "blocked" in cairn.strerror(P.E_BLOCKED)
    assert cairn.strerror(-P.E_BLOCKED) == cairn.strerror(P.E_BLOCKED)
    assert cairn.default_socket_path().endswith(".sock") or os.environ.get("CAIRN_SOCKET")
