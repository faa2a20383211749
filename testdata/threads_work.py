# -*- coding: utf-8 -*-
"""threads_many.py as fixed work: N threads mixing CPU and sleep (2.7, 3.6+).

Usage: threads_work.py N UNITS

Thread i is "cpu-<i>" (even i: runs UNITS iterations in benchgate.spin,
then ends) or "sleep-<i>" (odd i: sleeps 1 ms at a time until the CPU
threads are done, so the sleepers wake, take the GIL and park again all
along). Main prints "ready threads=<N> main=<tid>" once every worker is
waiting, waits for a line on stdin, releases the workers, joins the CPU
threads, prints "done seconds=<work time>" and exits 0. Used by bench/.
"""
import sys
import threading
import time

from benchgate import clock, done, gate, spin
from readiness import announce, native_tid, wait_event


def cpu_worker(go, started, units):
    started.set()
    wait_event(go, "go")
    spin(units)  # mark: work-call-spin


def sleep_worker(go, started, stop):
    started.set()
    wait_event(go, "go")
    while not stop.is_set(): time.sleep(0.001)  # mark: work-sleep


def main():
    n, units = int(sys.argv[1]), int(sys.argv[2])
    go, stop = threading.Event(), threading.Event()
    cpu, events = [], []
    for i in range(n):
        started = threading.Event()
        if i % 2 == 0:
            t = threading.Thread(target=cpu_worker, name="cpu-%d" % i, args=(go, started, units))
            cpu.append(t)
        else:
            t = threading.Thread(target=sleep_worker, name="sleep-%d" % i, args=(go, started, stop))
        t.daemon = True
        t.start()
        events.append((t.name, started))
    for name, started in events:
        wait_event(started, name)
    gate("threads=%d" % n, "main=%d" % native_tid())
    start = clock()
    go.set()
    for t in cpu:
        t.join()
    done(clock() - start)
    stop.set()


if __name__ == "__main__":
    main()  # mark: module-call-main
