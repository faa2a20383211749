# -*- coding: utf-8 -*-
"""Non-ASCII function, class, module and file names (Python 3 only).

Stack, outermost first:
  <module>           unicode_names.py  module-call-función
  función_ñ          unicode_names.py  función-call-método
  Ünïcode.método     unicode_names.py  método-call-dormir   (qualname on 3.11+)
  dormir_ñ           ünïcödé/naïve_mödule.py  módulo-sleep, parked in time.sleep
Ready payload: main=<tid>.
"""
import os
import sys

sys.path.insert(1, os.path.join(os.path.dirname(os.path.abspath(__file__)), "ünïcödé"))

import naïve_mödule  # noqa: E402


class Ünïcode:
    def método(self):
        naïve_mödule.dormir_ñ()  # mark: método-call-dormir


def función_ñ():
    Ünïcode().método()  # mark: función-call-método


if __name__ == "__main__":
    función_ñ()  # mark: module-call-función
