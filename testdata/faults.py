# -*- coding: utf-8 -*-
"""Targets for the fault-injection tests (cmd/pyspyglass/fault_test.go).

Usage: faults.py MODE [N]

  spin N     N threads and main spin in spin(); "ready threads=<N+1>".
  exit N     as spin, then the process exits 0 after N milliseconds.
  forks N [MS]  forks N children, one every 100 ms, each spinning MS
             milliseconds (default 1000), then parks; "ready" comes first.
  names      a thread and its function named with terminal escapes and a
             newline (EVIL) spin (3.8+); "ready".
  exec N     as spin, then after N milliseconds exec()s a new Python that
             sleeps.
  churn N    starts N short-lived threads, 50 alive at a time, prints
             "churned" and parks; "ready" comes first.
  many N     N threads, each sleeping 1 ms at a time; "ready threads=<N+1>".
  corrupt    main spins in a function while a thread keeps overwriting the
             function's name (length and characters) through ctypes and
             putting it back; "ready".
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


def nap_loop(until):
    while time.time() < until: time.sleep(0.001)  # mark: faults-nap


def short_lived():
    sum(range(1000))


def corrupt_name(fn, until):
    """Overwrite fn's name object in place and restore it, again and again."""
    import ctypes
    name = fn.__code__.co_name
    addr, size = id(name), sys.getsizeof(name)
    saved = ctypes.string_at(addr, size)
    garbage = os.urandom(size)
    while time.time() < until:
        # Keep the refcount and type (the first 16 bytes): Python itself
        # must survive; everything after is what a profiler reads.
        ctypes.memmove(addr + 16, garbage[16:], size - 16)
        ctypes.memmove(addr, saved, size)


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
        life = int(sys.argv[3]) / 1000.0 if len(sys.argv) > 3 else 1.0
        announce("children=%d" % n)
        for _ in range(n):
            if os.fork() == 0:
                spin(time.time() + life)
                os._exit(0)
            time.sleep(0.1)
            reap(os.WNOHANG)
        reap(0)
        time.sleep(PARK_SECONDS)
    elif mode == "names":
        evil_thread(until)
        announce()
        spin(until)
    elif mode == "exec":
        start_spinners(4, until)
        announce("threads=5")
        spin(time.time() + n / 1000.0)
        os.execv(sys.executable, [sys.executable, "-c", "import time; time.sleep(%d)" % PARK_SECONDS])
    elif mode == "churn":
        announce("threads=%d" % n)
        alive = []
        for _ in range(n):
            t = threading.Thread(target=short_lived)
            t.start()
            alive.append(t)
            if len(alive) >= 50:
                alive.pop(0).join()
        for t in alive:
            t.join()
        sys.stdout.write("churned\n"); sys.stdout.flush()
        time.sleep(PARK_SECONDS)
    elif mode == "many":
        for _ in range(n):
            t = threading.Thread(target=nap_loop, args=(until,))
            t.daemon = True
            t.start()
        announce("threads=%d" % (n + 1))
        nap_loop(until)
    elif mode == "corrupt":
        # Look spin up before its name is garbled: its name is also the key
        # of the module dict, and a lookup hashing the garbage fails.
        run = spin
        t = threading.Thread(target=corrupt_name, args=(run, until))
        t.daemon = True
        t.start()
        announce()
        run(until)
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
