"""The event feed: joins, claims, waits, and a reader lapped by the ring."""

import threading
import time

import pytest

import cairn


def test_events_of_a_game(client, hunt):
    hid = hunt.hunt_id
    ev = client.events()
    start = ev.next
    assert ev.read() == []
    assert ev.wait(timeout=0.05) is False
    p = client.join(hid, 1500, 1500)
    clue = client.clue_place(hid, 2500, 1500, 4)
    client.move(hid, p, 2495, 1500)
    assert ev.wait(timeout=5)
    got = []
    while len(got) < 3:
        got += ev.read(timeout=5)
    types = [e.type for e in got]
    assert types == [cairn.EVENT_PLAYER_JOINED, cairn.EVENT_CLUE_PLACED, cairn.EVENT_CLUE_CLAIMED]
    claim = got[2]
    assert (claim.hunt_id, claim.player_id, claim.clue_id, claim.value) == (hid, p, clue, 4)
    assert got[0].order < got[1].order < got[2].order
    assert ev.missed == 0 and ev.next == start + 3
    assert ev.read() == []


def test_wait_wakes_for_an_event_from_another_thread(client, hunt):
    hid = hunt.hunt_id
    ev = client.events()

    def later():
        time.sleep(0.2)
        client.join(hid, 1500, 1500)

    t = threading.Thread(target=later)
    t0 = time.monotonic()
    t.start()
    evs = ev.read(timeout=10)
    took = time.monotonic() - t0
    t.join()
    assert [e.type for e in evs] == [cairn.EVENT_PLAYER_JOINED]
    assert 0.15 < took < 5


def test_one_cursor_one_thread(client):
    ev = client.events()
    errs = []

    def blocked():
        try:
            ev.wait(timeout=1)
        except RuntimeError as e:
            errs.append(e)

    t = threading.Thread(target=blocked)
    t.start()
    time.sleep(0.1)
    with pytest.raises(RuntimeError):
        ev.read()
    t.join()


def test_lapped_reader(make_daemon):
    d = make_daemon("--durability", "none", "--event-capacity", "64")
    with cairn.Client(d.socket) as c:
        hid = c.hunt_create().hunt_id
        slow = c.events()
        fast = c.events()
        seen_fast = []
        # 200 joins: 200 events, more than three times the ring.
        for i in range(200):
            c.join(hid, 1500, 1500 + i)
            seen_fast += fast.read(max=8)
        while len(seen_fast) < 200:
            seen_fast += fast.read(timeout=5)
        assert fast.missed == 0
        assert [e.y for e in seen_fast] == [1500 + i for i in range(200)]
        got = []
        while True:
            evs = slow.read(max=16)
            if not evs:
                break
            got += evs
        # The slow reader lost the oldest ones and was told how many.
        assert slow.missed > 0
        assert slow.missed + len(got) == 200
        assert len(got) <= 64
        assert [e.y for e in got] == [1500 + i for i in range(200 - len(got), 200)]
