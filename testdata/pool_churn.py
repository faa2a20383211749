# -*- coding: utf-8 -*-
"""A multiprocessing pool that forks a new worker for every short task (2.7, 3.6+).

Usage: pool_churn.py [TASKS]   (default 60), then exits 0.

Pool(2, maxtasksperchild=1): each task runs in a worker of its own, spinning
about 150 ms on the churn-spin line, then the worker exits and the pool forks
the next. When every task is done the parent prints
`workers=<pid>,<pid>,...` (sorted, one pid per task) and exits. Workers are
forked explicitly (3.14 defaults to forkserver on Linux). A test of a
profiler's --subprocesses: it must see every one of them.
"""
import multiprocessing
import os
import sys
import time

TASK_SECONDS = 0.15


def churn_task(i):
    deadline = time.time() + TASK_SECONDS
    x = i
    while time.time() < deadline: x = (x * 31 + 7) % 1000003  # mark: churn-spin
    return os.getpid()


def main():
    tasks = 60
    if len(sys.argv) > 1:
        tasks = int(sys.argv[1])
    if hasattr(multiprocessing, "get_context"):
        mp = multiprocessing.get_context("fork")
    else:
        mp = multiprocessing  # Python 2.7 forks on Linux
    pool = mp.Pool(2, maxtasksperchild=1)
    pids = pool.map(churn_task, range(tasks), chunksize=1)
    pool.close()
    pool.join()
    sys.stdout.write("workers=" + ",".join(str(p) for p in sorted(set(pids))) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
