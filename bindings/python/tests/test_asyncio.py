"""asyncio: many coroutines in flight on one AsyncClient, and a loop that never blocks."""

import asyncio
import os
import signal
import time

import pytest

import cairn
from conftest import freeze
import cairn.aio


def test_many_coroutines(daemon):
    async def main():
        async with cairn.aio.AsyncClient(daemon.socket) as c:
            h = await c.hunt_create()
            hid = h.hunt_id
            players = await asyncio.gather(*[c.join(hid, 1500, 1500 + i) for i in range(100)])
            assert len(set(players)) == 100

            async def walker(i, p):
                for k in range(20):
                    m = await c.move(hid, p, 1500 + k * 10, 1500 + i)
                    assert (m.player_id, m.x, m.y) == (p, 1500 + k * 10, 1500 + i)
                return p

            done = await asyncio.gather(*[walker(i, p) for i, p in enumerate(players)])
            assert done == players
            with pytest.raises(cairn.BlockedError) as e:
                await c.move(hid, players[0], 500, 500)
            assert e.value.code == cairn._protocol.E_BLOCKED
            res = await c.call_many([cairn.msg.ping(), cairn.msg.join(hid + 5, 0, 0)])
            assert isinstance(res[0], cairn.Pong) and isinstance(res[1], cairn.UnknownHuntError)
            # More in flight at once than the rings hold.
            many = await asyncio.gather(*[c.ping() for _ in range(3000)])
            assert len(many) == 3000
            st = await c.player_state(hid, players[3])
            assert st.x == 1690
            hits = await c.run(c.client.nearest_clues, hid, 1500, 1500, 4)
            assert hits == []

    asyncio.run(asyncio.wait_for(main(), 60))


def test_loop_is_never_blocked(make_daemon):
    d = make_daemon("--durability", "none")

    async def main():
        c = cairn.aio.AsyncClient(d.socket)
        hid = (await c.hunt_create()).hunt_id
        freeze(d.proc.pid)   # no answer until SIGCONT
        try:
            call = asyncio.ensure_future(c.join(hid, 1500, 1500))
            ticks = 0
            t0 = time.monotonic()
            while time.monotonic() - t0 < 0.5:
                await asyncio.sleep(0.01)
                ticks += 1
            assert not call.done()
            assert ticks > 20, "the event loop was blocked (%d ticks in 0.5 s)" % ticks
        finally:
            os.kill(d.proc.pid, signal.SIGCONT)
        p = await asyncio.wait_for(call, 10)
        assert (await c.player_state(hid, p)).x == 1500
        await c.close()

    asyncio.run(asyncio.wait_for(main(), 30))


def test_async_events(daemon):
    async def main():
        async with cairn.aio.AsyncClient(daemon.socket) as c:
            hid = (await c.hunt_create()).hunt_id
            ev = c.events()
            reader = asyncio.ensure_future(ev.read(timeout=10))
            await asyncio.sleep(0.05)
            p = await c.join(hid, 1500, 1500)
            evs = await asyncio.wait_for(reader, 10)
            assert [(e.type, e.player_id) for e in evs] == [(cairn.EVENT_PLAYER_JOINED, p)]
            await c.clue_place(hid, 1600, 1500, 1)
            nxt = await asyncio.wait_for(ev.__anext__(), 10)
            assert nxt.type == cairn.EVENT_CLUE_PLACED

    asyncio.run(asyncio.wait_for(main(), 30))
