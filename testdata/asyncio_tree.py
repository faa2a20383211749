# -*- coding: utf-8 -*-
"""Named asyncio tasks awaiting each other in a known tree (Python 3.11+).

Usage: asyncio_tree.py [LOOPS [cycle]]   (default 1)

Each of LOOPS threads (the first is the main thread) runs its own event
loop; in loop i (0-based, suffix "" for loop 0 and "-i" for the others)
the tasks are:

    root<s>    main_task@root-await        awaits gather(middle<s>, sleeper<s>)
    middle<s>  middle@middle-await         awaits the task spinner<s>
    spinner<s> spin_task@spin-await -> compute@compute-burn -> burn@burn-loop
    sleeper<s> sleeper@sleeper-await       awaits its asyncio.TaskGroup of napper<s>
    napper<s>  nap@nap-await               in asyncio.sleep

With "cycle", loop 0 also runs cycle-a and cycle-b, each awaiting the
other (cycle_member@cycle-await): a cycle of awaiting, which never ends.

spinner burns CPU in burn() and yields to its loop (asyncio.sleep(0))
only every ~100 ms of CPU, so nearly every sample of its thread is inside it.
The ready line comes once every loop's spinner runs.
"""
import asyncio
import sys
import threading
import time

from readiness import announce, native_tid, PARK_SECONDS, PARK_TIMEOUT, fail

started = []
lock = threading.Lock()
all_started = threading.Event()
loops = 1


def burn(n):
    x = 0
    for i in range(n): x += i  # mark: burn-loop
    return x


async def compute():
    deadline = time.time() + PARK_SECONDS
    while time.time() < deadline:
        burn(1000000)  # mark: compute-burn
        await asyncio.sleep(0)


async def spin_task(suffix):
    with lock:
        started.append(native_tid())
        if len(started) == loops:
            all_started.set()
    await compute()  # mark: spin-await


async def middle(suffix):
    t = asyncio.get_running_loop().create_task(spin_task(suffix), name="spinner" + suffix)
    await t  # mark: middle-await


async def nap():
    await asyncio.sleep(PARK_SECONDS)  # mark: nap-await


async def sleeper(suffix):
    async with asyncio.TaskGroup() as tg:  # mark: sleeper-await
        tg.create_task(nap(), name="napper" + suffix)


cycle = False
cycle_tasks = {}


async def cycle_member(other):
    await asyncio.sleep(0)  # the other task exists by now
    await cycle_tasks[other]  # mark: cycle-await


async def main_task(suffix):
    asyncio.current_task().set_name("root" + suffix)
    loop = asyncio.get_running_loop()
    m = loop.create_task(middle(suffix), name="middle" + suffix)
    s = loop.create_task(sleeper(suffix), name="sleeper" + suffix)
    if cycle and suffix == "":
        cycle_tasks["a"] = loop.create_task(cycle_member("b"), name="cycle-a")
        cycle_tasks["b"] = loop.create_task(cycle_member("a"), name="cycle-b")
    await asyncio.gather(m, s)  # mark: root-await


def run_loop(suffix):
    asyncio.run(main_task(suffix))


if __name__ == "__main__":
    if len(sys.argv) > 1:
        loops = int(sys.argv[1])
    cycle = len(sys.argv) > 2 and sys.argv[2] == "cycle"
    tids = []
    for i in range(1, loops):
        t = threading.Thread(target=run_loop, args=("-%d" % i,), name="loop-%d" % i, daemon=True)
        t.start()

    def ready():
        if not all_started.wait(PARK_TIMEOUT):
            fail("not every spinner started")
        announce("main=%d" % native_tid(), "loops=%d" % loops)
    threading.Thread(target=ready, daemon=True).start()
    run_loop("")
