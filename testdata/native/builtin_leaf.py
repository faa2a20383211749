# A loop over the builtin compile(): under --native its C functions are the
# leaves below work(). Ready is printed before the loop starts.
from __future__ import print_function

SOURCE = "\n".join("def f%d(x):\n    return x * %d + 1" % (i, i) for i in range(100))


def work():
    while True: compile(SOURCE, "<generated>", "exec")  # mark: compile-loop


print("ready")  # -u: unbuffered
work()  # mark: module-call-work
