# -*- coding: utf-8 -*-
"""stack30.py as fixed work: a 30-deep chain spinning a set number of units.

Usage: stack30_work.py UNITS   (2.7, 3.6+)

Stack: <module> -> f01 -> ... -> f30 -> spin (benchgate.py). f30 prints
"ready main=<tid>", waits for a line on stdin, runs UNITS iterations, prints
"done seconds=<work time>" and returns; the process exits 0. 31 distinct
Python functions under <module>, as in stack30.py. Used by bench/.
"""
import sys

from benchgate import clock, done, gate, spin
from readiness import native_tid


def f30(units):
    gate("main=%d" % native_tid())
    start = clock()
    spin(units)  # mark: f30-call-spin
    done(clock() - start)


def f29(units):
    return f30(units)


def f28(units):
    return f29(units)


def f27(units):
    return f28(units)


def f26(units):
    return f27(units)


def f25(units):
    return f26(units)


def f24(units):
    return f25(units)


def f23(units):
    return f24(units)


def f22(units):
    return f23(units)


def f21(units):
    return f22(units)


def f20(units):
    return f21(units)


def f19(units):
    return f20(units)


def f18(units):
    return f19(units)


def f17(units):
    return f18(units)


def f16(units):
    return f17(units)


def f15(units):
    return f16(units)


def f14(units):
    return f15(units)


def f13(units):
    return f14(units)


def f12(units):
    return f13(units)


def f11(units):
    return f12(units)


def f10(units):
    return f11(units)


def f09(units):
    return f10(units)


def f08(units):
    return f09(units)


def f07(units):
    return f08(units)


def f06(units):
    return f07(units)


def f05(units):
    return f06(units)


def f04(units):
    return f05(units)


def f03(units):
    return f04(units)


def f02(units):
    return f03(units)


def f01(units):
    return f02(units)


if __name__ == "__main__":
    f01(int(sys.argv[1]))  # mark: module-call-f01
