# Python -> C -> Python -> C, and a pure C thread, for the --native tests.
# argv[1] is the directory holding the nativedemo extension the test built.
# The readiness line is printed by the C leaf itself, once it spins.
import sys

sys.path.insert(0, sys.argv[1])
import nativedemo


def inner():
    nativedemo.spin()  # mark: inner-call-spin


def outer():
    nativedemo.call(inner)  # mark: outer-call-c


nativedemo.start_thread()
outer()  # mark: module-call-outer
