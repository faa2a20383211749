# -*- coding: utf-8 -*-
"""One thread recursing to a known depth, then parked (Python 2.7 and 3.6+).

Usage: deep.py [DEPTH]   (default 250)

Stack, outermost first: <module> -> main -> recurse x DEPTH, the innermost
recurse parked in time.sleep on the deep-sleep line; every other recurse frame
is on the deep-recurse line. Readiness payload: depth=<DEPTH> main=<tid>.
"""
import sys
import time

from readiness import PARK_SECONDS, announce, native_tid


def recurse(n, depth):
    if n >= depth:
        announce("depth=%d" % depth, "main=%d" % native_tid()); time.sleep(PARK_SECONDS)  # mark: deep-sleep
        return
    recurse(n + 1, depth)  # mark: deep-recurse


def main():
    depth = 250
    if len(sys.argv) > 1:
        depth = int(sys.argv[1])
    # Leave room for the frames below main and the helpers called at the bottom.
    if depth + 50 > sys.getrecursionlimit():
        sys.setrecursionlimit(depth + 50)
    recurse(1, depth)  # mark: main-call-recurse


if __name__ == "__main__":
    main()  # mark: module-call-main
