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


def load_release_script():
    """scripts/release.py, which writes the version everywhere from galaxy.yml, as a module."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("release", os.path.join(ROOT, "scripts", "release.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_release_check_passes_on_the_checkout():
    """galaxy.yml, the User-Agent's COLLECTION_VERSION, changelog.yaml and CHANGELOG.md agree."""
    assert load_release_script().check() == []


def test_release_check_names_what_disagrees(tmp_path):
    release = load_release_script()
    for name in (release.GALAXY, release.CLIENT, release.CHANGES, release.CHANGELOG_MD):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(read(name), encoding="utf-8")
    assert release.check(tmp_path) == []
    newer = "%d.0.0" % (int(yaml.safe_load(read("galaxy.yml"))["version"].split(".")[0]) + 1)
    galaxy = tmp_path / release.GALAXY
    galaxy.write_text(release.set_galaxy_version(galaxy.read_text(encoding="utf-8"), newer), encoding="utf-8")
    problems = release.check(tmp_path)
    assert len(problems) == 3, problems
    assert [p.split(":")[0] for p in problems] == [release.CLIENT, release.CHANGES, release.CHANGELOG_MD]
    assert all(newer in p for p in problems), problems


def test_release_edits_only_the_version_lines():
    release = load_release_script()
    galaxy = "# a comment\nnamespace: x\nversion: 0.1.0  # set by scripts/release.py\nname: y\n"
    assert release.set_galaxy_version(galaxy, "1.0.0") == galaxy.replace("0.1.0", "1.0.0")
    client = '# Written by scripts/release.py\nCOLLECTION_VERSION = "0.1.0"\nOTHER = "0.1.0"\n'
    assert release.set_client_version(client, "1.0.0") == client.replace('"0.1.0"\nOTHER', '"1.0.0"\nOTHER')
    assert release.version_key("1.0.0-rc.1") < release.version_key("1.0.0") < release.version_key("1.0.1")
    assert release.version_key("1.10.0") > release.version_key("1.9.0")
