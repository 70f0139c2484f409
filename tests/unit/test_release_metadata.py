# -*- coding: utf-8 -*-
# Copyright: sigcalcloud.cloud contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The version in galaxy.yml is released in the changelog, and CHANGELOG.md shows it."""

from __future__ import annotations

import os
import re

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def read(*path):
    with open(os.path.join(ROOT, *path), encoding="utf-8") as handle:
        return handle.read()


def test_galaxy_version_is_released_in_the_changelog():
    version = yaml.safe_load(read("galaxy.yml"))["version"]
    releases = yaml.safe_load(read("changelogs", "changelog.yaml"))["releases"]
    assert version in releases
    anchor = "v" + re.sub(r"\.", "-", version)
    assert '<a id="%s"></a>' % anchor in read("CHANGELOG.md")


def test_runtime_requires_the_oldest_tested_ansible_core():
    runtime = yaml.safe_load(read("meta", "runtime.yml"))
    assert runtime["requires_ansible"] == ">=2.16.0"
    assert "uredis_backup_info" in runtime["action_groups"]["sigcalcloud"]
