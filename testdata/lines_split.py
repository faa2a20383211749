# -*- coding: utf-8 -*-
"""Line shares 70/20/10 inside one function, in a file with non-ASCII text.

Usage: lines_split.py [SECONDS]   (default 600), then exits 0.

work() runs three loops of the same body, 7, 2 and 1 units long, so about 70%,
20% and 10% of its samples fall on lines-70, lines-20 and lines-10. Strings
and comments hold non-ASCII text (Grüße, 計算, ☃) that the line table must show
as written. Python 2.7 and 3.6+. Prints ready at once: main=<tid>.

On a loaded machine the shares in time drift from 70/20/10, so work() times
its loops and, when the script ends on its own, it prints the wall-clock
seconds spent in each: "selftime l70=A l20=B l10=C", the truth of this run.
"""
import sys
import time

from readiness import RANGE, announce, native_tid

UNIT = 10000
LABEL = u"Grüße 計算 ☃"


def work(spent, clock=time.time):
    x = 1; t0 = clock()  # ünïcödé
    for i in RANGE(7 * UNIT): x = (x * 31 + i) % 1000003  # mark: lines-70 Grüße
    t1 = clock()
    for i in RANGE(2 * UNIT): x = (x * 31 + i) % 1000003  # mark: lines-20 計算
    t2 = clock()
    for i in RANGE(UNIT): x = (x * 31 + i) % 1000003  # mark: lines-10 ☃
    spent[0] += t1 - t0; spent[1] += t2 - t1; spent[2] += clock() - t2
    return x  # mark: work-return


def run(seconds):
    deadline = time.time() + seconds
    spent = [0.0, 0.0, 0.0]
    while time.time() < deadline:
        work(spent)  # mark: run-call-work
    return spent


if __name__ == "__main__":
    seconds = 600.0
    if len(sys.argv) > 1:
        seconds = float(sys.argv[1])
    announce("main=%d" % native_tid())
    spent = run(seconds)
    sys.stdout.write("selftime l70=%.6f l20=%.6f l10=%.6f\n" % tuple(spent))
    sys.stdout.flush()
    sys.exit(0)
