# -*- coding: utf-8 -*-
"""A deep recursion spinning CPU at the bottom (Python 2.7 and 3.6+).

Usage: deep_busy.py [DEPTH [UNITS]]   (DEPTH default 500)

Stack, outermost first: <module> -> main -> recurse x DEPTH, then at the
bottom: without UNITS, the innermost recurse spins on the busy-spin line
for up to 600 s after printing "ready depth=<DEPTH> main=<tid>" (DEPTH+2
Python frames, like deep.py but CPU-bound); with UNITS, it prints the same
readiness line, waits for a line on stdin, runs UNITS iterations in
benchgate.spin (DEPTH+3 frames), prints "done seconds=<work time>" and the
process exits 0. Used by bench/ and the sampler benchmarks.
"""
import sys
import time

from benchgate import clock, done, gate, spin
from readiness import PARK_SECONDS, announce, native_tid


def recurse(n, depth, units):
    if n < depth:
        return recurse(n + 1, depth, units)  # mark: busy-recurse
    fields = ("depth=%d" % depth, "main=%d" % native_tid())
    if units is None:
        announce(*fields)
        deadline, x = time.time() + PARK_SECONDS, 1
        while time.time() < deadline: x = (x * 31 + 7) % 1000003  # mark: busy-spin
        return
    gate(*fields)
    start = clock()
    spin(units)  # mark: busy-call-spin
    done(clock() - start)


def main():
    depth, units = 500, None
    if len(sys.argv) > 1:
        depth = int(sys.argv[1])
    if len(sys.argv) > 2:
        units = int(sys.argv[2])
    # Leave room for the frames below main and the helpers at the bottom.
    if depth + 50 > sys.getrecursionlimit():
        sys.setrecursionlimit(depth + 50)
    recurse(1, depth, units)  # mark: main-call-recurse


if __name__ == "__main__":
    main()  # mark: module-call-main
