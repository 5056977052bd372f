"""A daemon restart: the client reattaches with its session and resubmits what the old
daemon never answered; calls blocked meanwhile get their results on the new lane."""

import os
import signal
import threading
import time

import pytest

import cairn
from conftest import freeze


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_restart_reconnects_and_resubmits(make_daemon, sig):
    d = make_daemon()  # durability sync: what was answered survives the restart
    c = cairn.Client(d.socket, reconnect_ms=20000)
    try:
        hid = c.hunt_create().hunt_id
        p = c.join(hid, 1500, 1500)
        c.move(hid, p, 1600, 1500)
        before = c.daemon_info()
        ev = c.events()

        d.stop(sig)
        if os.path.exists(d.socket):
            os.unlink(d.socket)  # what a killed daemon leaves behind
        # Calls made while no daemon runs wait for the next one, in other threads too.
        results, errors = {}, []

        def mover(i):
            try:
                results[i] = c.move(hid, p, 1700 + i, 1500, timeout=30)
            except BaseException as e:  # noqa: B902
                errors.append(e)

        ts = [threading.Thread(target=mover, args=(i,)) for i in range(4)]
        for t in ts:
            t.start()
        time.sleep(0.3)
        assert all(t.is_alive() for t in ts)
        d.start()
        for t in ts:
            t.join(30)
        assert errors == []
        assert sorted(r.x for r in results.values()) == [1700, 1701, 1702, 1703]

        info = c.daemon_info()
        assert info["reconnects"] >= 1
        assert info["resubmitted"] >= 1
        assert info["pid"] != before["pid"]
        assert info["session_id"] == before["session_id"]
        # The game survived: the hunt and the player are there.
        st = c.player_state(hid, p)
        assert st.x in (1700, 1701, 1702, 1703)
        assert c.read_hunt(hid).players == 1
        # The old event cursor belongs to the dead daemon's ring.
        with pytest.raises(cairn.DisconnectedError):
            ev.read()
        c.events().read()
    finally:
        c.close()


def test_no_daemon_comes_back(make_daemon):
    d = make_daemon("--durability", "none")
    c = cairn.Client(d.socket, reconnect_ms=300)
    c.ping()
    d.stop()
    t0 = time.monotonic()
    with pytest.raises(cairn.DisconnectedError) as e:
        c.ping(timeout=10)
    assert e.value.code == cairn._protocol.E_DISCONNECTED
    assert time.monotonic() - t0 < 5
    with pytest.raises(cairn.DisconnectedError):
        c.join(1, 0, 0)
    c.close()


def test_timeout(make_daemon):
    d = make_daemon("--durability", "none")
    c = cairn.Client(d.socket)
    hid = c.hunt_create().hunt_id
    freeze(d.proc.pid)
    try:
        t0 = time.monotonic()
        with pytest.raises(cairn.TimeoutError) as e:
            c.join(hid, 1500, 1500, timeout=0.2)
        assert isinstance(e.value, TimeoutError)
        assert 0.15 < time.monotonic() - t0 < 3
    finally:
        os.kill(d.proc.pid, signal.SIGCONT)
    # The late result of the abandoned call is dropped; the next calls get their own.
    p = c.join(hid, 1600, 1500)
    assert c.player_state(hid, p).x == 1600
    c.close()
