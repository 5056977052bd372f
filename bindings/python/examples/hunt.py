#!/usr/bin/env python3
"""A small game-server host: joins players to a hunt, walks them to clues along the
daemon's shortest paths, reacts to claim events by placing a new clue, and prints what
happened.

    python3 examples/hunt.py --socket PATH [--players 8] [--clues 4] [--seconds 5]
"""

import argparse
import random
import threading
import time

import cairn

# Open cells of the embedded map to start from and to hide clues in (millimetres).
SPOTS = [(1500, 1500), (4500, 1500), (1500, 4500), (6500, 2500), (2500, 6500),
         (9500, 3500), (3500, 9500), (12500, 1500)]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--socket", help="cairnd's socket (default: cairn's default path)")
    ap.add_argument("--players", type=int, default=8)
    ap.add_argument("--clues", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=5.0)
    a = ap.parse_args()
    rng = random.Random(7)

    c = cairn.Client(a.socket, name="hunt.py")
    hunt = c.hunt_create()
    hid = hunt.hunt_id
    print("hunt %d on a %d x %d map (%s)" % (hid, hunt.width, hunt.height, c.read_map(hunt.map_id).name))

    # The feed from now on: a thread reacts to claims while the main thread plays.
    feed = c.events()
    stop = threading.Event()
    claims = []

    def place_clue():
        while True:
            x, y = rng.randrange(1, hunt.width - 1) * 1000 + 500, rng.randrange(1, hunt.height - 1) * 1000 + 500
            try:
                return c.clue_place(hid, x, y, rng.randrange(1, 10))
            except cairn.BlockedError:
                continue  # a wall: try elsewhere

    def react():
        while not stop.is_set():
            for e in feed.read(timeout=0.2):
                if e.hunt_id != hid:
                    continue
                if e.type == cairn.EVENT_CLUE_CLAIMED:
                    claims.append(e)
                    print("  claim: player %d took clue %d worth %d at (%d, %d)"
                          % (e.player_id, e.clue_id, e.value, e.x, e.y))
                    place_clue()  # the game goes on
                elif e.type == cairn.EVENT_PLAYER_JOINED:
                    print("  joined: player %d at (%d, %d)" % (e.player_id, e.x, e.y))

    reactor = threading.Thread(target=react, name="events")
    reactor.start()

    players = [c.join(hid, *SPOTS[i % len(SPOTS)]) for i in range(a.players)]
    for _ in range(a.clues):
        place_clue()

    # Each round: every player takes the first step of its way to the nearest clue, all
    # moves of the round in one pipelined batch.
    rounds = moves = rejected = 0
    end = time.monotonic() + a.seconds
    while time.monotonic() < end:
        pairs, who = [], []
        for p in players:
            st = c.player_state(hid, p)
            near = c.nearest_clues(hid, st.x, st.y, 1)
            if near:
                pairs.append((st.x, st.y, near[0].x, near[0].y))
                who.append((p, near[0]))
        if not pairs:
            time.sleep(0.01)
            continue
        steps = c.next_moves(hid, pairs[:cairn._protocol.MAX_PATH_BATCH])
        batch = []
        for (p, clue), step in zip(who, steps):
            if step.status == 0:
                # Step to the cell centre, or onto the clue itself in its own cell.
                same = step.x // 1000 == clue.x // 1000 and step.y // 1000 == clue.y // 1000
                batch.append((p, clue.x, clue.y) if same or step.dir == 8 else (p, step.x, step.y))
        for r in c.move_many(hid, batch):
            moves += 1
            rejected += isinstance(r, cairn.Error)
        rounds += 1

    time.sleep(0.3)  # let the reactor see the last events
    stop.set()
    reactor.join()

    print("%d rounds, %d moves (%d rejected), %d claims" % (rounds, moves, rejected, len(claims)))
    for rank, hit in enumerate(c.leaderboard(hid, 3), 1):
        print("  #%d player %d: %d points" % (rank, hit.id, hit.value))
    c.hunt_destroy(hid)
    c.close()


if __name__ == "__main__":
    main()
