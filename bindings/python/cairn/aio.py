"""asyncio on cairn, without ever blocking the event loop.

:class:`AsyncClient` owns its own connection. Coroutines push their commands from the
loop's thread with ``submit`` (which never blocks: it only writes to shared memory), and
one reaper thread per client waits for the results with the GIL released and hands them
to the loop in batches with ``call_soon_threadsafe``. So a thousand coroutines in flight
cost one thread, and their commands are pipelined through the ring.

    async with cairn.aio.AsyncClient(path) as c:
        hunt = await c.hunt_create()
        p = await c.join(hunt.hunt_id, 1500, 1500)
        moved = await c.move(hunt.hunt_id, p, 2500, 1500)

Event cursors wait in a thread of the loop's default executor (``await cur.read()``).
"""

import asyncio
import threading

from . import _cairn, msg as _msg, _protocol as _p
from ._errors import Error

_RESULT_BATCH = 256
_REAP_SLICE = 0.1  # seconds: how often the reaper looks at whether it should stop


class AsyncClient:
    """A connection to cairnd for asyncio. Arguments as :class:`cairn.Client`."""

    def __init__(self, socket_path=None, **options):
        self._c = _cairn.Client(socket_path, **options)
        self._loop = None
        self._futures = {}      # request id -> (future, post-processing or None)
        self._space = []        # futures of coroutines waiting for room in the ring
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._thread = None
        self._closing = False

    @property
    def client(self):
        """The underlying synchronous :class:`cairn.Client` (grid reads, blocking calls)."""
        return self._c

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        await self.close()

    def _start(self):
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = loop
        elif self._loop is not loop:
            raise RuntimeError("an AsyncClient is used from one event loop")
        if self._thread is None:
            self._thread = threading.Thread(target=self._reap, name="cairn-reaper", daemon=True)
            self._thread.start()

    def _reap(self):
        """The reaper thread: waits for results, hands them to the loop."""
        while True:
            with self._lock:
                while not self._futures and not self._space and not self._closing:
                    self._wake.wait()
                if self._closing and not self._futures:
                    return
            try:
                got = self._c.wait(_RESULT_BATCH, _REAP_SLICE)
            except Error as e:
                self._loop.call_soon_threadsafe(self._fail_all, e)
                return
            if got or self._space:
                try:
                    self._loop.call_soon_threadsafe(self._deliver, got)
                except RuntimeError:
                    return  # the loop is closed

    def _deliver(self, got):
        for rid, obj in got:
            entry = self._futures.pop(rid, None)
            if entry is None:
                continue
            fut, post = entry
            if fut.done():
                continue
            if isinstance(obj, BaseException):
                fut.set_exception(obj)
            else:
                try:
                    fut.set_result(post(obj) if post else obj)
                except Exception as e:  # a reply of an unexpected kind
                    fut.set_exception(e)
        space, self._space = self._space, []
        for f in space:
            if not f.done():
                f.set_result(None)

    def _fail_all(self, exc):
        futures, self._futures = self._futures, {}
        for fut, _ in futures.values():
            if not fut.done():
                fut.set_exception(exc)
        for f in self._space:
            if not f.done():
                f.set_exception(exc)
        self._space = []

    async def call(self, command, _post=None):
        """Sends a 56-byte command (see :mod:`cairn.msg`); its result, or raises its error."""
        if self._closing:
            raise RuntimeError("the AsyncClient is closed")
        self._start()
        loop = self._loop
        while True:
            rid = self._c.submit(command)
            if rid is not None:
                break
            # The ring is full (or the connection reattaches): wait for results to drain.
            f = loop.create_future()
            with self._lock:
                self._space.append(f)
                self._wake.notify()
            await f
        fut = loop.create_future()
        with self._lock:
            self._futures[rid] = (fut, _post)
            self._wake.notify()
        try:
            return await fut
        finally:
            self._futures.pop(rid, None)

    async def call_many(self, commands):
        """Sends many commands; their results (or Error objects) in order, never raising them."""
        futs = [asyncio.ensure_future(self.call(c)) for c in commands]
        return list(await asyncio.gather(*futs, return_exceptions=True))

    async def ping(self):
        return await self.call(_msg.ping())

    async def hunt_create(self, map_id=0, claim_radius_mm=0, speed_limit_mm_s=0, cell_mm=0):
        return await self.call(_msg.hunt_create(map_id, claim_radius_mm, speed_limit_mm_s, cell_mm),
                               _expect(_cairn.HuntCreated))

    async def hunt_destroy(self, hunt_id):
        return await self.call(_msg.hunt_destroy(hunt_id), _expect(_cairn.HuntDestroyed))

    async def join(self, hunt_id, x, y):
        """Adds a player; its id."""
        return await self.call(_msg.join(hunt_id, x, y), lambda r: _expect(_cairn.Joined)(r).player_id)

    async def leave(self, hunt_id, player_id):
        return await self.call(_msg.leave(hunt_id, player_id), _expect(_cairn.Left))

    async def move(self, hunt_id, player_id, x, y):
        return await self.call(_msg.move(hunt_id, player_id, x, y), _expect(_cairn.Moved))

    async def move_many(self, hunt_id, moves):
        return await self.call_many([_msg.move(hunt_id, p, x, y) for p, x, y in moves])

    async def clue_place(self, hunt_id, x, y, value):
        """Places a clue; its id."""
        return await self.call(_msg.clue_place(hunt_id, x, y, value),
                               lambda r: _expect(_cairn.CluePlaced)(r).clue_id)

    async def clue_remove(self, hunt_id, clue_id):
        return await self.call(_msg.clue_remove(hunt_id, clue_id), _expect(_cairn.ClueRemoved))

    async def player_state(self, hunt_id, player_id):
        return await self.call(_msg.player_state(hunt_id, player_id), _expect(_cairn.PlayerInfo))

    async def state_hash(self):
        return await self.call(_msg.state_hash(), _expect(_cairn.StateHash))

    async def run(self, fn, *args):
        """Runs a blocking method of :attr:`client` (a query, a path) in the default executor."""
        return await asyncio.get_running_loop().run_in_executor(None, lambda: fn(*args))

    def events(self):
        """An :class:`AsyncEvents` cursor at the newest event."""
        return AsyncEvents(self._c.events())

    async def close(self):
        """Waits for the reaper thread, then closes the connection."""
        with self._lock:
            self._closing = True
            self._wake.notify()
        for fut, _ in list(self._futures.values()):
            fut.cancel()
        self._futures.clear()
        t = self._thread
        if t is not None:
            await asyncio.get_running_loop().run_in_executor(None, t.join)
        self._c.close()


def _expect(kind):
    def check(r):
        if not isinstance(r, kind):
            raise Error(_p.E_BAD_REPLY)
        return r
    return check


class AsyncEvents:
    """An event cursor whose waits run in the loop's default executor."""

    def __init__(self, cursor):
        self._cur = cursor

    @property
    def missed(self):
        return self._cur.missed

    @property
    def next(self):
        return self._cur.next

    async def read(self, max=64, timeout=None):
        """The events there are; waits up to timeout (None: no limit) for one first."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, lambda: self._cur.read(max, timeout))

    def __aiter__(self):
        return self

    async def __anext__(self):
        while True:
            evs = await self.read(1, 0.5)
            if evs:
                return evs[0]
