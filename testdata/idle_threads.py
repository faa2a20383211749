# -*- coding: utf-8 -*-
"""N threads, all parked in sleep (Python 2.7 and 3.6+); for dump latency.

Usage: idle_threads.py [N]   (default 10 threads in all, main included)

Main parks in main on the main-park line, every other thread ("idle-<i>")
in park on the idle-park line, all in time.sleep. Ready payload:
threads=<N> main=<tid>, printed once every thread sits on its line.
"""
import sys
import threading
import time

from readiness import PARK_SECONDS, announce, native_tid, wait_parked


def park():
    time.sleep(PARK_SECONDS)  # mark: idle-park


def main():
    n = 10
    if len(sys.argv) > 1:
        n = int(sys.argv[1])
    threads = []
    for i in range(1, n):
        t = threading.Thread(target=park, name="idle-%d" % i)
        t.daemon = True  # the process ends when main's park ends
        t.start()
        threads.append(t)
    for t in threads:
        wait_parked(t, __file__, "idle-park")
    announce("threads=%d" % n, "main=%d" % native_tid()); time.sleep(PARK_SECONDS)  # mark: main-park


if __name__ == "__main__":
    main()  # mark: module-call-main
