# A hung program for dump's tests: every thread blocks on something known.
# With "deadlock", worker-1 and worker-2 wait for each other's Lock; with
# "threads=N", N more threads ("extra-<i>") wait in turn on the queue, the
# condition, the RLock and a sleep (the dump benchmark's 50 threads).
# Runs on 2.7 and 3.x. The main thread prints "ready" once every thread is
# about to block, then joins worker-1 (or the rlock-holder).
import os
import socket
import subprocess
import sys
import threading
import time

try:
    import queue
except ImportError:  # 2.7
    import Queue as queue

lock_a = threading.Lock()
lock_b = threading.Lock()
rlock = threading.RLock()
cond = threading.Condition()
jobs = queue.Queue()
never = threading.Event()
started = []


def worker_1(a_taken, b_taken):
    with lock_a:
        a_taken.set()
        b_taken.wait()
        with lock_b:  # mark: worker-1
            pass


def worker_2(a_taken, b_taken):
    with lock_b:
        b_taken.set()
        a_taken.wait()
        with lock_a:  # mark: worker-2
            pass


def rlock_holder(held):
    with rlock:
        held.set()
        never.wait()  # mark: rlock-holder


def rlock_waiter():
    with rlock:  # mark: rlock-waiter
        pass


def cond_waiter():
    with cond:
        cond.wait()  # mark: cond-waiter


def queue_getter():
    jobs.get()  # mark: queue-getter


def receiver(conn):
    conn.recv(1024)  # mark: receiver


def child_waiter():
    child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    started.append(child.pid)
    child.wait()  # mark: child-waiter


def sleeper():
    time.sleep(100000)  # mark: sleeper


def start(target, name, *args):
    t = threading.Thread(target=target, name=name, args=args)
    t.daemon = True
    t.start()
    return t


def main():
    deadlock = "deadlock" in sys.argv[1:]
    held = threading.Event()
    joined = start(rlock_holder, "rlock-holder", held)
    held.wait()
    start(rlock_waiter, "rlock-waiter")
    start(cond_waiter, "cond-waiter")
    start(queue_getter, "queue-getter")
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    client = socket.create_connection(server.getsockname())
    conn, _ = server.accept()
    start(receiver, "receiver", conn)
    start(child_waiter, "child-waiter")
    start(sleeper, "sleeper")
    waits = [queue_getter, cond_waiter, rlock_waiter, sleeper]
    for arg in sys.argv[1:]:
        if arg.startswith("threads="):
            for i in range(int(arg[len("threads="):])):
                start(waits[i % len(waits)], "extra-%d" % i)
    if deadlock:
        a_taken, b_taken = threading.Event(), threading.Event()
        joined = start(worker_1, "worker-1", a_taken, b_taken)
        start(worker_2, "worker-2", a_taken, b_taken)
    while not started:
        time.sleep(0.01)
    sys.stdout.write("ready %d %d\n" % (client.getsockname()[1], started[0]))
    sys.stdout.flush()
    joined.join()  # mark: MainThread


main()
