# -*- coding: utf-8 -*-
"""One thread doing nothing (Python 2.7 and 3.6+); for overhead benchmarks.

Stack: <module> -> idle_main, parked in time.sleep on the idle-sleep line.
"""
import time

from readiness import PARK_SECONDS, announce


def idle_main():
    announce(); time.sleep(PARK_SECONDS)  # mark: idle-sleep


if __name__ == "__main__":
    idle_main()  # mark: module-call-idle-main
