#!/usr/bin/env python3
"""cairn's benchmark report: every cairn-bench run of one machine, in one document.

    report.py --bench BUILD/tools/bench/cairn-bench --cairnd BUILD/src/cairnd
              [--out bench] [--quick] [--only baselines,bindings,...]

Runs each benchmark with --json (and --quick), keeps the raw JSON in OUT/raw/, and
writes OUT/RESULTS.md: the machine (CPU, cores, kernel, io_uring), how threads were
placed, a summary of cairn against the other transports side by side, every
benchmark's own tables and targets. With matplotlib it also draws OUT/latency.png (the
round-trip distributions, from each row's measured quantiles) and OUT/throughput.png.

--quick is the regression guard that CI runs: shorter benchmarks, and exit status 1 when
a ratio the report claims (cairn against a baseline measured in the same run, see GUARDS)
falls below its floor, or when a benchmark fails. Absolute times are reported, never
judged, in that mode: they depend on the machine; ratios of the same run much less.
"""

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

# The benchmarks, in the order they run: name, extra arguments of the full run.
BENCHES = [
    ("rtt", []),
    ("e2e", []),
    ("baselines", []),
    ("bindings", []),
    ("wal", []),
    # Fewer A* and JPS scenarios than the benchmark's own default on the largest maps,
    # so that the whole report stays within 10 minutes on 2 cores; every answer is still
    # checked against the optimal length.
    ("solver", ["--astar-max", "300", "--max", "3000"]),
    ("metrics", []),
    ("scale", []),
]

# What --quick holds: (benchmark, table, row, field, floor, what it guards). Each floor is
# well under what the full report measures on the 2-core machine of bench/RESULTS.md, so
# that a noisy CI machine passes and a real regression (a lost spin, a syscall on the
# fast path, a lock in the apply loop) does not.
GUARDS = [
    ("baselines", "cairn against the baselines", "PING p50, vs the socket", "times_better", 50,
     "cairn PING p50 at least 50x lower than the Unix-socket engine's"),
    ("baselines", "cairn against the baselines", "MOVE p50, vs the socket", "times_better", 50,
     "cairn MOVE p50 at least 50x lower than the Unix-socket engine's"),
    ("baselines", "cairn against the baselines", "PING p99, vs the socket", "times_better", 15,
     "cairn PING p99 at least 15x lower than the Unix-socket engine's"),
    ("baselines", "cairn against the baselines", "PING p50, vs Redis PING", "times_better", 25,
     "cairn PING p50 at least 25x lower than Redis PING"),
    ("baselines", "cairn against the baselines", "MOVE p50, vs Redis GEOADD", "times_better", 25,
     "cairn MOVE p50 at least 25x lower than Redis GEOADD"),
    ("baselines", "cairn against the baselines", "PING p50, vs gRPC", "times_better", 20,
     "cairn PING p50 at least 20x lower than a unary gRPC call"),
    ("baselines", "cairn against the baselines", "batched MOVEs/s, vs the socket", "times_better",
     1.5, "batched MOVE throughput at least 1.5x the pipelined socket's"),
    ("baselines", "cairn against the baselines", "durable MOVEs/s, vs Redis AOF always",
     "times_better", 2, "durable MOVE throughput at least 2x Redis with appendfsync always"),
]
METRICS_FLOOR = 80.0  # batched MOVE throughput with metrics on, % of off

ROUND_TRIP_TABLE = "round trip, one call at a time"
THROUGHPUT_TABLE = "throughput, commands in flight"


ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def scrub(v):
    """v with this checkout's path (and the home directory) made relative: the report is
    committed, and says nothing of where the tree happened to be."""
    if isinstance(v, str):
        v = v.replace(ROOT + "/", "").replace(ROOT, ".")
        home = os.path.expanduser("~")
        return v.replace(home + "/", "~/") if home not in ("/", "") else v
    if isinstance(v, list):
        return [scrub(x) for x in v]
    if isinstance(v, dict):
        return {k: scrub(x) for k, x in v.items()}
    return v


def run_bench(bench, cairnd, name, extra, quick):
    cmd = [bench, name, "--json"] + (["--quick"] if quick else extra) + ["--cairnd", cairnd]
    t0 = time.monotonic()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    secs = time.monotonic() - t0
    last = (p.stderr.strip().splitlines() or ["(nothing on stderr)"])[-1]
    if p.returncode == 77:
        return None, "skipped: " + last, secs, False
    try:
        doc = json.loads(p.stdout)
    except json.JSONDecodeError:
        tail = "\n".join(p.stderr.strip().splitlines()[-8:])
        return None, "FAILED (exit %d): %s" % (p.returncode, tail), secs, True
    if p.returncode not in (0, 1):
        return doc, "FAILED (exit %d): %s" % (p.returncode, last), secs, True
    return doc, None, secs, False


def probe_uring(cairnd, work):
    """What cairnd's --wal-backend=auto chooses here, in its own words, and the filesystem."""
    d = tempfile.mkdtemp(prefix="cairn-report-", dir=work)
    proc = None
    try:
        proc = subprocess.Popen([cairnd, "--socket", os.path.join(d, "s"), "--data-dir",
                                 os.path.join(d, "data"), "--durability", "sync",
                                 "--table-max-cells", "0"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line:
                break
            m = re.search(r"write-ahead log: (.*)", line)
            if m:
                return m.group(1).strip()
        return "unknown (cairnd did not say which log backend it chose)"
    finally:
        if proc:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(d, ignore_errors=True)


def filesystem_of(path):
    try:
        out = subprocess.run(["stat", "-f", "-c", "%T", path], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, text=True).stdout.strip()
        return out or "unknown"
    except OSError:
        return "unknown"


# ---- formatting ----

def fmt_ns(v):
    if v is None:
        return "-"
    if v < 1e3:
        return "%.0f ns" % v
    if v < 1e6:
        return "%.1f µs" % (v / 1e3)
    if v < 1e9:
        return "%.2f ms" % (v / 1e6)
    return "%.2f s" % (v / 1e9)


def fmt_rate(v):
    if v is None:
        return "-"
    if v >= 1e6:
        return "%.2f M/s" % (v / 1e6)
    if v >= 1e3:
        return "%.0f k/s" % (v / 1e3)
    return "%.0f /s" % v


def fmt_bytes(v):
    for unit, div in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if v >= div:
            return "%.1f %s" % (v / div, unit)
    return "%d B" % v


def fmt(key, v):
    if v is None:
        return "-"
    if isinstance(v, str):
        return v
    if isinstance(v, list):
        return "(%d values)" % len(v)
    if isinstance(v, bool):
        return "yes" if v else "no"
    if key.endswith("_ns"):
        return fmt_ns(v)
    if key.endswith("_per_s") or key in ("median", "min", "max"):
        return fmt_rate(v)
    if key.endswith("_bytes") or key == "bytes":
        return fmt_bytes(v)
    if key.endswith("_percent") or key.startswith("percent"):
        return "%.1f %%" % v
    if key in ("times_better", "times_lower", "ratio") or key.startswith("speedup"):
        return "%.3g×" % v
    if isinstance(v, float):
        return "%.4g" % v
    return str(v)


def md_table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return out + [""]


# ---- reading the documents ----

def rows_of(doc, table=None):
    return [r for r in (doc or {}).get("rows", []) if table is None or r.get("table") == table]


def row(doc, name, table=None, startswith=False):
    for r in rows_of(doc, table):
        n = r.get("name", "")
        if n == name or (startswith and n.startswith(name)):
            return r
    return None


def tables_md(doc):
    out, by = [], {}
    for r in doc.get("rows", []):
        by.setdefault(r.get("table", ""), []).append(r)
    for title, rows in by.items():
        keys = []
        for r in rows:
            for k in r:
                if k not in ("table", "name", "cdf_ns", "runs_per_s") and k not in keys:
                    keys.append(k)
        out.append("**%s**" % title if title else "")
        out.append("")
        out += md_table([""] + keys, [[r.get("name", "")] + [fmt(k, r.get(k)) for k in keys]
                                      for r in rows])
    return out


def targets_md(doc):
    out = []
    for t in doc.get("targets", []):
        state = ("met" if t.get("met") else
                 "not measured here" if not t.get("measured", True) else "**missed**")
        unit = t.get("unit", "")
        v = t.get("value")
        val = fmt_ns(v) if unit == "ns" else ("-" if v is None else "%.4g %s" % (v, unit))
        lim = fmt_ns(t.get("limit")) if unit == "ns" else "%.4g %s" % (t.get("limit"), unit)
        out.append("- %s: %s (target %s %s) — %s%s" % (
            t.get("what"), val, t.get("op"), lim, state,
            " (%s)" % t["how"] if t.get("how") else ""))
    return out


# ---- the summary ----

def summary_round_trips(docs):
    """(label, short label, PING row, MOVE row, benchmark) for every host and transport."""
    bl, bi = docs.get("baselines"), docs.get("bindings")
    out = []
    out.append(("cairn, C host (libcairn)", "cairn C", row(bl, "cairn PING (cairn_ping)"),
                row(bl, "cairn MOVE (cairn_move)"), "baselines"))
    for lang in ("C", "Go", "Python", "Node"):
        p, m = row(bi, "%s: cairn PING" % lang), row(bi, "%s: cairn MOVE" % lang)
        if lang == "C":
            label = "cairn, C host (libcairn), in the bindings run"
        else:
            label = "cairn, %s host (its binding)" % lang
        out.append((label, "cairn %s" % lang, p, m, "bindings"))
    out.append(("Unix socket, the engine behind a length-prefixed protocol (C)", "Unix socket",
                row(bl, "Unix socket PING"), row(bl, "Unix socket MOVE"), "baselines"))
    out.append(("gRPC, unary calls (grpc-go, server calling cairnd)", "gRPC",
                row(bl, "gRPC PING", startswith=True), row(bl, "gRPC MOVE", startswith=True),
                "baselines"))
    out.append(("Redis (hiredis): PING, GEOADD as MOVE", "Redis", row(bl, "Redis PING"),
                row(bl, "Redis GEOADD (a MOVE)"), "baselines"))
    return [o for o in out if o[2] or o[3]]


def summary_throughput(docs):
    bl, bi, wal = docs.get("baselines"), docs.get("bindings"), docs.get("wal")
    out = []

    def add(label, r, key, how):
        if r and isinstance(r.get(key), (int, float)):
            out.append((label, r[key], r.get("in_flight"), how))

    add("cairn, C host, batched, no log", row(bl, "cairn MOVE, batched, durability none"),
        "median_per_s", "baselines")
    add("cairn, C host, batched, durable (--durability sync)",
        row(bl, "cairn MOVE, batched, durability sync"), "median_per_s", "baselines")
    add("cairn, C host, batched, relaxed (--flush-ms 10)",
        row(wal, "relaxed, --flush-ms 10", startswith=True), "median_per_s", "wal")
    for r in rows_of(bi):
        if "throughput" in r.get("table", "").lower():
            for k in ("moves_per_s", "median_per_s", "throughput_per_s"):
                if isinstance(r.get(k), (int, float)):
                    out.append(("cairn, %s" % r["name"], r[k], r.get("parallelism",
                                r.get("in_flight")), "bindings"))
                    break
    add("Unix socket, pipelined", row(bl, "Unix socket MOVE, pipelined"), "median_per_s",
        "baselines")
    add("gRPC, one stream", row(bl, "gRPC MOVE, one stream"), "median_per_s", "baselines")
    add("Redis GEOADD, pipelined, no AOF", row(bl, "Redis GEOADD, pipelined, no AOF"),
        "median_per_s", "baselines")
    add("Redis GEOADD, pipelined, appendfsync always",
        row(bl, "Redis GEOADD, pipelined, AOF always"), "median_per_s", "baselines")
    return out


def summary_md(docs):
    md = ["## Summary: cairn against what a game server would use instead", ""]
    rts = summary_round_trips(docs)
    c = next((r for r in rts if r[0].startswith("cairn, C host")), None)
    base_p50 = c[2].get("p50_ns") if c and c[2] else None
    rows = []
    for label, _, p, m, how in rts:
        def cell(r, k):
            return fmt_ns(r.get(k)) if r and r.get(k) is not None else "-"
        times = ("%.0f×" % (p["p50_ns"] / base_p50) if p and base_p50 and p.get("p50_ns")
                 and not label.startswith("cairn") else "")
        rows.append([label] + [cell(p, k) for k in ("p50_ns", "p99_ns", "p999_ns", "max_ns")] +
                    [cell(m, k) for k in ("p50_ns", "p99_ns", "p999_ns", "max_ns")] +
                    [times, how])
    md += ["**Round trip, one call at a time** (PING, then MOVE; one caller, both ends as "
           "each transport's servers are written; every row measured in this run)", ""]
    md += md_table(["host / transport", "PING p50", "p99", "p99.9", "max", "MOVE p50", "p99",
                    "p99.9", "max", "PING p50 / cairn C's", "benchmark"], rows)
    tp = summary_throughput(docs)
    if tp:
        md += ["**Throughput, many commands in flight** (MOVEs per second)", ""]
        md += md_table(["host / transport", "MOVEs/s", "in flight", "benchmark"],
                       [[l, fmt_rate(v), "-" if f is None else "%g" % f, how]
                        for l, v, f, how in tp])
    return md


def durability_md(docs):
    wal = docs.get("wal")
    if not wal:
        return []
    rows = []
    for r in rows_of(wal, "(1) MOVE throughput, batched"):
        ack = row(wal, r["name"], "(2) time to acknowledgement under that load")
        one = row(wal, r["name"], "(2) one MOVE at a time (cairn_call)")
        rows.append([r["name"], fmt_rate(r.get("median_per_s")),
                     fmt(("vs_none_percent"), r.get("vs_none_percent")),
                     fmt_ns(ack.get("p50_ns")) if ack else "-",
                     fmt_ns(ack.get("p99_ns")) if ack else "-",
                     fmt_ns(one.get("p50_ns")) if one else "-"])
    md = ["## Durable, relaxed, no log", ""]
    md += md_table(["--durability", "batched MOVEs/s", "% of no log", "ack p50 under load",
                    "ack p99 under load", "one MOVE at a time p50"], rows)
    disk = rows_of(wal, "(6) the disk alone: 128 KiB write + fdatasync")
    if disk:
        md += ["The disk alone (128 KiB write + fdatasync): " + "; ".join(
            "%s %.0f/s, %s/s" % (r["name"], r.get("syncs_per_s") or 0,
                                 fmt_bytes(r.get("bytes_per_s") or 0)) for r in disk) + ".", ""]
    return md


def solver_md(docs):
    s = docs.get("solver")
    if not s:
        return []
    rows = []
    for r in rows_of(s, "map: graph, table, lookup"):
        name = r["name"]
        jps = next((x for x in rows_of(s) if x["table"].startswith(name + " ") and
                    x["name"] == "jps"), None)
        ast = next((x for x in rows_of(s) if x["table"].startswith(name + " ") and
                    x["name"] == "astar"), None)
        rows.append([name, r.get("cells"), fmt_ns(ast.get("mean_ns")) if ast else "-",
                     fmt_ns(jps.get("mean_ns")) if jps else "-",
                     fmt_ns(r.get("table_build_ns")) if r.get("table_bytes") else "over the limit",
                     fmt_bytes(r["table_bytes"]) if r.get("table_bytes") else "-",
                     fmt_ns(r.get("lookup_mean_ns")) if r.get("lookup_mean_ns") else "-"])
    md = ["## The solver", "", "In-process, one thread; the table is the first-move table "
          "cairnd builds in the background for maps within --table-max-cells.", ""]
    md += md_table(["map", "cells", "A* mean", "JPS mean", "table build", "table size",
                    "next-move lookup"], rows)
    thru = [r for r in rows_of(s) if r["table"].startswith("Through cairnd")]
    if thru:
        md += ["Through cairnd (NEXT_MOVE from a C host):", ""]
        md += md_table(["batch", "p50", "p99", "p99.9", "per pair"],
                       [[r["name"], fmt_ns(r.get("p50_ns")), fmt_ns(r.get("p99_ns")),
                         fmt_ns(r.get("p999_ns")), fmt_ns(r.get("per_pair_ns"))] for r in thru])
    return md


def idle_memory_scale_md(docs):
    md = []
    rtt, e2e, scale = docs.get("rtt"), docs.get("e2e"), docs.get("scale")
    idle, wake = row(rtt, "daemon CPU while idle"), row(rtt, "first PING after idle")
    if idle or wake:
        md += ["## Idle cost and wake-up", ""]
        if idle:
            md += ["- cairnd's CPU while no host sends anything: %.3f %% of a core over %s "
                   "(%s futex sleeps)." % (idle.get("percent_of_core_precise") or 0,
                                            fmt_ns(idle.get("window_ns")),
                                            idle.get("futex_sleeps"))]
        if wake:
            md += ["- The first PING after %s of quiet (the daemon asleep on its futex): %s." % (
                fmt_ns(wake.get("quiet_ns")), fmt_ns(wake.get("latency_ns")))]
        md += [""]
    mem = rows_of(e2e, "(c) cairnd memory")
    if mem:
        md += ["## Memory over a long run", "", "cairnd's resident memory while "
               "%s." % (e2e.get("parameters", {}).get("memory", "MOVEs run")), ""]
        md += md_table(["when", "MOVEs", "VmRSS", "of which anonymous", "vs warm"],
                       [[r["name"], r.get("moves"), fmt_bytes(r.get("vm_rss_bytes") or 0),
                         fmt_bytes(r.get("rss_anon_bytes") or 0),
                         fmt("vs_warm_percent", r.get("vs_warm_percent"))] for r in mem])
    sc = rows_of(scale, "Batched MOVE throughput, all threads together")
    if sc:
        lat = {r["name"]: r for r in rows_of(scale, "One MOVE at a time, every thread")}
        md += ["## Scaling with host threads", "",
               "On this machine's %s CPUs: the apply thread has one to itself and every host "
               "thread shares the other, so more host threads than cores measure sharing, not "
               "parallelism." % (scale.get("machine", {}).get("online_cpus", "?")), ""]
        md += md_table(["host threads", "batched MOVEs/s", "one at a time p50", "p99", "p99.9"],
                       [[r["name"], fmt_rate(r.get("moves_per_s")),
                         fmt_ns(lat.get(r["name"], {}).get("p50_ns")),
                         fmt_ns(lat.get(r["name"], {}).get("p99_ns")),
                         fmt_ns(lat.get(r["name"], {}).get("p999_ns"))] for r in sc])
    return md


# ---- the guard ----

def check_guards(docs, failed):
    """[(what, value, floor, ok)] for every guard whose benchmark ran."""
    out = []
    for bench, table, name, field, floor, what in GUARDS:
        doc = docs.get(bench)
        if doc is None:
            if bench in failed:
                out.append((what, "benchmark failed", floor, False))
            continue
        r = row(doc, name, table)
        v = r.get(field) if r else None
        if v is None:
            # Redis or gRPC absent here: the benchmark says why, the guard cannot judge.
            out.append((what, "not measured", floor, True))
            continue
        out.append((what, "%.3g×" % v, floor, v >= floor))
    on, off = row(docs.get("metrics"), "metrics on"), row(docs.get("metrics"), "metrics off")
    if on and off and on.get("median") and off.get("median"):
        pct = 100.0 * on["median"] / off["median"]
        out.append(("batched MOVE throughput with the metrics on, in % of off", "%.1f %%" % pct,
                    METRICS_FLOOR, pct >= METRICS_FLOOR))
    elif "metrics" in failed:
        out.append(("metrics on against off", "benchmark failed", METRICS_FLOOR, False))
    return out


# ---- plots ----

def plots(docs, out_dir):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "plots skipped: matplotlib is not installed (tools/cairn report installs it)"
    q = None
    for d in docs.values():
        q = d.get("cdf_quantiles") or q
    series = []
    for _, short, p, m, _ in summary_round_trips(docs):
        for kind, r in (("PING", p), ("MOVE", m)):
            if r and r.get("cdf_ns") and q:
                series.append((short, kind, r["cdf_ns"], r.get("samples") or 0))
    colors = {}
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(13, 5.5))
    for short, kind, cdf, n in series:
        color = colors.setdefault(short, "C%d" % len(colors))
        xs = [v / 1e3 for v in cdf]
        style = "-" if kind == "PING" else "--"
        name = "%s %s" % (short, kind)
        a1.plot(xs, q, style, color=color, label=name, drawstyle="steps-post")
        # Only the quantiles the samples resolve: beyond 1 - 1/n every one is the maximum.
        tail = [(x, 1 - qq) for x, qq in zip(xs, q) if n and (1 - qq) * n >= 1]
        a2.plot([t[0] for t in tail], [t[1] for t in tail], style, color=color, label=name,
                marker=".")
    for a in (a1, a2):
        a.set_xscale("log")
        a.set_xlabel("round trip (µs, log scale)")
        a.grid(True, which="both", alpha=.3)
    a1.set_ylabel("fraction of round trips at or below")
    a1.set_title("Round-trip CDF, one call at a time")
    a2.set_yscale("log")
    a2.set_ylabel("fraction slower than (log scale)")
    a2.set_title("The tail")
    if series:
        a2.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    fig.savefig(os.path.join(out_dir, "latency.png"), dpi=110)
    plt.close(fig)
    tp = summary_throughput(docs)
    if tp:
        fig, ax = plt.subplots(figsize=(10, 0.45 * len(tp) + 1.6))
        names = [t[0] for t in tp]
        vals = [t[1] / 1e6 for t in tp]
        colors = ["#2a7ab0" if n.startswith("cairn") else "#b0b0b0" for n in names]
        ax.barh(names, vals, color=colors)
        for i, v in enumerate(vals):
            ax.text(v, i, " %.2f M/s" % v if v >= 0.1 else " %.0f k/s" % (v * 1e3),
                    va="center", fontsize=7)
        ax.set_xscale("log")
        ax.set_xlabel("MOVEs per second, millions (log scale)")
        ax.set_title("Throughput with many commands in flight")
        ax.invert_yaxis()
        ax.tick_params(axis="y", labelsize=7)
        fig.tight_layout()
        fig.savefig(os.path.join(out_dir, "throughput.png"), dpi=110)
        plt.close(fig)
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bench", help="the cairn-bench binary")
    ap.add_argument("--cairnd", help="the cairnd binary")
    ap.add_argument("--out", default="bench", help="where RESULTS.md goes (default: bench)")
    ap.add_argument("--quick", action="store_true",
                    help="short runs; exit 1 when a guarded ratio falls below its floor")
    ap.add_argument("--only", help="comma-separated benchmarks (default: all)")
    ap.add_argument("--from", dest="source", metavar="DIR",
                    help="measure nothing: write the report again from DIR/raw/*.json")
    a = ap.parse_args()
    names = [b[0] for b in BENCHES]
    only = a.only.split(",") if a.only else names
    bad = [n for n in only if n not in names]
    if bad:
        ap.error("unknown benchmark(s) %s (known: %s)" % (", ".join(bad), ", ".join(names)))
    if not a.source:
        for flag, p in (("--bench", a.bench), ("--cairnd", a.cairnd)):
            if not p or not os.access(p, os.X_OK):
                ap.error("%s: %s is not an executable: build first (tools/cairn report does)" %
                         (flag, p))
    os.makedirs(os.path.join(a.out, "raw"), exist_ok=True)
    t_all = time.monotonic()
    if a.source:
        with open(os.path.join(a.source, "raw", "report.json")) as f:
            run_info = json.load(f)
    else:
        work = os.environ.get("TMPDIR", "/var/tmp")
        run_info = {"uring": probe_uring(a.cairnd, work), "work": work,
                    "filesystem": filesystem_of(work), "date": time.strftime("%Y-%m-%d")}
    run_info = scrub(run_info)
    uring, work = run_info["uring"], run_info["work"]
    print("report: the log backend here: %s" % uring, file=sys.stderr, flush=True)
    docs, notes, raw_notes, failed = {}, [], [], set()
    to_run = [b for b in BENCHES if b[0] in only]
    for i, (name, extra) in enumerate(to_run, 1):
        print("report: [%d/%d] cairn-bench %s%s ... (%.0f s so far)" % (
            i, len(to_run), name, " --quick" if a.quick else "", time.monotonic() - t_all),
            file=sys.stderr, flush=True)
        if a.source:
            path = os.path.join(a.source, "raw", name + ".json")
            if not os.path.exists(path):
                continue
            with open(path) as f:
                doc, fail = json.load(f), False
            note, secs = run_info.get("notes", {}).get(name, ("from %s" % path, 0))
        else:
            doc, note, secs, fail = run_bench(a.bench, a.cairnd, name, extra, a.quick)
        if fail:
            failed.add(name)
            print("report: %s %s" % (name, note), file=sys.stderr, flush=True)
        if doc is not None:
            doc = scrub(doc)
            docs[name] = doc
            with open(os.path.join(a.out, "raw", name + ".json"), "w") as f:
                json.dump(doc, f, indent=1)
        raw_notes.append((name, note, secs))
        notes.append((name, "%s (%.0f s)" % (note, secs) if note else "ran in %.0f s" % secs))
    total = run_info.get("total_s", time.monotonic() - t_all)
    if not a.source:
        run_info["total_s"] = total
        run_info["notes"] = {n: (note, secs) for n, note, secs in raw_notes}
        with open(os.path.join(a.out, "raw", "report.json"), "w") as f:
            json.dump(run_info, f, indent=1)

    md = ["# cairn benchmark results", ""]
    md += ["Measured %s by `tools/cairn report%s` in %.0f s (%s). Every figure below comes from "
           "this one run on this one machine; the raw JSON of each benchmark is in `raw/`." % (
               run_info["date"], " --quick" if a.quick else "", total,
               "short runs: the regression guard" if a.quick else "full runs"), ""]
    m = next((d.get("machine") for d in docs.values() if d.get("machine")), {})
    md += ["## The machine", ""]
    md += md_table(["", ""], [
        ["CPU", m.get("cpu_model", "?") + (" (virtualized)" if m.get("virtualized") else "")],
        ["CPUs", "%s online, %s usable by the benchmarks" % (m.get("online_cpus", "?"),
                                                              m.get("usable_cpus", "?"))],
        ["kernel", m.get("kernel", "?")],
        ["io_uring", uring.split("; durability")[0]],
        ["disk of the logs", "%s, %s" % (work, run_info.get("filesystem", "?"))],
        ["others' CPU use before the first run", "%s %%" % m.get("busy_pct_before_run", "?")],
    ])
    md += ["**How threads were placed.** On %s CPUs a pinned daemon and a spinning host fill "
           "the machine. cairnd's apply thread is pinned (`--cpu`) to one CPU and the host "
           "thread of each benchmark to the other; every server of a baseline (the socket "
           "engine, Redis) runs on the daemon's CPU and its client on the host's; the gRPC "
           "client and server share the host's CPU, since the daemon's is taken by a spinning "
           "apply thread. Each benchmark's section lists every thread of every process it "
           "started, with the CPUs it was allowed." % m.get("online_cpus", "?"), ""]
    md += md_table(["benchmark", "run"], [list(n) for n in notes])

    guards = check_guards(docs, failed)
    if a.quick:
        md += ["## Regression guard", "", "Ratios of the same run, each with a floor well under "
               "what the full report measures:", ""]
        md += md_table(["what", "measured", "floor", ""],
                       [[w, v, "%g" % f, "ok" if ok else "**BELOW**"] for w, v, f, ok in guards])

    md += summary_md(docs)
    err = plots(docs, a.out)
    md += (["_%s_" % err, ""] if err else
           ["![Round-trip CDFs](latency.png)", "", "![Throughput](throughput.png)", ""])
    md += durability_md(docs)
    md += solver_md(docs)
    md += idle_memory_scale_md(docs)

    md += ["## Targets", "", "Every target each benchmark holds its figures against (on a "
           "2-core machine the benchmarks say so where a target assumes more).", ""]
    for name, doc in docs.items():
        t = targets_md(doc)
        if t:
            md += ["**%s**" % name, ""] + t + [""]

    md += ["## Every benchmark in full", ""]
    for name, doc in docs.items():
        md += ["### %s — %s" % (name, doc.get("title", "")), ""]
        md += ["Placement: " + "; ".join("%s on %s" % (p.get("who"), p.get("cpus"))
                                          for p in doc.get("placement", [])), ""]
        params = doc.get("parameters") or {}
        if params:
            md += ["Settings: " + "; ".join("%s: %s" % (k, fmt(k, v)) for k, v in params.items()),
                   ""]
        md += tables_md(doc)
    with open(os.path.join(a.out, "RESULTS.md"), "w") as f:
        f.write("\n".join(md) + "\n")
    print("report: wrote %s (%d of %d benchmarks, %.0f s)" % (
        os.path.join(a.out, "RESULTS.md"), len(docs), len(to_run), total), file=sys.stderr)
    rc = 0
    if failed:
        print("report: failed: %s" % ", ".join(sorted(failed)), file=sys.stderr)
        rc = 1
    below = [g for g in guards if not g[3]]
    if a.quick:
        for w, v, f, ok in guards:
            print("report: guard %s: %s (floor %g)%s" % ("ok" if ok else "BELOW", w, f,
                                                       "" if ok else ": measured " + v),
                  file=sys.stderr)
        if below:
            rc = 1
    return rc


if __name__ == "__main__":
    sys.exit(main())
