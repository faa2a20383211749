# -*- coding: utf-8 -*-
"""Readiness helpers shared by the pyspyglass test scripts.

A script calls announce() only once every thread sits on its known line, so the
Go side (internal/testutil.Spawn) can sample right after reading the line. The
helpers never appear on a parked stack: they return before the park begins.
Compatible with Python 2.7 and 3.6+.
"""
import io
import os
import sys
import threading
import time

# Every script parks for at most this long, then exits on its own, so a test
# binary that dies without its cleanup leaves nothing running for long.
PARK_SECONDS = 600.0

# How long a script waits for its own threads to reach their spots before it
# gives up; generous because 2.7's GIL hand-off to a waiting thread is slow
# when another thread spins.
PARK_TIMEOUT = 60.0

try:
    RANGE = xrange  # Python 2: no list of N ints per loop
except NameError:
    RANGE = range


def native_tid():
    """The OS thread id of the calling thread, or 0 when it cannot be had."""
    get = getattr(threading, "get_native_id", None)
    if get is not None:
        return get()
    try:
        import ctypes
        # SYS_gettid on x86_64; older Pythons have no wrapper for it.
        return int(ctypes.CDLL(None).syscall(186))
    except Exception:
        return 0


def mark_line(path, name):
    """The 1-based line of path carrying '# mark: name' (as testutil.Mark)."""
    tag = "# mark: " + name
    found = 0
    with io.open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            at = line.find(tag)
            if at < 0:
                continue
            rest = line[at + len(tag):]
            if rest and not rest[0].isspace():
                continue
            if found:
                fail("mark %s appears twice in %s" % (name, path))
            found = number
    if not found:
        fail("mark %s not found in %s" % (name, path))
    return found


def wait_parked(thread, path, mark):
    """Block until thread's innermost Python frame is on the marked line.

    sys._current_frames shows exactly what an outside profiler reads (the
    innermost Python frame and its line), so this is the real condition the
    tests need, not an approximation by event plus hope.
    """
    line = mark_line(path, mark)
    base = os.path.basename(path)
    deadline = time.time() + PARK_TIMEOUT
    while True:
        frame = sys._current_frames().get(thread.ident)
        if (frame is not None and frame.f_lineno == line
                and os.path.basename(frame.f_code.co_filename) == base):
            return
        if time.time() > deadline:
            fail("thread %s never reached mark %s" % (thread.name, mark))
        time.sleep(0.001)


def wait_event(event, what):
    """Event.wait with the park timeout; Python 2.7's wait returns None."""
    event.wait(PARK_TIMEOUT)
    if not event.is_set():
        fail("timed out waiting for " + what)


def announce(*fields):
    """Print the readiness line: 'ready' plus optional key=value fields."""
    line = "ready"
    if fields:
        line += " " + " ".join(str(f) for f in fields)
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def fail(message):
    sys.stderr.write("testdata: " + message + "\n")
    sys.stderr.flush()
    os._exit(3)
