#!/usr/bin/env python3
"""Round trips from one Python caller: PING and MOVE through cairnd, and a 56-byte
sendall + recv against a Unix-socket echo server, for comparison.

    cairn_bench_py.py --socket S --echo E --hunt H --player P [--samples N] [--warmup N]

Prints one JSON line on stdout (nanoseconds, time.perf_counter_ns):
{"lang":"python","ping":{"n":..,"p50":..,"p90":..,"p99":..,"p999":..,"mean":..},"move":{...},"socket":{...}}
Progress goes to stderr.
"""

import argparse
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
            "mean": round(sum(s) / n, 1)}


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
    a = ap.parse_args()

    out = {"lang": "python"}
    c = cairn.Client(a.socket, name="cairn_bench_py")
    hunt, player = a.hunt, a.player
    if hunt is None:
        hunt = c.hunt_create().hunt_id
    if player is None:
        player = c.join(hunt, 1500, 1500)

    print("ping: %d samples" % a.samples, file=sys.stderr)
    ping = c.ping
    out["ping"] = stats(time_loop(ping, a.samples, a.warmup))

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
    out["move"] = stats(time_loop(one_move, a.samples, a.warmup))
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
        out["socket"] = stats(time_loop(echo, a.samples, a.warmup))
        s.close()
        if buf != MSG:
            raise SystemExit("the echo server did not echo")

    print(json.dumps(out, separators=(",", ":")))


if __name__ == "__main__":
    main()
