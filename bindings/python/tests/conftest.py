"""Fixtures: a real cairnd, started by the test in its own directory.

The daemon binary comes from $CAIRND (an absolute path), e.g. after
``meson setup build && ninja -C build src/cairnd``: CAIRND=$PWD/build/src/cairnd.
"""

import os
import signal
import subprocess
import time

import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))


def cairnd_path():
    path = os.environ.get("CAIRND")
    if not path:
        pytest.fail("set CAIRND to the absolute path of a cairnd binary "
                    "(meson setup build && ninja -C build src/cairnd; CAIRND=$PWD/build/src/cairnd)",
                    pytrace=False)
    if not os.path.isabs(path) or not os.access(path, os.X_OK):
        pytest.fail("CAIRND=%s is not an absolute path to an executable" % path, pytrace=False)
    return path


def freeze(pid, timeout=5.0):
    """SIGSTOPs pid and waits until it is stopped (the signal takes effect asynchronously)."""
    os.kill(pid, signal.SIGSTOP)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open("/proc/%d/stat" % pid) as f:
            if f.read().rsplit(")", 1)[1].split()[0] == "T":
                return
        time.sleep(0.001)
    raise RuntimeError("process %d did not stop" % pid)


def listening(path):
    """Whether a socket listens at path (from /proc/net/unix: no connection is made)."""
    try:
        with open("/proc/net/unix") as f:
            for line in f:
                parts = line.split()
                # Num RefCount Protocol Flags Type St Inode Path; flag 0x10000: listening
                if len(parts) >= 8 and parts[7] == path and int(parts[3], 16) & 0x10000:
                    return True
    except OSError:
        return os.path.exists(path)
    return False


class Daemon:
    """One cairnd: start(), stop(), restart(); the socket is dir/s, its data dir/data."""

    def __init__(self, directory, args):
        self.dir = str(directory)
        self.socket = os.path.join(self.dir, "s")
        self.data = os.path.join(self.dir, "data")
        self.args = list(args)
        self.proc = None
        self.log = os.path.join(self.dir, "cairnd.log")

    def start(self, timeout=10.0):
        cmd = [cairnd_path(), "--socket", self.socket, "--data-dir", self.data,
               "--table-max-cells", "0"] + self.args
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while not listening(self.socket):
            if self.proc.poll() is not None:
                raise RuntimeError("cairnd exited with %s:\n%s" % (self.proc.returncode, self.read_log()))
            if time.monotonic() > deadline:
                raise RuntimeError("cairnd did not create its socket:\n" + self.read_log())
            time.sleep(0.01)
        return self

    def read_log(self):
        with open(self.log, errors="replace") as f:
            return f.read()

    def stop(self, sig=signal.SIGTERM, timeout=10.0):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        # A daemon killed outright leaves its socket file; the next one replaces it.

    def restart(self, sig=signal.SIGTERM):
        self.stop(sig)
        return self.start()


@pytest.fixture
def make_daemon(tmp_path):
    daemons = []

    def make(*args, name="d"):
        d = Daemon(tmp_path / name, args)
        os.makedirs(d.dir, exist_ok=True)
        daemons.append(d)
        return d.start()

    yield make
    for d in daemons:
        if d.proc is not None and d.proc.poll() is None:
            try:
                os.kill(d.proc.pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
        d.stop()


@pytest.fixture
def daemon(make_daemon):
    # Results are published at once (no fdatasync on each change): the tests are about
    # the binding, not the disk. Tests of restarts use their own daemon.
    return make_daemon("--durability", "none")


@pytest.fixture
def client(daemon):
    import cairn
    c = cairn.Client(daemon.socket, name="pytest")
    yield c
    c.close()


@pytest.fixture
def hunt(client):
    return client.hunt_create()
