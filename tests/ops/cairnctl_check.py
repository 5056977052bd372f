#!/usr/bin/env python3
"""cairnctl against a live daemon, and each of its error paths.

usage: cairnctl_check.py CAIRND OPS_HOST CAIRNCTL

Two hosts and a hunt: 'clients' and 'hunts' list exactly them (as tables and as JSON),
'wal' gives the log's position, 'snapshot' writes one, 'rollback' puts the hunt back to
an earlier LSN. 'evict' of one host: its calls fail with EVICTED from then on, it does
not reattach, the other host goes on; a client cannot evict itself; an unknown id, no
daemon and bad arguments each get their exit status and a sentence.
"""
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import opskit  # noqa: E402
from opskit import check, eq, ok  # noqa: E402

opskit.reexec()

CAIRNCTL = None


def ctl(sock, *args):
    """Runs cairnctl; returns (exit status, stdout, stderr)."""
    a = [CAIRNCTL] + (["--socket", sock] if sock else []) + list(args)
    p = subprocess.run(a, capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def ctl_ok(sock, *args):
    rc, out, err = ctl(sock, *args)
    check(rc == 0, "cairnctl %s exited %d: %s%s" % (" ".join(args), rc, out, err))
    return out


def table(out):
    """The rows of a cairnctl table as dicts keyed by the header's column names."""
    lines = out.strip().splitlines()
    cols = lines[0].split()
    return [dict(zip(cols, l.split())) for l in lines[1:] if not l.startswith("(")]


def main():
    global CAIRNCTL
    if len(sys.argv) != 4:
        print("usage: cairnctl_check.py CAIRND OPS_HOST CAIRNCTL", file=sys.stderr)
        sys.exit(2)
    cairnd, ops_host, CAIRNCTL = sys.argv[1:4]
    errors_without_daemon()
    bad_arguments()
    d = opskit.Daemon(cairnd)
    hosts = []
    try:
        live(d, ops_host, hosts)
        for h in hosts:
            h.close()
        d.stop()
    except BaseException:
        if d.alive():
            d.print_log()
        raise
    finally:
        for h in hosts:
            h.close()
        d.cleanup()


def errors_without_daemon():
    nowhere = "/tmp/cairn-ops-no-such-dir-%d/cairnd.sock" % os.getpid()
    for args in (["clients"], ["hunts"], ["--json", "clients"], ["wal"], ["snapshot"], ["evict", "5"],
                 ["rollback", "1", "2"]):
        rc, out, err = ctl(nowhere, *args)
        eq("cairnctl %s without a daemon: exit status" % " ".join(args), rc, 1)
        check("no cairnd at %s" % nowhere in err and "is it running" in err,
              "cairnctl %s without a daemon says %r" % (" ".join(args), err))
        eq("stdout without a daemon", out, "")
    ok("no daemon: every command exits 1 with 'no cairnd at PATH: ... (is it running? --socket?)'")


def bad_arguments():
    cases = [[], ["frobnicate"], ["evict"], ["evict", "abc"], ["evict", "0"], ["evict", "1", "2"],
             ["rollback", "1"], ["rollback", "x", "2"], ["clients", "extra"], ["--json", "snapshot"],
             ["--no-such-option", "clients"]]
    for args in cases:
        rc, out, err = ctl("/nonexistent.sock", *args)
        eq("cairnctl %r: exit status" % args, rc, 2)
        check(err.strip(), "cairnctl %r printed nothing on stderr" % args)
    rc, out, _ = ctl(None, "--help")
    eq("--help", rc, 0)
    for word in ("clients", "hunts", "evict", "wal", "snapshot", "rollback", "--json"):
        check(word in out, "--help does not mention %s" % word)
    ok("bad arguments (%d cases) exit 2 with a message; --help lists every command" % len(cases))


def live(d, ops_host, hosts):
    sock = d.sock
    a = opskit.Host(ops_host, sock, "alpha")
    hosts.append(a)
    b = opskit.Host(ops_host, sock, "beta")
    hosts.append(b)
    hunt = a.must("hunt 1")
    for i in range(3):
        a.must("join %d %d %d" % (hunt, 500 + 1000 * i, 500))
    for i in range(2):
        a.must("clue %d %d %d" % (hunt, 500 + 1000 * i, 5500))
    b.must("ping 4")
    uid = str(os.getuid())
    # The lanes' counters are published by the apply thread before it sleeps.
    time.sleep(0.2)

    rows = table(ctl_ok(sock, "clients"))
    eq("clients listed", sorted(r["NAME"] for r in rows), ["alpha", "beta"])
    for h, n in ((a, 6), (b, 4)):
        r = next(r for r in rows if r["NAME"] == h.name)
        eq("%s row" % h.name, (r["LANE"], r["CLIENT"], r["PID"], r["UID"], r["COMMANDS"], r["RESULTS"], r["DEPTH"]),
           (str(h.lane), str(h.client), str(h.pid), uid, str(n), str(n), "0"))
    doc = json.loads(ctl_ok(sock, "--json", "clients"))
    eq("--json daemon_pid", doc["daemon_pid"], d.pid)
    byname = {c["name"]: c for c in doc["clients"]}
    eq("--json clients", sorted(byname), ["alpha", "beta"])
    eq("--json alpha", {k: byname["alpha"][k] for k in ("lane", "client_id", "pid", "uid", "commands", "results", "depth")},
       {"lane": a.lane, "client_id": a.client, "pid": a.pid, "uid": os.getuid(), "commands": 6, "results": 6, "depth": 0})
    check(0 <= byname["beta"]["age_s"] < 60, "beta's age %r" % byname["beta"]["age_s"])
    ok("clients: alpha (client %d, lane %d, 6 commands) and beta (client %d, 4), as a table and as JSON"
       % (a.client, a.lane, b.client))

    rows = table(ctl_ok(sock, "hunts"))
    eq("hunts table", rows, [{"HUNT": "0x%08x" % hunt, "MAP": "open", "SIZE": "16x12", "PLAYERS": "3",
                              "CLUES": "2", "CLAIMED": "0"}])
    doc = json.loads(ctl_ok(sock, "--json", "hunts"))
    eq("--json hunts", doc, {"hunts": [{"hunt_id": hunt, "map_id": 1, "map": "open", "width": 16, "height": 12,
                                        "cell_mm": 1000, "players": 3, "clues": 2, "clues_claimed": 0}]})
    ok("hunts: 0x%08x on map open, 3 players, 2 clues, as a table and as JSON" % hunt)

    out = ctl_ok(sock, "wal")
    check("appended_lsn=6 durable_lsn=6" in out and "durability=sync" in out, "wal says %r" % out)
    doc = json.loads(ctl_ok(sock, "--json", "wal"))
    eq("--json wal", (doc["appended_lsn"], doc["durable_lsn"], doc["durability"], doc["error"]), (6, 6, "sync", None))
    out = ctl_ok(sock, "snapshot")
    check(out.startswith("snapshot lsn=6 "), "snapshot says %r" % out)
    eq("wal after the snapshot", json.loads(ctl_ok(sock, "--json", "wal"))["snapshot_lsn"], 6)
    # LSN 4: the hunt and its three players, before the clues.
    out = ctl_ok(sock, "rollback", str(hunt), "4")
    check("to lsn=4" in out and "players=3 clues=0" in out, "rollback says %r" % out)
    eq("clues after the rollback", json.loads(ctl_ok(sock, "--json", "hunts"))["hunts"][0]["clues"], 0)
    ok("wal at LSN 6 (table and JSON); snapshot at LSN 6; rollback to LSN 4 took the 2 clues away")

    # Evicting.
    rc, out, err = ctl(sock, "evict", "999")
    eq("evict of an unknown id: exit status", rc, 1)
    check("no client with id 999 is attached" in err, "evict 999 says %r" % err)
    eq("a host evicting itself", a.send("evict %d" % a.client)[:3], ["err", "1024", "BAD_VALUE"])
    attached_before = len(table(ctl_ok(sock, "clients")))
    out = ctl_ok(sock, "evict", str(a.client))
    check(out.startswith("evicted client %d (lane %d, pid %d" % (a.client, a.lane, a.pid)), "evict says %r" % out)
    for i in range(3):
        eq("alpha's call %d after the eviction" % (i + 1), a.send("ping 1")[:3], ["err", "1039", "EVICTED"])
    eq("alpha's game call after the eviction", a.send("join %d 500 500" % hunt)[:3], ["err", "1039", "EVICTED"])
    # Long enough for a reattach, which libcairn would try at once after a disconnect.
    time.sleep(1.0)
    eq("alpha still refused", a.send("ping 1")[:3], ["err", "1039", "EVICTED"])
    rows = table(ctl_ok(sock, "clients"))
    eq("clients after the eviction", [r["NAME"] for r in rows], ["beta"])
    eq("clients count", len(rows), attached_before - 1)
    b.must("ping 10")
    g = opskit.Host(ops_host, sock, "gamma")
    hosts.append(g)
    check(g.client > b.client, "a new client got an old id")
    check("evicted client %d (pid %d, \"alpha\"" % (a.client, a.pid) in d.read_log(),
          "the daemon did not log the eviction")
    rc, out, err = ctl(sock, "evict", str(a.client))
    eq("evict of an evicted client: exit status", rc, 1)
    ok("evict: unknown id exits 1; self-eviction refused (BAD_VALUE); alpha's calls all return EVICTED, "
       "it did not reattach, beta goes on, the daemon logged it, a second evict exits 1")


if __name__ == "__main__":
    opskit.run(main)
