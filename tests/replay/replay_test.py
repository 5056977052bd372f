#!/usr/bin/env python3
"""cairn-replay against data directories written by replay-gen.

    replay_test.py CAIRN_REPLAY REPLAY_GEN

Exit 0 pass, 1 fail (meson's convention). Every case says what it checks; a failure
prints the command, its exit status and its output.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

REPLAY, GEN = sys.argv[1], sys.argv[2]
N = 30000
HASH_AT = [5000, 12345, 25000]
SNAPSHOTS = [10000, 20000]
failures = 0


def fail(what, proc=None):
    global failures
    failures += 1
    print(f"FAIL {what}", file=sys.stderr)
    if proc is not None:
        print(f"  $ {' '.join(proc.args)}\n  exit {proc.returncode}", file=sys.stderr)
        print("  stdout: " + proc.stdout[-2000:].replace("\n", "\n          "), file=sys.stderr)
        print("  stderr: " + proc.stderr[-2000:].replace("\n", "\n          "), file=sys.stderr)


def run(*args, want=0, what=None):
    proc = subprocess.run([REPLAY, *args], capture_output=True, text=True, timeout=120)
    if want is not None and proc.returncode != want:
        fail(f"{what or ' '.join(args)}: exit {proc.returncode}, expected {want}", proc)
    return proc


def hash_lines(out):
    """{lsn: (hash, records)} of the lines 'lsn=N hash=0x... records=N'."""
    lines = {}
    for m in re.finditer(r"^lsn=(\d+) hash=(0x[0-9a-f]{16}) records=(\d+)$", out, re.M):
        lines[int(m.group(1))] = (m.group(2), int(m.group(3)))
    return lines


def final_hash(proc):
    lines = hash_lines(proc.stdout)
    return lines[max(lines)] if lines else (None, None)


def check(cond, what, proc=None):
    if not cond:
        fail(what, proc)


def main():
    tmp = tempfile.mkdtemp(prefix="cairn-replay-test-")
    try:
        cases(tmp)
    finally:
        if os.environ.get("CAIRN_KEEP_TMP") != "1":
            shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        print(f"{failures} check(s) failed", file=sys.stderr)
        return 1
    print("ok")
    return 0


def cases(tmp):
    data = os.path.join(tmp, "data")
    args = [GEN, data, "--records", str(N), "--seed", "7", "--segment-mb", "1",
            "--rollback-every", "1000"]
    for lsn in SNAPSHOTS:
        args += ["--snapshot-at", str(lsn)]
    for lsn in HASH_AT:
        args += ["--hash-at", str(lsn)]
    gen = subprocess.run(args, capture_output=True, text=True, timeout=120)
    if gen.returncode != 0:
        fail("replay-gen", gen)
        return
    want = {int(m.group(1)): m.group(2)
            for m in re.finditer(r"^lsn=(\d+) hash=(0x[0-9a-f]{16})$", gen.stdout, re.M)}
    m = re.search(r"^final lsn=(\d+) hash=(0x[0-9a-f]{16}) rollbacks=(\d+)", gen.stdout, re.M)
    final, rollbacks = m.group(2), int(m.group(3))
    check(rollbacks > 0, f"the generated log holds rollbacks ({rollbacks})", gen)
    print(f"generated {N} records, {rollbacks} rollbacks, final hash {final}")

    # Replayed twice from an empty state: the same hash, the generator's.
    a = run(data, what="replay")
    b = run("--no-snapshot", data, what="replay --no-snapshot")
    check(final_hash(a) == (final, N), f"replay: {final_hash(a)}, expected ({final}, {N})", a)
    check(final_hash(b) == final_hash(a), "two replays disagree", b)
    check("from an empty state" in a.stderr, "a log from LSN 1 replays from an empty state", a)

    # --until: the hash the generator saw at that LSN, from the start or from a snapshot.
    for lsn in HASH_AT:
        p = run("--until", str(lsn), "--no-snapshot", data)
        check(final_hash(p) == (want[lsn], lsn), f"--until {lsn}: {final_hash(p)}", p)
        p = run("--until", str(lsn), "--from-snapshot", data)
        snap = max([s for s in SNAPSHOTS if s <= lsn], default=0)
        check(final_hash(p) == (want[lsn], lsn - snap),
              f"--until {lsn} --from-snapshot: {final_hash(p)}, from {snap}", p)
        if snap:
            check(f"(LSN {snap})" in p.stderr, f"--until {lsn} starts from snapshot {snap}", p)
    p = run("--until", str(N + 5), data, want=1, what="--until past the end")
    check("before --until" in p.stderr, "--until past the end says so", p)

    # --hash-every: lines at the multiples, agreeing with the generator and the end.
    p = run("--hash-every", "5000", data)
    lines = hash_lines(p.stdout)
    check(sorted(lines) == list(range(5000, N + 1, 5000)), f"--hash-every lines {sorted(lines)}", p)
    check(lines.get(5000, (None,))[0] == want[5000], "--hash-every 5000 agrees at 5000", p)
    check(lines.get(25000, (None,))[0] == want[25000], "--hash-every 5000 agrees at 25000", p)

    # --json: one object per line, the last the summary.
    p = run("--json", "--hash-every", "10000", data)
    objs = [json.loads(line) for line in p.stdout.splitlines()]
    check(len(objs) == 4 and objs[-1].get("summary") is True, "--json lines", p)
    s = objs[-1]
    check(s["hash"] == final and s["lsn"] == N and s["records"] == N and s["end"] == "clean"
          and not s["from_snapshot"], f"--json summary {s}", p)

    # --pace original, sped up: the same hash, and no faster than the stamps allow.
    p = run("--pace", "original", "--speed", "50", "--until", "2000", "--json", data)
    s = json.loads(p.stdout.splitlines()[-1])
    d = subprocess.run([REPLAY, "--dump", "--until", "2000", data], capture_output=True,
                       text=True).stdout.splitlines()
    stamps = [int(re.search(r"ingress_ns=(\d+)", line).group(1)) for line in d]
    span = (stamps[-1] - stamps[0]) / 1e9 / 50
    fast = json.loads(run("--until", "2000", "--json", data).stdout.splitlines()[-1])
    check(s["hash"] == fast["hash"], f"--pace original: {s['hash']}, fast: {fast['hash']}", p)
    check(s["seconds"] >= span * 0.9, f"--pace original --speed 50 took {s['seconds']} s, "
          f"the stamps say {span:.3f} s", p)

    # --verify on the clean log.
    p = run("--verify", data)
    check(f"verified records={N} first_lsn=1 last_lsn={N}" in p.stdout and "end=clean" in p.stdout
          and "snapshots=2 snapshots_linked=2" in p.stdout, "--verify clean", p)

    # --dump: one line per record, with type names and fields by name.
    p = run("--dump", data)
    lines = p.stdout.splitlines()
    check(len(lines) == N, f"--dump prints {len(lines)} lines for {N} records", p)
    check(all(line.startswith(f"lsn={i + 1} kind=") for i, line in enumerate(lines)),
          "--dump lines are in LSN order", p)
    check(lines[0].startswith("lsn=1 kind=command session=0x") and " type=HUNT_CREATE map_id=" in lines[0],
          f"--dump names the type and its fields: {lines[0]}", p)
    types = {re.search(r" type=(\w+)", line).group(1) for line in lines}
    check({"HUNT_CREATE", "JOIN", "MOVE", "LEAVE", "CLUE_PLACE", "CLUE_REMOVE", "ROLLBACK"} <= types,
          f"--dump shows every kind of command: {sorted(types)}", p)
    rb = [line for line in lines if "type=ROLLBACK" in line]
    check(len(rb) == rollbacks and all("kind=rollback" in line and "image_bytes=" in line and
                                       " hunt_id=0x" in line and " msg.lsn=" in line for line in rb),
          f"--dump rollback lines: {rb[:2]}", p)
    move = next(line for line in lines if " type=MOVE " in line)
    check(re.search(r" hunt_id=0x[0-9a-f]{8} player_id=0x[0-9a-f]{8} x=-?\d+ y=-?\d+$", move),
          f"--dump MOVE line: {move}", p)
    p = run("--dump", "--until", "50", data)
    check(len(p.stdout.splitlines()) == 50, "--dump --until 50 prints 50 lines", p)

    # A flipped bit in the middle of the log: --verify names it, replay stops there.
    bad = os.path.join(tmp, "bad")
    shutil.copytree(data, bad)
    seg = os.path.join(bad, "wal", "wal-0000000000000002.seg")
    with open(seg, "r+b") as f:
        f.seek(300000)
        b = f.read(1)
        f.seek(300000)
        f.write(bytes([b[0] ^ 0x10]))
    p = run("--verify", bad, want=1, what="--verify on a flipped bit")
    m = re.search(r"^damage file=(\S+) offset=(\d+) lsn=(\d+) reason=\"(.+)\"$", p.stdout, re.M)
    check(m is not None, "--verify prints a damage line", p)
    if m:
        check(m.group(1) == "wal-0000000000000002.seg", f"damage in {m.group(1)}", p)
        check(300000 - 48 - 200 <= int(m.group(2)) <= 300000, f"damage at offset {m.group(2)}", p)
        lsn = int(m.group(3))
        check(1 < lsn < N, f"damage at LSN {lsn}", p)
        v = re.search(r"verified records=(\d+) ", p.stdout)
        check(v and int(v.group(1)) == lsn - 1, f"records verified before the damage: {v and v.group(1)}", p)
        r = run("--no-snapshot", "--json", bad, want=1, what="replay of a damaged log")
        s = json.loads(r.stdout.splitlines()[-1])
        check(s["end"] == "damaged" and s["lsn"] == lsn - 1 and s["damage_lsn"] == lsn,
              f"replay stops before the damage: {s}", r)

    # A bare excerpt: the later segments only, snapshots and maps beside it.
    ex_root = os.path.join(tmp, "excerpt")
    ex = os.path.join(ex_root, "log")
    os.makedirs(ex)
    for name in sorted(os.listdir(os.path.join(data, "wal")))[1:]:
        shutil.copy(os.path.join(data, "wal", name), ex)
    shutil.copytree(os.path.join(data, "snapshots"), os.path.join(ex_root, "snapshots"))
    shutil.copytree(os.path.join(data, "maps"), os.path.join(ex_root, "maps"))
    p = run("--json", ex, what="replay of a bare excerpt")
    s = json.loads(p.stdout.splitlines()[-1])
    check(s["hash"] == final and s["lsn"] == N and s["from_snapshot"] and s["first_lsn"] > 1,
          f"the excerpt replays from a snapshot to the same hash: {s}", p)
    p = run("--until", "25000", ex)
    check(final_hash(p) == (want[25000], 5000), f"the excerpt --until 25000: {final_hash(p)}", p)
    p = run("--no-snapshot", ex, want=2, what="--no-snapshot on an excerpt")
    check("needs a snapshot" in p.stderr, "--no-snapshot on an excerpt says why", p)
    p = run("--verify", ex)
    check("end=clean" in p.stdout and "snapshots_linked=2" in p.stdout, "--verify of the excerpt", p)
    # Snapshots inside the excerpt directory work too; without any, there is no start.
    inner = os.path.join(tmp, "inner")
    shutil.copytree(ex, inner)
    shutil.copytree(os.path.join(ex_root, "snapshots"), os.path.join(inner, "snapshots"))
    shutil.copytree(os.path.join(ex_root, "maps"), os.path.join(inner, "maps"))
    p = run(inner, what="replay of an excerpt with its snapshots inside")
    check(final_hash(p)[0] == final, "the excerpt with snapshots inside", p)
    shutil.rmtree(os.path.join(inner, "snapshots"))
    p = run(inner, want=1, what="an excerpt without snapshots")
    check("no snapshot" in p.stderr, "an excerpt without snapshots says why", p)

    # Bad usage: exit 2 with a message.
    for bad_args in ([], ["--pace", "slow", data], ["--speed", "2", data], ["--bogus", data],
                     ["--until", "x", data], ["--dump", "--verify", data],
                     ["--verify", "--hash-every", "3", data], [data, data],
                     [os.path.join(tmp, "nowhere")], [tmp]):
        p = run(*bad_args, want=2, what=f"usage {bad_args}")
        check(p.stderr.startswith("cairn-replay: "), f"usage {bad_args} says why", p)
    p = run("--help")
    check("Exit status" in p.stdout, "--help documents the exit status", p)


if __name__ == "__main__":
    sys.exit(main())
