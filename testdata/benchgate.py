# -*- coding: utf-8 -*-
"""Helpers of the fixed-work benchmark scripts (Python 2.7 and 3.6+).

A fixed-work script prints its readiness line, waits for one line on stdin
(the harness sends it once the profiler under test is sampling), does a
fixed amount of work, prints "done seconds=<work time>" and exits 0. The
work is timed inside the script, so interpreter start-up and attaching do
not count: bench/ divides a profiled run's seconds by an unprofiled run's.
"""
import sys
import time

from readiness import announce

# perf_counter (3.3+) is monotonic; 2.7 only has the wall clock.
clock = getattr(time, "perf_counter", time.time)


def gate(*fields):
    """Announce readiness and block until the harness says go."""
    announce(*fields)
    if not sys.stdin.readline():
        sys.exit(0)  # the harness went away: nothing to measure


def done(seconds):
    sys.stdout.write("done seconds=%.6f\n" % seconds)
    sys.stdout.flush()


def spin(units):
    """units iterations of a small pure-Python loop body; returns its result."""
    x, i = 1, 0
    while i < units: i += 1; x = (x * 31 + 7) % 1000003  # mark: bench-spin
    return x
