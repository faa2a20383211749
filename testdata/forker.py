# -*- coding: utf-8 -*-
"""A parent with two forked multiprocessing workers (Python 2.7 and 3.6+).

Each child runs child_work, a CPU loop on the child-loop line, under
multiprocessing's bootstrap frames. The parent parks in parent_wait on the
parent-sleep line once both children have started. Children are forked
explicitly (3.14 defaults to forkserver on Linux), run at most PARK_SECONDS and
stop early when the parent is gone. Ready payload: child1=<pid> child2=<pid>.
"""
import multiprocessing
import os
import time

from readiness import PARK_SECONDS, RANGE, announce, wait_event


def child_work(started, parent):
    started.set()
    deadline = time.time() + PARK_SECONDS
    x = 1
    while time.time() < deadline and os.getppid() == parent:
        for i in RANGE(100000): x = (x * 31 + i) % 1000003  # mark: child-loop


def parent_wait(children):
    fields = ["child%d=%d" % (i + 1, c.pid) for i, c in enumerate(children)]
    announce(*fields); time.sleep(PARK_SECONDS)  # mark: parent-sleep


def main():
    if hasattr(multiprocessing, "get_context"):
        mp = multiprocessing.get_context("fork")
    else:
        mp = multiprocessing  # Python 2.7 forks on Linux
    children = []
    events = []
    for _ in range(2):
        started = mp.Event()
        child = mp.Process(target=child_work, args=(started, os.getpid()))
        child.daemon = True  # terminated when the parent exits
        child.start()
        children.append(child)
        events.append(started)
    for i, started in enumerate(events):
        wait_event(started, "child %d" % (i + 1))
    parent_wait(children)  # mark: main-call-parent-wait


if __name__ == "__main__":
    main()  # mark: module-call-main
