#!/usr/bin/env python3
"""cairn's benchmark report: every cairn-bench run of one machine, in one document.

    report.py --bench BUILD/tools/bench/cairn-bench --cairnd BUILD/src/cairnd
              [--out bench] [--quick] [--only rtt,e2e,...]

Runs each benchmark with --json (and --quick), keeps the raw JSON in OUT/raw/, writes
OUT/RESULTS.md (the machine, how threads were placed, every table, every target met or
missed) and, when matplotlib is importable, OUT/latency.png (the round-trip
distributions, drawn through their percentiles) and OUT/throughput.png. With --quick it
is the regression guard: it exits 1 when a ratio target (cairn against a baseline, in
the same run) is missed; absolute times are reported, never judged, in that mode.
"""

import argparse
import json
import os
import subprocess
import sys
import time

# name, extra arguments, whether it takes --cairnd
BENCHES = [
    ("rtt", [], True),
    ("e2e", [], True),
    ("baselines", [], True),
    ("bindings", [], True),
    ("wal", [], True),
    ("solver", [], True),
    ("metrics", [], True),
    ("scale", [], True),
]

# Targets that compare cairn with something measured in the same run: what --quick guards.
RATIO_WORDS = ("times lower", "/ off", "relaxed vs", "x redis", "× redis", "than")


def run(bench, cairnd, name, extra, quick, env):
    cmd = [bench, name, "--json"] + (["--quick"] if quick else []) + extra
    if cairnd:
        cmd += ["--cairnd", cairnd]
    t0 = time.monotonic()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
    secs = time.monotonic() - t0
    if p.returncode == 77:
        return None, "skipped: " + (p.stderr.strip().splitlines() or ["(no reason given)"])[-1], secs
    try:
        return json.loads(p.stdout), None if p.returncode in (0, 1) else "exit %d" % p.returncode, secs
    except json.JSONDecodeError:
        tail = "\n".join(p.stderr.strip().splitlines()[-5:])
        return None, "failed (exit %d): %s" % (p.returncode, tail), secs


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


def fmt(key, v):
    if isinstance(v, str) or v is None:
        return "-" if v is None else v
    if key.endswith("_ns") or key in ("median", "min", "max") and v > 1e4:
        return fmt_ns(v)
    if key.endswith("_per_s") or key.endswith("_mps") or "rate" in key:
        return "%.2f M/s" % (v / 1e6) if v >= 1e5 else "%.0f /s" % v
    if isinstance(v, float):
        return "%.3g" % v
    return str(v)


def tables_md(doc):
    out, by = [], {}
    for row in doc.get("rows", []):
        by.setdefault(row.get("table", ""), []).append(row)
    for title, rows in by.items():
        keys = []
        for r in rows:
            for k in r:
                if k not in ("table", "name") and k not in keys:
                    keys.append(k)
        out.append("**%s**\n" % title if title else "")
        out.append("| | " + " | ".join(keys) + " |")
        out.append("| --- |" + " --- |" * len(keys))
        for r in rows:
            out.append("| %s | %s |" % (r.get("name", ""), " | ".join(fmt(k, r.get(k)) for k in keys)))
        out.append("")
    return out


def targets_md(doc):
    out = []
    for t in doc.get("targets", []):
        state = "met" if t.get("met") else ("not measured" if not t.get("measured", True) else "MISSED")
        out.append("- %s: %s (target %s %s) — %s" % (t.get("what"), t.get("value"), t.get("op"),
                                                     t.get("limit"), state))
    return out


def plots(docs, out_dir):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "plots skipped: matplotlib is not installed (tools/cairn report installs it)"
    # Latency: each round-trip row drawn through its percentiles.
    fig, ax = plt.subplots(figsize=(9, 5.5))
    drawn = 0
    for name, doc in docs.items():
        for r in doc.get("rows", []):
            pts = [(r.get(k), q) for k, q in (("p50_ns", .5), ("p90_ns", .9), ("p99_ns", .99),
                                              ("p999_ns", .999)) if r.get(k)]
            if len(pts) < 3 or "samples" not in r or "clock_gettime" in str(r.get("name")):
                continue
            xs = [p[0] / 1e3 for p in pts]
            ys = [p[1] for p in pts]
            ax.plot(xs, ys, marker="o", label="%s: %s" % (name, r.get("name")))
            drawn += 1
    ax.set_xscale("log")
    ax.set_xlabel("round trip (µs, log scale)")
    ax.set_ylabel("fraction of round trips at or below")
    ax.set_title("Round trips, through each row's p50, p90, p99 and p99.9")
    ax.grid(True, which="both", alpha=.3)
    if drawn:
        ax.legend(fontsize=6, loc="lower right")
    fig.tight_layout()
    fig.savefig(os.path.join(out_dir, "latency.png"), dpi=120)
    plt.close(fig)
    # Throughput: every row with a rate.
    names, vals = [], []
    for name, doc in docs.items():
        for r in doc.get("rows", []):
            for k in ("median", "throughput_per_s", "rate_per_s", "moves_per_s"):
                v = r.get(k)
                if isinstance(v, (int, float)) and v > 1000:
                    names.append("%s: %s" % (name, r.get("name")))
                    vals.append(v / 1e6)
                    break
    if names:
        fig, ax = plt.subplots(figsize=(9, 0.35 * len(names) + 1.5))
        ax.barh(names, vals)
        ax.set_xlabel("millions per second")
        ax.set_title("Throughput")
        ax.invert_yaxis()
        ax.tick_params(axis="y", labelsize=7)
        fig.tight_layout()
        fig.savefig(os.path.join(out_dir, "throughput.png"), dpi=120)
        plt.close(fig)
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bench", required=True)
    ap.add_argument("--cairnd", required=True)
    ap.add_argument("--out", default="bench")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", help="comma-separated benchmarks (default: all)")
    a = ap.parse_args()
    only = set(a.only.split(",")) if a.only else None
    os.makedirs(os.path.join(a.out, "raw"), exist_ok=True)
    docs, notes, missed = {}, [], []
    t_all = time.monotonic()
    for name, extra, _ in BENCHES:
        if only and name not in only:
            continue
        print("report: cairn-bench %s%s" % (name, " --quick" if a.quick else ""), file=sys.stderr, flush=True)
        doc, note, secs = run(a.bench, a.cairnd, name, extra, a.quick, os.environ.copy())
        if doc is not None:
            docs[name] = doc
            with open(os.path.join(a.out, "raw", name + ".json"), "w") as f:
                json.dump(doc, f, indent=1)
        notes.append((name, note or "ran in %.0f s" % secs))
        for t in (doc or {}).get("targets", []):
            ratio = any(w in t.get("what", "").lower() for w in RATIO_WORDS) or t.get("unit") in ("ratio", "percent")
            if t.get("measured", True) and not t.get("met") and (ratio or not a.quick):
                missed.append("%s: %s" % (name, t.get("what")))
    total = time.monotonic() - t_all
    md = ["# cairn benchmark results", ""]
    first = next(iter(docs.values()), {})
    m = first.get("machine", {})
    md += ["Measured %s by `tools/cairn report%s`, in %.0f s." % (time.strftime("%Y-%m-%d"),
                                                                " --quick" if a.quick else "", total), ""]
    md += ["**Machine:** %s, %s CPUs online (usable %s), %s%s." % (
        m.get("cpu_model", "?"), m.get("online_cpus", "?"), m.get("usable_cpus", "?"), m.get("kernel", "?"),
        ", virtualized" if m.get("virtualized") else ""), ""]
    wal = docs.get("wal", {})
    for p in (wal.get("parameters") or {}).items():
        if "backend" in p[0] or "uring" in str(p[1]):
            md += ["**io_uring:** %s" % (p[1],), ""]
            break
    md += ["On 2 cores a pinned daemon and a spinning host fill the machine: every row says where its",
           "threads ran, and the scaling rows with more host threads than cores measure sharing, not",
           "parallelism.", ""]
    md += ["| benchmark | run |", "| --- | --- |"] + ["| %s | %s |" % n for n in notes] + [""]
    err = plots(docs, a.out)
    if err:
        md += ["_%s_" % err, ""]
    else:
        md += ["![round trips](latency.png)", "", "![throughput](throughput.png)", ""]
    for name, doc in docs.items():
        md += ["## %s — %s" % (name, doc.get("title", "")), ""]
        md += ["Placement: " + "; ".join("%s on %s" % (p.get("who"), p.get("cpus")) for p in doc.get("placement", [])), ""]
        md += tables_md(doc)
        t = targets_md(doc)
        if t:
            md += ["Targets:", ""] + t + [""]
    with open(os.path.join(a.out, "RESULTS.md"), "w") as f:
        f.write("\n".join(md) + "\n")
    print("report: wrote %s (%d benchmarks, %.0f s)" % (os.path.join(a.out, "RESULTS.md"), len(docs), total),
          file=sys.stderr)
    if missed:
        print("report: missed:\n  " + "\n  ".join(missed), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
