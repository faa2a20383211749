# -*- coding: utf-8 -*-
"""Imported by unicode_names.py from a directory and file with non-ASCII names
(Python 3 only). dormir_ñ parks the calling thread on the módulo-sleep line.
"""
import time

from readiness import PARK_SECONDS, announce, native_tid


def dormir_ñ():
    announce("main=%d" % native_tid()); time.sleep(PARK_SECONDS)  # mark: módulo-sleep
