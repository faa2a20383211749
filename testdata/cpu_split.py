# -*- coding: utf-8 -*-
"""CPU split 3:1 between heavy() and light() by work units (Python 2.7 and 3.6+).

Usage: cpu_split.py [SECONDS]   (default 600), then exits 0.

Both functions run the same one-line loop body; heavy() runs 3*UNIT iterations
and light() UNIT, alternately, so about 75% of samples land in heavy (on the
heavy-loop line) and 25% in light (light-loop), whatever the machine's speed.
Stack: <module> -> run -> heavy | light. Prints ready at once: main=<tid>.
"""
import sys
import time

from readiness import RANGE, announce, native_tid

UNIT = 20000


def heavy():
    x = 1
    for i in RANGE(3 * UNIT): x = (x * 31 + i) % 1000003  # mark: heavy-loop
    return x


def light():
    x = 1
    for i in RANGE(UNIT): x = (x * 31 + i) % 1000003  # mark: light-loop
    return x


def run(seconds):
    deadline = time.time() + seconds
    while time.time() < deadline:
        heavy()  # mark: run-call-heavy
        light()  # mark: run-call-light


if __name__ == "__main__":
    seconds = 600.0
    if len(sys.argv) > 1:
        seconds = float(sys.argv[1])
    announce("main=%d" % native_tid())
    run(seconds)  # mark: module-call-run
    sys.exit(0)
