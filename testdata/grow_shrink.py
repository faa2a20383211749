# -*- coding: utf-8 -*-
"""A recursion that grows and shrinks without pause (Python 2.7 and 3.6+):
frames are pushed and popped all the time, so a reader racing with the
thread sees frames freed and reused under it. A stack cut short must never
be shown as whole.

Usage: grow_shrink.py [DEPTH]   (DEPTH default 60)

Stack, outermost first: <module> -> main -> recurse x 1..DEPTH, the depth
sweeping up and down; the innermost recurse spins a few iterations on the
recurse-spin line. Prints ready at once: depth=<DEPTH> main=<tid>.
"""
import sys

from readiness import RANGE, announce, native_tid


def recurse(n, top):
    if n < top:
        return recurse(n + 1, top)  # mark: recurse-call
    x = 0
    for i in RANGE(20): x = (x * 31 + i) % 1000003  # mark: recurse-spin
    return x


def main(depth):
    announce("depth=%d" % depth, "main=%d" % native_tid())
    while True:
        for top in RANGE(1, depth): recurse(1, top)  # mark: main-grow
        for top in RANGE(depth, 1, -1): recurse(1, top)  # mark: main-shrink


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 60)  # mark: module-call-main
