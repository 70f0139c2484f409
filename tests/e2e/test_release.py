# -*- coding: utf-8 -*-
# Copyright: sigcalcloud.cloud contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""What a Galaxy user gets: the release tarball, installed into an empty collections
path, documents every plugin and runs the demo against the emulator."""

from __future__ import annotations

import os
import re
import tarfile

import pytest

from helpers import ROOT, credentials_env, expected_backups


PLUGINS = [("module", "sigcalcloud.cloud.uredis_backup_info"), ("inventory", "sigcalcloud.cloud.uredis_backup")]


def test_tarball_holds_the_collection_and_no_build_or_test_output(release):
    tarball, _installed = release
    with open(os.path.join(ROOT, "galaxy.yml")) as handle:
        version = re.search(r"^version:\s*(\S+)", handle.read(), re.M).group(1)
    assert tarball.name == "sigcalcloud-cloud-%s.tar.gz" % version
    with tarfile.open(str(tarball)) as archive:
        names = archive.getnames()
    for needed in ("MANIFEST.json", "FILES.json", "README.md", "COPYING", "meta/runtime.yml",
                   "plugins/modules/uredis_backup_info.py", "plugins/inventory/uredis_backup.py",
                   "plugins/module_utils/_client.py", "plugins/doc_fragments/connection.py",
                   "tests/emulator/server.py", "tests/emulator/redis_plane.py", "docs/docsite/rst/emulator.rst",
                   "meta/execution-environment.yml", "requirements.txt", "docs/awx/execution-environment.yml"):
        assert needed in names, needed
    unwanted = [n for n in names if re.search(
        r"(^|/)(\.venv|\.build|\.git|\.pytest_cache|\.ruff_cache|\.hypothesis|__pycache__|output|\.ci)(/|$)"
        r"|\.pyc$|\.tar\.gz$", n)]
    assert unwanted == []


@pytest.mark.parametrize("kind, name", PLUGINS)
def test_installed_copy_documents_every_plugin(run_ansible, release, kind, name):
    _tarball, installed = release
    result = run_ansible("ansible-doc", "-t", kind, name, env={"ANSIBLE_COLLECTIONS_PATH": str(installed)})
    assert result.rc == 0, result
    assert str(installed) in result.stdout  # documented from the installed copy, not the checkout
    assert "EXAMPLES" in result.stdout and "private_key" in result.stdout


def test_installed_copy_runs_the_demo(run_ansible, release, emulator):
    _tarball, installed = release
    examples = installed / "ansible_collections" / "sigcalcloud" / "cloud" / "docs" / "examples"
    env = dict(credentials_env(emulator), ANSIBLE_COLLECTIONS_PATH=str(installed))
    result = run_ansible("ansible-playbook", examples / "demo_playbook.yml", env=env, record=True)
    assert result.rc == 0, result
    assert result.task_results()[0]["backups"] == expected_backups(emulator.data, "cn-bj2")
    result = run_ansible("ansible-inventory", "-i", examples / "demo.uredis_backup.yml", "--graph", env=env)
    assert result.rc == 0, result
    assert "@uredis_state_Success:" in result.stdout
