# -*- coding: utf-8 -*-
"""Cyclic garbage in a loop, with the collector's own time measured
(Python 3.7+: gc.callbacks).

Usage: gc_churn.py [SECONDS]   (default 600), then prints
"gc_share=<percent of churn's time spent collecting>" and exits 0.

A large live structure makes each collection slow; churn() makes
reference cycles on its marked line, so collections keep being triggered
from it. Stack: <module> -> churn@churn-loop (-> the collector).
"""
import gc
import sys
import time

from readiness import announce, native_tid

live = [[i] for i in range(300000)]  # traversed by every full collection
in_gc = [0.0, 0.0]  # total seconds collecting, start of the current one


def on_gc(phase, info):
    now = time.time()
    if phase == "start":
        in_gc[1] = now
    else:
        in_gc[0] += now - in_gc[1]


def churn(seconds):
    gc.callbacks.append(on_gc)
    start = time.time()
    deadline = start + seconds
    while time.time() < deadline:
        for _ in range(1000): a = []; b = [a]; a.append(b)  # mark: churn-loop
    gc.callbacks.remove(on_gc)
    return in_gc[0] / (time.time() - start)


if __name__ == "__main__":
    seconds = 600.0
    if len(sys.argv) > 1:
        seconds = float(sys.argv[1])
    gc.set_threshold(700, 2, 2)  # full collections often: the share is large
    announce("main=%d" % native_tid())
    share = churn(seconds)  # mark: module-call-churn
    sys.stdout.write("gc_share=%.1f\n" % (100 * share))
    sys.stdout.flush()
