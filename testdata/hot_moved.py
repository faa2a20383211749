# -*- coding: utf-8 -*-
"""A workload whose hot function moves, for comparing two runs (Python 2.7, 3.6+).

Usage: hot_moved.py a|b [SECONDS]   (default 600), then exits 0.

Per round alpha() and beta() run the same loop line; with "a" alpha() does 3
units and beta() 1 (alpha hot, about 75%), with "b" the reverse. Prints
ready at once: main=<tid>.
"""
import sys
import time

from readiness import RANGE, announce, native_tid

UNIT = 20000


def alpha(units):
    x = 1
    for i in RANGE(units * UNIT): x = (x * 31 + i) % 1000003  # mark: alpha-loop
    return x


def beta(units):
    x = 1
    for i in RANGE(units * UNIT): x = (x * 31 + i) % 1000003  # mark: beta-loop
    return x


def run(mode, seconds):
    hot, cold = (alpha, beta) if mode == "a" else (beta, alpha)
    deadline = time.time() + seconds
    while time.time() < deadline:
        hot(3)
        cold(1)


if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in ("a", "b"):
        sys.exit("usage: hot_moved.py a|b [SECONDS]")
    seconds = 600.0
    if len(sys.argv) > 2:
        seconds = float(sys.argv[2])
    announce("main=%d" % native_tid())
    run(sys.argv[1], seconds)
    sys.exit(0)
