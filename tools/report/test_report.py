#!/usr/bin/env python3
"""The report's regression guard and summary, against made-up benchmark output.

report.py --from DIR writes the report from DIR/raw/*.json without measuring; here those
files are written by this test, so that it knows what the report must say: the guard
passes a run whose ratios are above their floors, fails (exit 1, "BELOW") one whose ratio
is not, and the summary carries each transport's figures.
"""

import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPORT = os.path.join(HERE, "report.py")
Q = [0.0, 0.5, 0.99, 1.0]


def rt(name, p50, p99, table="round trip, one call at a time"):
    return {"table": table, "name": name, "samples": 1000, "p50_ns": p50, "p90_ns": p50,
            "p99_ns": p99, "p999_ns": p99, "max_ns": p99 * 2, "mean_ns": p50,
            "cdf_ns": [p50 // 2, p50, p99, p99 * 2]}


def cmp(name, ratio):
    return {"table": "cairn against the baselines", "name": name, "cairn": 1, "baseline": ratio,
            "times_better": ratio}


def docs(socket_ratio):
    machine = {"cpu_model": "Test CPU 9000", "virtualized": False, "online_cpus": 2,
               "usable_cpus": "0-1", "kernel": "Linux test", "busy_pct_before_run": 0}
    baselines = {
        "benchmark": "baselines", "title": "made up", "machine": machine, "cdf_quantiles": Q,
        "placement": [{"who": "client", "cpus": "CPU 0"}], "parameters": {"mode": "quick"},
        "rows": [
            rt("cairn PING (cairn_ping)", 400, 600),
            rt("cairn MOVE (cairn_move)", 450, 700),
            rt("Unix socket PING", 400 * socket_ratio, 60000),
            rt("Unix socket MOVE", 450 * socket_ratio, 61000),
            rt("gRPC PING (unary, via cairnd)", 30000, 80000),
            rt("Redis PING", 58000, 120000),
            rt("Redis GEOADD (a MOVE)", 59000, 130000),
            {"table": "throughput, commands in flight", "name": "gRPC MOVE, one stream",
             "median_per_s": 358000.0},
            cmp("PING p50, vs the socket", socket_ratio),
            cmp("MOVE p50, vs the socket", socket_ratio),
            cmp("PING p99, vs the socket", 100),
            cmp("PING p50, vs Redis PING", 145),
            cmp("MOVE p50, vs Redis GEOADD", 131),
            cmp("PING p50, vs gRPC", 75),
            cmp("batched MOVEs/s, vs the socket", 2.5),
            cmp("durable MOVEs/s, vs Redis AOF always", 7),
        ],
        "targets": [{"what": "PING p50, times lower than the socket", "op": ">=", "limit": 100,
                     "unit": "times", "value": socket_ratio, "measured": True,
                     "met": socket_ratio >= 100}],
    }
    metrics = {"benchmark": "metrics", "machine": machine, "rows": [
        {"table": "t", "name": "metrics on", "median": 9.5e6},
        {"table": "t", "name": "metrics off", "median": 1.0e7}]}
    return {"baselines": baselines, "metrics": metrics}


def report(tmp, socket_ratio):
    src = os.path.join(tmp, "in-%g" % socket_ratio)
    os.makedirs(os.path.join(src, "raw"))
    for name, doc in docs(socket_ratio).items():
        with open(os.path.join(src, "raw", name + ".json"), "w") as f:
            json.dump(doc, f)
    with open(os.path.join(src, "raw", "report.json"), "w") as f:
        json.dump({"uring": "io_uring backend (test)", "work": "/var/tmp", "filesystem": "ext4",
                   "date": "2026-01-01", "total_s": 1.0}, f)
    out = os.path.join(tmp, "out-%g" % socket_ratio)
    p = subprocess.run([sys.executable, REPORT, "--quick", "--from", src, "--out", out],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    with open(os.path.join(out, "RESULTS.md")) as f:
        return p.returncode, f.read(), p.stderr


def expect(cond, what, text=""):
    if not cond:
        print("FAIL: %s\n%s" % (what, text[-3000:]))
        sys.exit(1)


def main():
    with tempfile.TemporaryDirectory() as tmp:
        rc, md, err = report(tmp, 140)
        expect(rc == 0, "ratios above every floor: exit 0, not %d" % rc, err)
        expect("Test CPU 9000" in md and "io_uring backend (test)" in md, "the machine", md)
        expect("| Unix socket, the engine behind a length-prefixed protocol (C) | 56.0 µs |" in md,
               "the socket's PING p50 in the summary", md)
        expect("gRPC, unary calls" in md and "30.0 µs" in md and "358 k/s" in md,
               "the gRPC rows in the summary", md)
        expect("BELOW" not in md, "no guard below its floor", md)
        expect("| 95.0 % | 80 | ok |" in md, "the metrics guard (95 % of off)", md)

        rc, md, err = report(tmp, 40)
        expect(rc == 1, "a ratio under its floor (40x < 50x): exit 1, not %d" % rc, err)
        expect(md.count("**BELOW**") == 2, "PING and MOVE p50 against the socket below", md)
        expect("guard BELOW" in err, "the guard names what fell on stderr", err)
        expect("— **missed**" in md, "the benchmark's own target shown missed", md)
    print("report: the guard passes and fails as it should; the summary has every transport")


if __name__ == "__main__":
    main()
