# -*- coding: utf-8 -*-
"""A list grown to about 200 MB in one function, small churn in another.

Usage: memory_growth.py [MEGABYTES]   (default 200), then exits 0.

grow() appends floats to one list in steps of a million (each float and its list
slot take 32 bytes or more), churn() builds and drops small lists for about as
long, alternately, until the list holds MEGABYTES. So resident memory rises
while grow() runs, and barely moves in churn(). Python 2.7 and 3.6+. Prints
ready at once: main=<tid>.
"""
import sys

from readiness import RANGE, announce, native_tid

STEP = 1000000


def grow(store):
    for i in RANGE(STEP): store.append(i * 0.5)  # mark: grow-append


def churn():
    for i in RANGE(STEP): junk = [i, i + 1, i + 2]  # mark: churn-loop


def run(megabytes):
    store = []
    while len(store) * 32 < megabytes << 20:
        grow(store)  # mark: run-call-grow
        churn()  # mark: run-call-churn
    return len(store)


if __name__ == "__main__":
    megabytes = 200
    if len(sys.argv) > 1:
        megabytes = int(sys.argv[1])
    announce("main=%d" % native_tid())
    run(megabytes)
    sys.exit(0)
