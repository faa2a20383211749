# -*- coding: utf-8 -*-
"""Targets for the fault-injection tests (cmd/pyspyglass/fault_test.go).

Usage: faults.py MODE [N]

  spin N     N threads and main spin in spin(); "ready threads=<N+1>".
  exit N     as spin, then the process exits 0 after N milliseconds.
  forks N    forks N children, one every 100 ms, each spinning 1 s, then
             parks; "ready" comes first.
  names      a thread and its function named with terminal escapes and a
             newline (EVIL) spin (3.8+); "ready".
  zlib N     N threads compress in zlib (without the GIL) in
             compress_loop; main sleeps; "ready threads=<N+1>".
Compatible with Python 2.7 and 3.6+. Everything stops after PARK_SECONDS.
"""
import os
import sys
import threading
import time

from readiness import PARK_SECONDS, announce


def spin(until):
    while time.time() < until: pass  # mark: faults-spin


def start_spinners(n, until):
    for _ in range(n):
        t = threading.Thread(target=spin, args=(until,))
        t.daemon = True
        t.start()


# A name a hostile program could give: retitle the terminal, clear the
# screen, split an output line.
EVIL = "evil\x1b]0;pwned\x07\n\x1b[2Jname"


def evil_thread(until):
    spin = lambda: None  # replaced below: a copy of spin under EVIL
    code = globals()["spin"].__code__
    names = {"co_name": EVIL}
    if sys.version_info >= (3, 11):
        names["co_qualname"] = EVIL
    spin.__code__ = code.replace(**names)
    t = threading.Thread(target=spin, args=(until,), name=EVIL)
    t.daemon = True
    t.start()


def reap(flags):
    """Collect exited children; with WNOHANG only those already gone."""
    while True:
        try:
            if os.waitpid(-1, flags)[0] == 0:
                return
        except OSError:
            return


def compress_loop(until):
    import zlib
    data = os.urandom(1 << 20)
    while time.time() < until: zlib.compress(data, 9)  # mark: faults-compress


def main():
    mode, n = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 4
    until = time.time() + PARK_SECONDS
    if mode == "spin":
        start_spinners(n, until)
        announce("threads=%d" % (n + 1))
        spin(until)
    elif mode == "exit":
        start_spinners(4, until)
        announce("threads=5")
        spin(time.time() + n / 1000.0)
        os._exit(0)
    elif mode == "forks":
        announce("children=%d" % n)
        for _ in range(n):
            if os.fork() == 0:
                spin(time.time() + 1.0)
                os._exit(0)
            time.sleep(0.1)
            reap(os.WNOHANG)
        reap(0)
        time.sleep(PARK_SECONDS)
    elif mode == "names":
        evil_thread(until)
        announce()
        spin(until)
    elif mode == "zlib":
        for _ in range(n):
            t = threading.Thread(target=compress_loop, args=(until,))
            t.daemon = True
            t.start()
        announce("threads=%d" % (n + 1)); time.sleep(PARK_SECONDS)
    else:
        sys.stderr.write("faults.py: unknown mode %s\n" % mode)
        sys.exit(2)


if __name__ == "__main__":
    main()
