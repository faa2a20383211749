# -*- coding: utf-8 -*-
"""A sub-interpreter spinning in a thread, the main interpreter parked
(Python 3.12+: _xxsubinterpreters, 3.13's _interpreters, 3.14's
concurrent.interpreters).

Main parks in time.sleep on main-park; thread "sub-runner" runs SUB_CODE
in a new interpreter, where sub_spin loops on the code's line 4 (file
"<string>"). Ready (main=<tid> sub=<interpreter id>) once sub_spin runs.
"""
import os
import sys
import threading
import time

from readiness import PARK_SECONDS, announce, fail, native_tid

SUB_CODE = """import os, time
def sub_spin(fd):
    os.write(fd, b"x")
    while True: pass
sub_spin(%d)
"""


def run_in_subinterpreter(code):
    """Runs code in a new interpreter in a new thread; returns its id."""
    try:
        from concurrent import interpreters  # 3.14+
        interp = interpreters.create()
        t = threading.Thread(target=interp.exec, args=(code,), name="sub-runner")
        t.daemon = True
        t.start()
        return interp.id
    except ImportError:
        pass
    try:
        import _interpreters as low  # 3.13
    except ImportError:
        import _xxsubinterpreters as low  # 3.12
    iid = low.create()
    run = getattr(low, "run_string", None) or low.exec
    t = threading.Thread(target=run, args=(iid, code), name="sub-runner")
    t.daemon = True
    t.start()
    return int(iid)


def main():
    r, w = os.pipe()
    iid = run_in_subinterpreter(SUB_CODE % w)
    if os.read(r, 1) != b"x":
        fail("the sub-interpreter did not start")
    announce("main=%d" % native_tid(), "sub=%d" % iid); time.sleep(PARK_SECONDS)  # mark: main-park


if __name__ == "__main__":
    main()
