#!/usr/bin/env python3
"""Round trips from one Python caller: PING and MOVE through cairnd, and a 56-byte
sendall + recv against a Unix-socket echo server, for comparison. Then MOVE
throughput: Client.move_many with batches of B moves, one after the other, for a
fixed time.

    cairn_bench_py.py --socket S --echo E --hunt H --player P [--samples N] [--warmup N]
                      [--raw PREFIX] [--throughput-ms N] [--batch B]

Prints one JSON line on stdout (nanoseconds, time.perf_counter_ns):
{"lang":"python","ping":{"n":..,"p50":..,"p90":..,"p99":..,"p999":..,"max":..,"mean":..},
 "move":{...},"socket":{...},"throughput_per_s":..,"parallelism":B,"throughput_moves":..}
With --raw, every timed round trip of each series is written, once all timing is done,
to PREFIX.ping, PREFIX.move and PREFIX.socket (with --echo) as little-endian uint64
nanoseconds, in the order they were taken. --throughput-ms 0 skips the throughput.
Progress goes to stderr.
"""

import argparse
import array
import json
import socket
import sys
import time

import cairn

MSG = bytes(range(56))


def stats(samples):
    s = sorted(samples)
    n = len(s)

    def q(p):
        return s[min(n - 1, int(p * n))]

    return {"n": n, "p50": q(0.50), "p90": q(0.90), "p99": q(0.99), "p999": q(0.999),
            "max": s[-1], "mean": round(sum(s) / n, 1)}


def write_raw(path, samples):
    """Writes samples to path as little-endian uint64s, in one write."""
    a = array.array("Q", samples)
    if sys.byteorder != "little":
        a.byteswap()
    with open(path, "wb") as f:
        f.write(a.tobytes())


def throughput(c, hunt, moves, ms):
    """move_many(hunt, moves) over and over for ms milliseconds: (moves answered, ns)."""
    now = time.perf_counter_ns
    move_many = c.move_many
    done = 0
    t0 = now()
    end = t0 + ms * 1000000
    while now() < end:
        for r in move_many(hunt, moves):
            if isinstance(r, Exception):
                raise SystemExit("cairn_bench_py: throughput: a move failed: %r" % (r,))
        done += len(moves)
    return done, now() - t0


def time_loop(fn, n, warmup):
    now = time.perf_counter_ns
    for _ in range(warmup):
        fn()
    out = [0] * n
    for i in range(n):
        t = now()
        fn()
        out[i] = now() - t
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--socket", required=True, help="cairnd's socket")
    ap.add_argument("--echo", help="a Unix-socket echo server (omit to skip the socket baseline)")
    ap.add_argument("--hunt", type=int, help="a hunt on map 0 (made here when omitted)")
    ap.add_argument("--player", type=int, help="a player of that hunt (joined here when omitted)")
    ap.add_argument("--samples", type=int, default=100000)
    ap.add_argument("--warmup", type=int, default=10000)
    ap.add_argument("--raw", metavar="PREFIX",
                    help="write every timed round trip to PREFIX.ping, PREFIX.move and "
                         "PREFIX.socket (little-endian uint64 ns)")
    ap.add_argument("--throughput-ms", type=int, default=2000,
                    help="how long to measure MOVE throughput, ms (0: skip)")
    ap.add_argument("--batch", type=int, default=256,
                    help="moves per move_many call in the throughput")
    a = ap.parse_args()
    if a.samples <= 0 or a.warmup < 0 or a.throughput_ms < 0 or a.batch <= 0:
        ap.error("--samples and --batch must be positive, --warmup and --throughput-ms "
                 "not negative")

    out = {"lang": "python"}
    raw = {}
    c = cairn.Client(a.socket, name="cairn_bench_py")
    hunt, player = a.hunt, a.player
    if hunt is None:
        hunt = c.hunt_create().hunt_id
    if player is None:
        player = c.join(hunt, 1500, 1500)

    print("ping: %d samples" % a.samples, file=sys.stderr)
    ping = c.ping
    raw["ping"] = time_loop(ping, a.samples, a.warmup)
    out["ping"] = stats(raw["ping"])

    # Two points 1 mm apart in the cell where the player stands: both passable, and a
    # 1 mm step is within any speed limit a hunt could have at these rates... nearly:
    # moves are checked against ingress time, so keep the step as small as it gets.
    st = c.player_state(hunt, player)
    x, y = st.x, st.y
    cell = c.read_hunt(hunt).cell_mm
    x2 = x + 1 if (x + 1) // cell == x // cell else x - 1
    pts = [(x2, y), (x, y)]
    k = [0]
    move = c.move

    def one_move():
        px, py = pts[k[0] & 1]
        k[0] += 1
        move(hunt, player, px, py)

    print("move: %d samples (hunt %d, player %d, (%d, %d) <-> (%d, %d))"
          % (a.samples, hunt, player, x, y, x2, y), file=sys.stderr)
    raw["move"] = time_loop(one_move, a.samples, a.warmup)
    out["move"] = stats(raw["move"])

    if a.throughput_ms > 0:
        moves = [(player,) + pts[i & 1] for i in range(a.batch)]
        print("throughput: move_many, batches of %d, for %d ms" % (a.batch, a.throughput_ms),
              file=sys.stderr)
        n, ns = throughput(c, hunt, moves, a.throughput_ms)
        out["throughput_per_s"] = round(n * 1e9 / ns)
        out["parallelism"] = a.batch
        out["throughput_moves"] = n
        print("throughput: %d moves in %.3f s: %d/s" % (n, ns / 1e9, out["throughput_per_s"]),
              file=sys.stderr)
    c.close()

    if a.echo:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(a.echo)
        sendall, recv_into = s.sendall, s.recv_into
        buf = bytearray(56)
        view = memoryview(buf)

        def echo():
            sendall(MSG)
            got = 0
            while got < 56:
                n = recv_into(view[got:])
                if n == 0:
                    raise EOFError("the echo server closed the connection")
                got += n

        print("socket: %d samples" % a.samples, file=sys.stderr)
        raw["socket"] = time_loop(echo, a.samples, a.warmup)
        out["socket"] = stats(raw["socket"])
        s.close()
        if buf != MSG:
            raise SystemExit("the echo server did not echo")

    if a.raw:
        for k, v in raw.items():
            write_raw("%s.%s" % (a.raw, k), v)

    print(json.dumps(out, separators=(",", ":")))


if __name__ == "__main__":
    main()
