"""What the ops tests share: a cairnd on a private socket (and, when asked, a Prometheus
endpoint on a free port), game hosts driven line by line (ops-host), HTTP requests by
hand, and the test's verdict (exit 0 pass, 1 fail, 77 skip, as the C tests).

The tests run under the interpreter in $CAIRN_TEST_PYTHON when it is set (tools/cairn
test points it at a virtual environment with prometheus_client), else under the one
meson found; reexec() switches to the former.
"""
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

# A 16 x 12 map of open ground, so that every position a test picks is passable.
MAP_W, MAP_H = 16, 12
OPEN_MAP = "type octile\nheight %d\nwidth %d\nmap\n%s" % (MAP_H, MAP_W, ("." * MAP_W + "\n") * MAP_H)


def reexec():
    """Runs this script again under $CAIRN_TEST_PYTHON when that is another interpreter."""
    want = os.environ.get("CAIRN_TEST_PYTHON")
    if want and os.path.abspath(want) != os.path.abspath(sys.executable) and \
            not os.environ.get("CAIRN_TEST_REEXEC"):
        os.environ["CAIRN_TEST_REEXEC"] = "1"
        os.execv(want, [want] + sys.argv)


class Failure(Exception):
    pass


def fail(msg):
    raise Failure(msg)


def check(cond, msg):
    if not cond:
        fail(msg)


def eq(what, got, want):
    if got != want:
        fail("%s: got %r, expected %r" % (what, got, want))


def ok(msg):
    print("ok: " + msg, flush=True)


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Daemon:
    """cairnd on a socket in a temporary directory, with the open map as map 1."""

    def __init__(self, cairnd, extra=(), metrics_port=False):
        self.cairnd = cairnd
        self.dir = tempfile.mkdtemp(prefix="cairn-ops.")
        self.sock = os.path.join(self.dir, "cairnd.sock")
        self.log = os.path.join(self.dir, "cairnd.log")
        self.map = os.path.join(self.dir, "open.map")
        with open(self.map, "w") as f:
            f.write(OPEN_MAP)
        self.extra = list(extra)
        self.port = None
        self.proc = None
        # A port found free may be taken before cairnd binds it: try a few.
        for _ in range(5):
            if metrics_port:
                self.port = free_port()
            if self._spawn():
                return
            if not metrics_port or "Address already in use" not in self.read_log():
                break
        self.print_log()
        fail("cairnd did not start")

    def args(self):
        a = [self.cairnd, "--socket", self.sock, "--data-dir", os.path.join(self.dir, "data"),
             "--map", self.map, "--solver-threads", "1", "--table-max-cells", "0"] + self.extra
        if self.port:
            a += ["--metrics-listen", "127.0.0.1:%d" % self.port]
        return a

    def _spawn(self):
        logf = open(self.log, "w")
        self.proc = subprocess.Popen(self.args(), stdout=logf, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        logf.close()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            if os.path.exists(self.sock) and (not self.port or "metrics endpoint" in self.read_log()):
                return True
            time.sleep(0.02)
        return False

    @property
    def pid(self):
        return self.proc.pid

    def read_log(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def print_log(self):
        sys.stderr.write("---- cairnd log ----\n%s---- end of log ----\n" % self.read_log()[-16384:])

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        """SIGTERM; the daemon must exit 0 within 10 s."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self.print_log()
                fail("cairnd did not stop within 10 s of SIGTERM")
        if self.proc.returncode != 0:
            self.print_log()
            fail("cairnd exited with status %d" % self.proc.returncode)

    def cleanup(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if not os.environ.get("CAIRN_TEST_KEEP"):
            shutil.rmtree(self.dir, ignore_errors=True)


class Host:
    """An ops-host process: one command line in, one answer line out."""

    def __init__(self, ops_host, sock, name):
        self.name = name
        self.proc = subprocess.Popen([ops_host, sock, name], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, bufsize=1)
        line = self.proc.stdout.readline().split()
        check(line and line[0] == "ready", "ops-host %s did not attach: %r" % (name, line))
        kv = dict(w.split("=", 1) for w in line[1:])
        self.client = int(kv["client"])
        self.lane = int(kv["lane"])
        self.pid = int(kv["pid"])

    def send(self, line):
        """Returns the answer as a list of words ("ok", ...) or ("err", CODE, NAME)."""
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        ans = self.proc.stdout.readline().split()
        check(ans, "ops-host %s: no answer to %r (exited %r)" % (self.name, line, self.proc.poll()))
        return ans

    def must(self, line):
        ans = self.send(line)
        check(ans[0] == "ok", "ops-host %s: %r answered %r" % (self.name, line, ans))
        return int(ans[1]) if len(ans) > 1 else None

    def close(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write("quit\n")
                self.proc.stdin.flush()
                self.proc.wait(5)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()


def http(port, raw, timeout=10.0):
    """Sends raw bytes to 127.0.0.1:port; returns (status, headers dict, body bytes)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(raw)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    finally:
        s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    check(lines and lines[0].startswith("HTTP/1.1 "), "not an HTTP answer: %r" % data[:200])
    status = int(lines[0].split()[1])
    headers = {}
    for l in lines[1:]:
        k, _, v = l.partition(":")
        headers[k.strip().lower()] = v.strip()
    if "content-length" in headers:
        eq("body length", len(body), int(headers["content-length"]))
    return status, headers, body


def get(port, path="/metrics"):
    return http(port, ("GET %s HTTP/1.1\r\nHost: localhost\r\nAccept: */*\r\n\r\n" % path).encode())


def thread_cpu_ticks(pid, name):
    """utime + stime, in clock ticks, of pid's thread called name; None if there is none."""
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/comm" % (pid, tid)) as f:
                if f.read().strip() != name:
                    continue
            with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return int(fields[11]) + int(fields[12])
        except OSError:
            continue
    return None


def run(main):
    """Runs main(); prints the failure and exits 1 on Failure, 0 otherwise."""
    try:
        main()
    except Failure as e:
        print("FAIL: %s" % e, file=sys.stderr, flush=True)
        sys.exit(1)
    print("PASS", flush=True)
    sys.exit(0)
