# -*- coding: utf-8 -*-
# Copyright: sigcalcloud.cloud contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""No two test files share a name: make test runs tests/unit and tests/e2e in one pytest session, and
pytest (test folders are not packages here) refuses the second file of a name there, for every core."""

from __future__ import annotations

import collections
import os

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_every_test_file_has_a_name_of_its_own():
    places = collections.defaultdict(list)
    for folder in ("tests/unit", "tests/e2e"):
        for top, _dirs, files in os.walk(os.path.join(ROOT, folder)):
            for name in files:
                if name.startswith("test_") and name.endswith(".py"):
                    places[name].append(os.path.relpath(os.path.join(top, name), ROOT))
    assert dict((name, paths) for name, paths in places.items() if len(paths) > 1) == {}
