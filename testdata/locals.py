# One frame holding each common type, for dump --locals: the test compares
# every repr exactly. Runs on 2.7 and 3.x; prints "ready" and sleeps.
import sys
import time


class Point(object):
    def __init__(self):
        self.x = 1


def leaf(n, *rest, **options):
    nothing = None
    yes, no = True, False
    small, negative = 42, -7
    huge = 2 ** 200
    giant = 10 ** 2000
    ratio, large = 0.1, 1e16
    text = u"h\u00e9llo w\u00f6rld \u2713" if sys.version_info[0] >= 3 else "h\xc3\xa9llo"
    data = b"\x00\xffab'c"
    long_text = "x" * 1000
    pair, single, empty = (1, "two"), (1,), ()
    big_list = list(range(1000))
    nested = {"a": {"b": {"c": {"d": 1}}}}
    tags, no_tags = set(["x"]), set()
    point = Point()
    captured = "cell"

    def use():
        return captured

    sys.stdout.write("ready\n")
    sys.stdout.flush()
    time.sleep(100000)  # mark: leaf


leaf(3, "r", flag=1)
