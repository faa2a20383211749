# -*- coding: utf-8 -*-
"""CPU split 3:1 between heavy() and light() by work units (Python 2.7 and 3.6+).

Usage: cpu_split.py [SECONDS]   (default 600), then exits 0.

Both functions run the same one-line loop body; heavy() runs 3*UNIT iterations
and light() UNIT, alternately, so about 75% of samples land in heavy (on the
heavy-loop line) and 25% in light (light-loop), whatever the machine's speed.
Stack: <module> -> run -> heavy | light. Prints ready at once: main=<tid>.

On a loaded machine the split in time drifts from 3:1 (the two loops meet
preemption, frequency and cache changes differently), so the script also times
its own calls and, when it ends on its own, prints the wall-clock seconds
spent in each: "selftime heavy=H light=L". Tests compare a profile's split
with that, the truth of this very run.
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
    clock = time.time
    deadline = clock() + seconds
    spent = [0.0, 0.0]
    t0 = clock()
    while t0 < deadline:
        heavy()  # mark: run-call-heavy
        t1 = clock()
        light()  # mark: run-call-light
        t2 = clock()
        spent[0] += t1 - t0
        spent[1] += t2 - t1
        t0 = t2
    return spent


if __name__ == "__main__":
    seconds = 600.0
    if len(sys.argv) > 1:
        seconds = float(sys.argv[1])
    announce("main=%d" % native_tid())
    spent = run(seconds)  # mark: module-call-run
    sys.stdout.write("selftime heavy=%.6f light=%.6f\n" % (spent[0], spent[1]))
    sys.stdout.flush()
    sys.exit(0)
