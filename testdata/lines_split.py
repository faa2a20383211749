# -*- coding: utf-8 -*-
"""Line shares 70/20/10 inside one function, in a file with non-ASCII text.

Usage: lines_split.py [SECONDS]   (default 600), then exits 0.

work() runs three loops of the same body, 7, 2 and 1 units long, so about 70%,
20% and 10% of its samples fall on lines-70, lines-20 and lines-10. Strings
and comments hold non-ASCII text (Grüße, 計算, ☃) that the line table must show
as written. Python 2.7 and 3.6+. Prints ready at once: main=<tid>.
"""
import sys
import time

from readiness import RANGE, announce, native_tid

UNIT = 10000
LABEL = u"Grüße 計算 ☃"


def work():
    x = 1  # ünïcödé
    for i in RANGE(7 * UNIT): x = (x * 31 + i) % 1000003  # mark: lines-70 Grüße
    for i in RANGE(2 * UNIT): x = (x * 31 + i) % 1000003  # mark: lines-20 計算
    for i in RANGE(UNIT): x = (x * 31 + i) % 1000003  # mark: lines-10 ☃
    return x


def run(seconds):
    deadline = time.time() + seconds
    while time.time() < deadline:
        work()  # mark: run-call-work


if __name__ == "__main__":
    seconds = 600.0
    if len(sys.argv) > 1:
        seconds = float(sys.argv[1])
    announce("main=%d" % native_tid())
    run(seconds)
    sys.exit(0)
