"""Ctrl-C during a blocking wait raises KeyboardInterrupt promptly."""

import os
import signal
import subprocess
import sys
import time

import pytest

CHILD = r"""
import os, signal, sys, time
import cairn
# A shell without job control starts background commands with SIGINT ignored, and Python
# then leaves it ignored: take Ctrl-C as an interactive Python does, wherever we run.
signal.signal(signal.SIGINT, signal.default_int_handler)
c = cairn.Client(sys.argv[1])
what = sys.argv[2]
hid = c.hunt_create().hunt_id
if what == "call":
    # The daemon is stopped (SIGSTOP) by the parent: the result never comes.
    pid = int(sys.argv[3])
    os.kill(pid, signal.SIGSTOP)
    while open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()[0] != "T":
        time.sleep(0.001)
print("ready", flush=True)
try:
    if what == "wait":
        c.wait(timeout=None)            # no command in flight: waits forever
    elif what == "events":
        c.events().wait(timeout=None)   # no event comes
    elif what == "call":
        c.move(hid, 1, 1500, 1500)      # no answer comes
except KeyboardInterrupt:
    print("interrupted %.3f" % time.monotonic(), flush=True)
    sys.exit(42)
print("returned", flush=True)
"""


@pytest.mark.parametrize("what", ["wait", "events", "call"])
def test_ctrl_c_interrupts_a_blocking_wait(daemon, what):
    p = subprocess.Popen([sys.executable, "-c", CHILD, daemon.socket, what, str(daemon.proc.pid)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "ready", p.stderr.read()
        time.sleep(0.3)  # well inside the wait
        assert p.poll() is None
        sent = time.monotonic()
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=5)
        line = out.strip().splitlines()[-1] if out.strip() else ""
        assert p.returncode == 42, (out, err)
        took = float(line.split()[1]) - sent
        assert took < 1.0, "KeyboardInterrupt took %.3f s" % took
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        os.kill(daemon.proc.pid, signal.SIGCONT)
