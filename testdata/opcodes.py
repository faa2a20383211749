# -*- coding: utf-8 -*-
"""Three hot lines whose bytecode the --opcodes tests know (Python 2.7, 3.6+).

Usage: opcodes.py [SECONDS]   (default 600), then exits 0.

fmul's loop line multiplies floats, attr's loads an instance attribute, and
builtin's calls len(); each runs its whole loop on its marked line. The
functions are warmed up first, so 3.11+ has specialised them, then the
readiness line gives, per function, the instructions dis shows on its line:
ready fmul=BINARY_OP,FOR_ITER,... attr=... builtin=...
"""
import dis
import opcode
import sys
import time

from readiness import RANGE, announce, mark_line

N = 2000


class Point(object):
    def __init__(self):
        self.x = 1.5


def fmul(a, b):
    t = 0.0
    for _ in RANGE(N): t = a * b  # mark: fmul-line
    return t


def attr(p):
    s = 0
    for _ in RANGE(N): s = p.x  # mark: attr-line
    return s


def builtin(xs):
    n = 0
    for _ in RANGE(N): n = len(xs)  # mark: builtin-line
    return n


def line_ops(code, line):
    """The names dis gives the instructions of code on source line line."""
    names = set()
    if hasattr(dis, "get_instructions"):
        current = None
        for ins in dis.get_instructions(code):
            at = getattr(ins, "line_number", None)  # 3.13+
            if at is None and getattr(ins, "starts_line", None) is not None:
                current = ins.starts_line  # <= 3.12: set where a line starts
            elif at is not None:
                current = at
            if current == line:
                names.add(ins.opname)
        return names
    # 2.7: walk co_code by hand; arguments take two bytes.
    starts = dict(dis.findlinestarts(code))
    raw = code.co_code
    i, current = 0, None
    while i < len(raw):
        current = starts.get(i, current)
        op = ord(raw[i])
        if current == line:
            names.add(opcode.opname[op])
        i += 3 if op >= opcode.HAVE_ARGUMENT else 1
    return names


def run(seconds):
    p, xs = Point(), [1, 2, 3]
    deadline = time.time() + seconds
    while time.time() < deadline:
        fmul(1.5, 2.5)
        attr(p)
        builtin(xs)


if __name__ == "__main__":
    seconds = 600.0
    if len(sys.argv) > 1:
        seconds = float(sys.argv[1])
    run(0.2)  # warm up: 3.11+ specialises the hot instructions
    fields = []
    for fn, mark in ((fmul, "fmul-line"), (attr, "attr-line"), (builtin, "builtin-line")):
        code = getattr(fn, "__code__", None) or fn.func_code
        names = sorted(line_ops(code, mark_line(__file__, mark)))
        fields.append("%s=%s" % (fn.__name__, ",".join(names)))
    announce(*fields)
    run(seconds)
    sys.exit(0)
