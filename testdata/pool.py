# -*- coding: utf-8 -*-
"""A multiprocessing pool of forked workers, each parked in a task (2.7, 3.6+).

Usage: pool.py [WORKERS]   (default 16)

Each worker runs one park task: pool_task on the pool-sleep line, under the
pool's worker frames, until PARK_SECONDS pass or the parent is gone. The parent
parks in time.sleep once every worker has reported in. Workers are forked
explicitly (3.14 defaults to forkserver on Linux).
Ready payload: workers=<pid>,<pid>,... (sorted).
"""
import multiprocessing
import os
import sys
import time

from readiness import PARK_SECONDS, PARK_TIMEOUT, announce, fail

queue = None


def init(q):
    global queue
    queue = q


def pool_task(parent):
    queue.put(os.getpid())
    deadline = time.time() + PARK_SECONDS
    while time.time() < deadline and os.getppid() == parent:
        time.sleep(0.2)  # mark: pool-sleep


def main():
    workers = 16
    if len(sys.argv) > 1:
        workers = int(sys.argv[1])
    if hasattr(multiprocessing, "get_context"):
        mp = multiprocessing.get_context("fork")
    else:
        mp = multiprocessing  # Python 2.7 forks on Linux
    q = mp.Queue()
    pool = mp.Pool(workers, initializer=init, initargs=(q,))
    # One task per worker: each blocks, so no worker takes a second one.
    pool.map_async(pool_task, [os.getpid()] * workers, chunksize=1)
    pids = set()
    deadline = time.time() + PARK_TIMEOUT
    while len(pids) < workers:
        if time.time() > deadline:
            fail("only %d of %d workers started" % (len(pids), workers))
        pids.add(q.get(True, PARK_TIMEOUT))
    announce("workers=" + ",".join(str(p) for p in sorted(pids)))
    time.sleep(PARK_SECONDS)  # mark: parent-sleep


if __name__ == "__main__":
    main()
