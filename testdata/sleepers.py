# -*- coding: utf-8 -*-
"""Three threads in known states (Python 2.7 and 3.6+); see README.md.

main thread:  <module> -> main -> outer -> inner, parked in time.sleep
busy-worker:  worker -> spin, a pure-Python CPU loop on one line
idle-worker:  idle_wait -> Holder.method, parked in time.sleep

Readiness payload: main=<tid> busy-worker=<tid> idle-worker=<tid> (OS thread ids).
"""
import sys
import threading
import time

from readiness import PARK_SECONDS, announce, native_tid, wait_parked

tids = {}


def spin():
    x = 1
    while True: x = (x * 31 + 7) % 1000003  # mark: spin-loop


def worker():
    tids["busy-worker"] = native_tid()
    spin()  # mark: worker-call-spin


class Holder(object):
    def method(self):
        time.sleep(PARK_SECONDS)  # mark: holder-sleep


def idle_wait():
    tids["idle-worker"] = native_tid()
    Holder().method()  # mark: idle-call-method


def inner():
    announce(*fields()); time.sleep(PARK_SECONDS)  # mark: inner-sleep


def outer():
    inner()  # mark: outer-call-inner


def fields():
    return ["%s=%d" % (k, tids[k]) for k in ("main", "busy-worker", "idle-worker")]


def main():
    tids["main"] = native_tid()
    busy = threading.Thread(target=worker, name="busy-worker")
    idle = threading.Thread(target=idle_wait, name="idle-worker")
    for t in (busy, idle):
        t.daemon = True  # the process ends when main's park ends
        t.start()
    wait_parked(busy, __file__, "spin-loop")
    wait_parked(idle, __file__, "holder-sleep")
    outer()  # mark: main-call-outer


if __name__ == "__main__":
    main()  # mark: module-call-main
