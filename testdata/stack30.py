# -*- coding: utf-8 -*-
"""A 30-deep chain of distinct functions spinning CPU at the bottom (2.7, 3.6+).

Usage: stack30.py [SECONDS]   (default 600), then exits 0.

Stack: <module> -> f01 -> f02 -> ... -> f30, f30 on the bottom-spin line.
Distinct functions (not recursion) so a profiler caches 30 code objects, as in
a real application. Used by benchmarks. Ready payload: main=<tid>.
"""
import sys
import time

from readiness import announce, native_tid

SECONDS = [600.0]


def f30():
    deadline = time.time() + SECONDS[0]
    x = 1
    announce("main=%d" % native_tid())
    while time.time() < deadline: x = (x * 31 + 7) % 1000003  # mark: bottom-spin


def f29():
    f30()


def f28():
    f29()


def f27():
    f28()


def f26():
    f27()


def f25():
    f26()


def f24():
    f25()


def f23():
    f24()


def f22():
    f23()


def f21():
    f22()


def f20():
    f21()


def f19():
    f20()


def f18():
    f19()


def f17():
    f18()


def f16():
    f17()


def f15():
    f16()


def f14():
    f15()


def f13():
    f14()


def f12():
    f13()


def f11():
    f12()


def f10():
    f11()


def f09():
    f10()


def f08():
    f09()


def f07():
    f08()


def f06():
    f07()


def f05():
    f06()


def f04():
    f05()


def f03():
    f04()


def f02():
    f03()


def f01():
    f02()


if __name__ == "__main__":
    if len(sys.argv) > 1:
        SECONDS[0] = float(sys.argv[1])
    f01()  # mark: module-call-f01
