"""The Python game host of the chaos soak (tools/soak-chaos): the same host as the C one
(tests/chaos/host.c), through the Python binding.

    host.py --socket PATH --journal FILE [--seed N] [--actors N] [--players N]
            [--malformed PCT] [--map ID]

It creates a hunt of its own on map ID (default 1: the soak's open map) and runs ACTORS
threads on it, each owning PLAYERS players and a few clues in a stripe of the map, each
with one command in flight: PCT percent malformed commands that must be refused, the
rest moves (some onto its own clues, to claim them), clue places and removes, a player
leaving and another joining, and PLAYER_STATE queries checked against what was
acknowledged. Every command and result goes to the journal, a line per os.write, in the
format chaos-check reads (the top of tests/chaos/check.c).

It stops when its standard input reaches end of file: each thread finishes its command,
"bye" is written, and it exits 0. It exits 3 after a "fail" line when something is
wrong, 2 on bad usage. A daemon restart is not wrong: the binding reattaches and
resubmits, and the calls wait for it.
"""
import argparse
import itertools
import os
import random
import struct
import sys
import threading
import time

import cairn
from cairn import _protocol as P

TIMEOUT = 120.0          # seconds; longer than any restart the soak makes
MAX_CLUES = 6
MARGIN_MM = 500          # keeps stripes apart, far beyond the claim radius
STEP_MM = 3000           # the farthest a random move goes
BAD_ID_MAX = 1 << P.ID_SLOT_BITS  # ids below this are never given
NOT_REFUSALS = (P.E_DISCONNECTED, P.E_LANE_DROPPED, P.E_EVICTED, P.E_BAD_REPLY)

client = None
journal_fd = -1
hunt_id = 0
map_w = map_h = 0
counter = itertools.count(1)
counter_lock = threading.Lock()
stopping = threading.Event()


def take_n():
    with counter_lock:
        return next(counter)


def jw(line):
    """One journal line with one write(2): whole or not at all, whatever kills us."""
    data = (line + "\n").encode()
    if os.write(journal_fd, data) != len(data):
        sys.stderr.write("host.py: short journal write\n")
        os._exit(3)


def die(msg):
    """Something is wrong: say so in the journal and on stderr, and stop at once."""
    msg = msg.replace("\n", " ")
    jw("fail " + msg)
    sys.stderr.write("chaos host.py %d: %s\n" % (os.getpid(), msg))
    sys.stderr.flush()
    os._exit(3)


def refusal(e):
    """The code of a refusal by the daemon, or 0 for any other failure."""
    code = getattr(e, "code", 0)
    if isinstance(e, cairn.Error) and code in P.ERROR_NAMES and \
            code not in NOT_REFUSALS:
        return code
    return 0


def refused(n, what, e):
    code = refusal(e)
    if not code:
        die("%s: %r" % (what, e))
    jw("e %d %d" % (n, code))


class Actor:
    def __init__(self, index, seed, x0, x1, y0, y1, players, malformed):
        self.rng = random.Random(seed * 1000003 + index)
        self.x0, self.x1, self.y0, self.y1 = x0, x1, y0, y1
        self.players = players
        self.malformed = malformed
        self.p = []  # [id, x, y, claims, score]
        self.c = []  # [id, x, y, value, claimed]

    def pos(self):
        return self.rng.randint(self.x0, self.x1), self.rng.randint(self.y0, self.y1)

    def join(self, x, y):
        n = take_n()
        jw("s %d join %d %d %d" % (n, hunt_id, x, y))
        try:
            pid = client.join(hunt_id, x, y, timeout=TIMEOUT)
        except Exception as e:  # noqa: BLE001 - every failure is judged by refused()
            refused(n, "join", e)
            return 0
        jw("a %d %d" % (n, pid))
        return pid

    def move(self, p, x, y):
        n = take_n()
        jw("s %d move %d %d %d %d" % (n, hunt_id, p[0], x, y))
        try:
            mv = client.move(hunt_id, p[0], x, y, timeout=TIMEOUT)
        except Exception as e:  # noqa: BLE001
            refused(n, "move", e)
            return
        jw("a %d %d %d %d" % (n, mv.outcome, mv.clue_id, mv.score))
        if mv.player_id != p[0] or mv.x != x or mv.y != y:
            die("MOVED says player %d at %d,%d for a move of %d to %d,%d" %
                (mv.player_id, mv.x, mv.y, p[0], x, y))
        p[1], p[2], p[4] = x, y, mv.score
        if mv.outcome == P.CLAIM_WON:
            p[3] += 1
            for c in self.c:
                if c[0] == mv.clue_id:
                    c[4] = True

    def place(self):
        x, y = self.pos()
        value = self.rng.randint(1, 100)
        n = take_n()
        jw("s %d place %d %d %d %d" % (n, hunt_id, x, y, value))
        try:
            cid = client.clue_place(hunt_id, x, y, value, timeout=TIMEOUT)
        except Exception as e:  # noqa: BLE001
            refused(n, "clue place", e)
            return
        jw("a %d %d" % (n, cid))
        self.c.append([cid, x, y, value, False])

    def remove(self, i):
        n = take_n()
        jw("s %d remove %d %d" % (n, hunt_id, self.c[i][0]))
        try:
            client.clue_remove(hunt_id, self.c[i][0], timeout=TIMEOUT)
        except Exception as e:  # noqa: BLE001
            refused(n, "clue remove", e)
            return
        jw("a %d" % n)
        del self.c[i]

    def rejoin(self, i):
        """Player i leaves and a new one takes its place."""
        p = self.p[i]
        n = take_n()
        jw("s %d leave %d %d" % (n, hunt_id, p[0]))
        try:
            left = client.leave(hunt_id, p[0], timeout=TIMEOUT)
        except Exception as e:  # noqa: BLE001
            refused(n, "leave", e)
            return
        jw("a %d" % n)
        if left.claims != p[3] or left.score != p[4]:
            die("LEFT says %d claims, score %d for player %d; acknowledged %d, %d" %
                (left.claims, left.score, p[0], p[3], p[4]))
        x, y = self.pos()
        pid = self.join(x, y)
        if pid:
            self.p[i] = [pid, x, y, 0, 0]
        else:
            del self.p[i]

    def query(self, p):
        """PLAYER_STATE must say what the acknowledgements said, across restarts."""
        n = take_n()
        try:
            pi = client.player_state(hunt_id, p[0], timeout=TIMEOUT)
        except Exception as e:  # noqa: BLE001
            die("PLAYER_STATE of player %d: %r" % (p[0], e))
        jw("q %d %d %d %d %d %d" % (n, p[0], pi.x, pi.y, pi.claims, pi.score))
        if (pi.x, pi.y, pi.claims, pi.score) != (p[1], p[2], p[3], p[4]):
            die("PLAYER_STATE of player %d: %d,%d, %d claims, score %d; acknowledged "
                "%d,%d, %d, %d" % (p[0], pi.x, pi.y, pi.claims, pi.score,
                                   p[1], p[2], p[3], p[4]))

    BAD_KINDS = ("unknown_hunt", "unknown_player", "off_map_move", "off_map_join",
                 "unknown_clue", "unknown_map", "destroy_unknown", "bad_length",
                 "bad_flags", "unknown_type", "garbage")

    def malformed_one(self):
        """One command that must be refused."""
        rng = self.rng
        k = rng.randrange(len(self.BAD_KINDS))
        p = rng.choice(self.p)
        bad = rng.randrange(BAD_ID_MAX)
        x, y = self.pos()
        n = take_n()
        kind = self.BAD_KINDS[k]
        jw("m %d %s" % (n, kind))
        raw = None
        try:
            if k == 0:
                client.move(bad, p[0], x, y, timeout=TIMEOUT)
            elif k == 1:
                client.move(hunt_id, bad, x, y, timeout=TIMEOUT)
            elif k == 2:
                off = rng.randint(1, 3)  # off the left edge, the bottom one, or both
                client.move(hunt_id, p[0], -1 - bad if off & 1 else x,
                            map_h + (bad & 0xffff) if off & 2 else y, timeout=TIMEOUT)
            elif k == 3:
                client.join(hunt_id, map_w + (bad & 0xffff), y, timeout=TIMEOUT)
            elif k == 4:
                client.clue_remove(hunt_id, bad, timeout=TIMEOUT)
            elif k == 5:
                client.hunt_create(map_id=1000 + bad, timeout=TIMEOUT)
            elif k == 6:
                client.hunt_destroy(bad, timeout=TIMEOUT)
            else:
                if k in (7, 8):
                    # A move of our own player to a valid place, spoiled by its header.
                    raw = bytearray(cairn.msg.move(hunt_id, p[0], x, y))
                    if k == 7:
                        raw[3] = rng.randrange(16) if rng.randrange(2) else 17 + rng.randrange(24)
                    else:
                        raw[2] = rng.randint(1, 255)
                elif k == 9:
                    raw = bytearray(struct.pack("<HBBiQ", 0x0100 + rng.randrange(0x7f00), 0,
                                                rng.randint(0, P.PAYLOAD_SIZE), 0, 0)) \
                        + bytearray(P.PAYLOAD_SIZE)
                else:
                    # Noise of any type, with flags no message may have.
                    raw = bytearray(rng.getrandbits(8) for _ in range(P.MSG_SIZE))
                    if rng.randrange(2):
                        # Half of them of a command type of the schema, half of any type.
                        struct.pack_into("<H", raw, 0, P.MSG_PING + rng.randrange(P.MSG_EVICT))
                    raw[2] |= 1
                    raw[3] = rng.randint(0, P.PAYLOAD_SIZE)
                    raw[4:16] = bytes(12)
                client.call(bytes(raw), timeout=TIMEOUT)
        except Exception as e:  # noqa: BLE001
            code = refusal(e)
            if not code:
                die("malformed %s: %r" % (kind, e))
            jw("r %d %d" % (n, code))
            return
        jw("v %d %s type 0x%x" % (n, kind, struct.unpack_from("<H", raw)[0] if raw else 0))

    def step(self):
        rng = self.rng
        if self.p and rng.randrange(100) < self.malformed:
            self.malformed_one()
            return
        w = rng.randrange(100) if self.p else 99
        i = rng.randrange(len(self.p)) if self.p else 0
        if w < 66:
            p = self.p[i]
            x = min(max(p[1] + rng.randint(-STEP_MM, STEP_MM), self.x0), self.x1)
            y = min(max(p[2] + rng.randint(-STEP_MM, STEP_MM), self.y0), self.y1)
            self.move(p, x, y)
        elif w < 76:
            free = [c for c in self.c if not c[4]]
            if free:
                c = rng.choice(free)
                self.move(self.p[i], c[1], c[2])
            elif len(self.c) < MAX_CLUES:
                self.place()
        elif w < 84:
            if len(self.c) < MAX_CLUES:
                self.place()
            else:
                self.remove(rng.randrange(len(self.c)))
        elif w < 89:
            if self.c:
                self.remove(rng.randrange(len(self.c)))
        elif w < 93:
            self.rejoin(i)
        elif w < 99:
            self.query(self.p[i])
        elif len(self.p) < self.players:
            x, y = self.pos()
            pid = self.join(x, y)
            if pid:
                self.p.append([pid, x, y, 0, 0])

    def run(self):
        try:
            while len(self.p) < self.players and not stopping.is_set():
                x, y = self.pos()
                pid = self.join(x, y)
                if not pid:
                    break
                self.p.append([pid, x, y, 0, 0])
            while not stopping.is_set():
                self.step()
        except BaseException as e:  # noqa: BLE001 - a thread's death must end the host
            die("actor: %r" % (e,))


def wait_stdin():
    while sys.stdin.buffer.read1(4096):
        pass
    stopping.set()


def main():
    global client, journal_fd, hunt_id, map_w, map_h
    ap = argparse.ArgumentParser(description="the Python host of the chaos soak")
    ap.add_argument("--socket", required=True)
    ap.add_argument("--journal", required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--actors", type=int, default=4)
    ap.add_argument("--players", type=int, default=4)
    ap.add_argument("--malformed", type=int, default=20)
    ap.add_argument("--map", type=int, default=1)
    args = ap.parse_args()
    if not 1 <= args.actors <= 64 or args.players < 1 or not 0 <= args.malformed <= 100:
        ap.error("--actors 1..64, --players >= 1, --malformed 0..100")
    journal_fd = os.open(args.journal, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC,
                         0o644)
    jw("hello python %d" % os.getpid())
    # The first attach is retried: the daemon may be down, or killed in the middle of
    # the handshake. Only an attached connection reattaches by itself.
    deadline = time.monotonic() + TIMEOUT
    while client is None:
        try:
            client = cairn.Client(args.socket, name="chaos-host-py",
                                  reconnect_ms=int(TIMEOUT * 1000))
        except Exception as e:  # noqa: BLE001
            if time.monotonic() > deadline:
                die("attach: %r" % (e,))
            time.sleep(0.05)
    n = take_n()
    jw("s %d create %d" % (n, args.map))
    try:
        h = client.hunt_create(map_id=args.map, timeout=TIMEOUT)
    except Exception as e:  # noqa: BLE001
        code = refusal(e)
        if code:
            jw("e %d %d" % (n, code))
        die("HUNT_CREATE: %r" % (e,))
    jw("a %d %d" % (n, h.hunt_id))
    hunt_id = h.hunt_id
    map_w, map_h = h.width * h.cell_mm, h.height * h.cell_mm
    stripe = map_w // args.actors
    if stripe < 2 * MARGIN_MM + 1000 or map_h < 2 * MARGIN_MM + 1000:
        die("map %d is too small for %d actors" % (args.map, args.actors))

    threading.Thread(target=wait_stdin, daemon=True).start()
    actors = [Actor(i, args.seed, i * stripe + MARGIN_MM, (i + 1) * stripe - MARGIN_MM,
                    MARGIN_MM, map_h - MARGIN_MM, args.players, args.malformed)
              for i in range(args.actors)]
    threads = [threading.Thread(target=a.run) for a in actors]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    jw("bye")
    client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
