# -*- coding: utf-8 -*-
"""A generator expression resumed from C thousands of times a second
(Python 2.7 and 3.6+): sum() drives it, so its frame is linked to its
caller only while it runs. A reader that races with that sees torn stacks.

Stack, outermost first: <module> -> consume -> produce -> <genexpr>.
Ready payload: main=<tid>.
"""
from readiness import RANGE, announce, native_tid


def produce():
    while True:
        yield sum(j * j for j in RANGE(200))  # mark: produce-sum


def consume():
    announce("main=%d" % native_tid())
    for _ in produce():  # mark: consume-loop
        pass


consume()  # mark: module-call-consume
