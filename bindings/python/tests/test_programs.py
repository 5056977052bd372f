"""The example and the bench program run against a real daemon."""

import json
import os
import socket
import subprocess
import sys
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def test_example_hunt(daemon):
    out = subprocess.run([sys.executable, os.path.join(ROOT, "examples", "hunt.py"),
                          "--socket", daemon.socket, "--seconds", "1"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "joined: player" in out.stdout
    last = [l for l in out.stdout.splitlines() if "rounds" in l][-1]
    assert int(last.split("moves")[0].split(",")[1]) > 0


def echo_server(path):
    srv = socket.socket(socket.AF_UNIX)
    srv.bind(path)
    srv.listen(1)

    def serve():
        conn, _ = srv.accept()
        while True:
            d = conn.recv(56)
            if not d:
                break
            conn.sendall(d)
        conn.close()
        srv.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    return t


def read_raw(path):
    """The little-endian uint64s of a --raw file."""
    with open(path, "rb") as f:
        data = f.read()
    assert len(data) % 8 == 0, "%s: %d bytes" % (path, len(data))
    return [int.from_bytes(data[i:i + 8], "little") for i in range(0, len(data), 8)]


def test_bench(daemon, tmp_path):
    import cairn
    with cairn.Client(daemon.socket) as c:
        hid = c.hunt_create().hunt_id
        p = c.join(hid, 1500, 1500)
    echo = str(tmp_path / "echo")
    raw = str(tmp_path / "raw" / "python")
    os.mkdir(os.path.dirname(raw))
    t = echo_server(echo)
    out = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "cairn_bench_py.py"),
                          "--socket", daemon.socket, "--echo", echo, "--hunt", str(hid),
                          "--player", str(p), "--samples", "2000", "--warmup", "100",
                          "--raw", raw, "--throughput-ms", "200", "--batch", "64"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 1
    r = json.loads(lines[0])
    assert r["lang"] == "python"
    for k in ("ping", "move", "socket"):
        assert r[k]["n"] == 2000
        assert 0 < r[k]["p50"] <= r[k]["p90"] <= r[k]["p99"] <= r[k]["p999"] <= r[k]["max"]
        # --raw: every timed sample, 8 bytes each, nonzero and below a second, and the
        # very samples the summary was computed from.
        assert os.path.getsize(raw + "." + k) == 8 * 2000
        v = read_raw(raw + "." + k)
        assert all(0 < x < 10**9 for x in v), (k, min(v), max(v))
        s = sorted(v)
        assert s[-1] == r[k]["max"]
        assert s[1000] == r[k]["p50"] and s[1998] == r[k]["p999"]
        assert abs(sum(s) / 2000 - r[k]["mean"]) < 0.1
    assert sorted(os.listdir(os.path.dirname(raw))) == ["python.move", "python.ping",
                                                        "python.socket"]
    # Throughput: move_many in batches of 64 for 0.2 s.
    assert r["parallelism"] == 64
    assert r["throughput_moves"] > 0 and r["throughput_moves"] % 64 == 0
    assert 0 < r["throughput_per_s"] <= r["throughput_moves"] / 0.2
    t.join(5)
