# -*- coding: utf-8 -*-
"""Known self and inclusive CPU splits, with a recursion (Python 2.7 and 3.6+).

Usage: pstats_split.py [SECONDS]   (default 600), then exits 0.

Work is counted in loop iterations of one identical line, so the shares hold
whatever the machine's speed. Per round: outer() runs 2 units itself and calls
inner() for 4; recurse(4) runs 1 unit at each of its 4 levels. So of 10 units:

    function  self  inclusive
    run          0        100
    outer       20         60
    inner       40         40
    recurse     40         40   (not 100 or 160: recursion counts once)

Prints ready at once: main=<tid>.
"""
import sys
import time

from readiness import RANGE, announce, native_tid

UNIT = 10000



def inner():
    x = 1
    for i in RANGE(4 * UNIT): x = (x * 31 + i) % 1000003  # mark: inner-loop
    return x


def outer():
    x = 1
    for i in RANGE(2 * UNIT): x = (x * 31 + i) % 1000003  # mark: outer-loop
    return x + inner()  # mark: outer-call-inner


def recurse(depth):
    x = 1
    for i in RANGE(UNIT): x = (x * 31 + i) % 1000003  # mark: recurse-loop
    if depth > 1:
        x += recurse(depth - 1)  # mark: recurse-call
    return x


def run(seconds):
    deadline = time.time() + seconds
    while time.time() < deadline:
        outer()  # mark: run-call-outer
        recurse(4)  # mark: run-call-recurse


if __name__ == "__main__":
    seconds = 600.0
    if len(sys.argv) > 1:
        seconds = float(sys.argv[1])
    announce("main=%d" % native_tid())
    run(seconds)  # mark: module-call-run
    sys.exit(0)
