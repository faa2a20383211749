# -*- coding: utf-8 -*-
"""Many threads, half spinning CPU, half sleeping (Python 2.7 and 3.6+).

Usage: threads_many.py [N]   (default 50 threads besides main)

Thread i is named "cpu-<i>" (even i: cpu_worker -> spin, on the spin-loop line)
or "sleep-<i>" (odd i: sleep_worker, on the sleep-park line). The main thread
parks in main on the main-sleep line once every worker has started. Used by
benchmarks. Ready payload: threads=<N> main=<tid>.
"""
import sys
import threading
import time

from readiness import PARK_SECONDS, announce, native_tid, wait_event


def spin():
    x = 1
    while True: x = (x * 31 + 7) % 1000003  # mark: spin-loop


def cpu_worker(go, started):
    # Spinners wait for go so that starting the other threads does not have to
    # win the GIL from dozens of spinning threads, one start at a time.
    wait_event(go, "go")
    started.set()
    spin()  # mark: cpu-call-spin


def sleep_worker(go, started):
    started.set()
    time.sleep(PARK_SECONDS)  # mark: sleep-park


def main():
    n = 50
    if len(sys.argv) > 1:
        n = int(sys.argv[1])
    go = threading.Event()
    events = []
    for i in range(n):
        started = threading.Event()
        if i % 2 == 0:
            t = threading.Thread(target=cpu_worker, name="cpu-%d" % i, args=(go, started))
        else:
            t = threading.Thread(target=sleep_worker, name="sleep-%d" % i, args=(go, started))
        t.daemon = True  # the process ends when main's park ends
        t.start()
        events.append((t.name, started))
    go.set()
    for name, started in events:
        wait_event(started, name)
    announce("threads=%d" % n, "main=%d" % native_tid()); time.sleep(PARK_SECONDS)  # mark: main-sleep


if __name__ == "__main__":
    main()  # mark: module-call-main
