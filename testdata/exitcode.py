# -*- coding: utf-8 -*-
"""Does a little CPU work, then exits with the given status (Python 2.7 and 3.6+).

Usage: exitcode.py STATUS [UNITS]   (UNITS of work, default 200000)

Prints no readiness line: it is meant for launch-mode tests that check the
target's exit status is passed through. Stack while working:
<module> -> short_work, on the work-loop line.
"""
import sys

from readiness import RANGE


def short_work(units):
    x = 1
    for i in RANGE(units): x = (x * 31 + i) % 1000003  # mark: work-loop
    return x


if __name__ == "__main__":
    units = 200000
    if len(sys.argv) > 2:
        units = int(sys.argv[2])
    short_work(units)  # mark: module-call-short-work
    sys.exit(int(sys.argv[1]))  # mark: exit
