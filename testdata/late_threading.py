# -*- coding: utf-8 -*-
"""Works without the threading module, imports it, works again (Python 2.7 and 3.6+).

Usage: late_threading.py [UNITS]   (units of work per half, default 300000)

Prints no readiness line: it is meant for launch-mode tests of the main
thread's name, which Python only gives once threading is imported. Stack
while working: <module> -> work, on the work-loop line, before and after
the import. Nothing here imports threading earlier (the readiness helpers do).
"""
import sys

try:
    RANGE = xrange  # Python 2
except NameError:
    RANGE = range


def work(units):
    x = 1
    for i in RANGE(units): x = (x * 31 + i) % 1000003  # mark: work-loop
    return x


if __name__ == "__main__":
    units = 300000
    if len(sys.argv) > 1:
        units = int(sys.argv[1])
    work(units)  # mark: before-import
    import threading  # noqa: E402
    threading.current_thread()
    work(units)  # mark: after-import
