# -*- coding: utf-8 -*-
# Copyright: sigcalcloud.cloud contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Fixtures for end-to-end tests: an emulator per test, real ansible processes, the release tarball.

Each test drives ``ansible``, ``ansible-playbook`` or ``ansible-inventory`` from the
interpreter's own virtualenv as a subprocess, the way a user runs them, against an
emulator bound to 127.0.0.1 on a free port.
"""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import pytest

from emulator.server import Emulator, generate_dataset
from helpers import BIN, DEMO_REGIONS, HERE, ROOT, AnsibleRun, collections_path


@pytest.fixture
def ansible_env(tmp_path):
    """An environment that isolates Ansible from the user's own configuration."""
    home = tmp_path / "ansible-home"
    home.mkdir()
    user_home = tmp_path / "home"  # no ~/.sigcalcloud profile files unless a test writes them
    user_home.mkdir()
    # PYTHONPATH (scripts/test.sh sets it for the unit tests) would shadow the collection
    # loader's view of ANSIBLE_COLLECTIONS_PATH in the ansible processes.
    env = dict((k, v) for k, v in os.environ.items()
               if not k.startswith(("SIGCALCLOUD_", "ANSIBLE_")) and k != "PYTHONPATH")
    env.update({
        "ANSIBLE_COLLECTIONS_PATH": collections_path(),
        "ANSIBLE_HOME": str(home),
        "HOME": str(user_home),
        "ANSIBLE_LOCAL_TEMP": str(home / "tmp"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_RETRY_FILES_ENABLED": "0",
        "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
        "ANSIBLE_LOCALHOST_WARNING": "0",
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "0",
        "PATH": BIN + os.pathsep + env.get("PATH", ""),
    })
    return env


@pytest.fixture
def run_ansible(ansible_env, tmp_path):
    """run_ansible("ansible-playbook", "play.yml", env={...}, record=True)."""

    counter = [0]

    def run(program, *args, env=None, record=False, timeout=300, cwd=None):
        full_env = dict(ansible_env)
        results_file = None
        if record:
            counter[0] += 1
            results_file = str(tmp_path / ("results-%d.json" % counter[0]))
            full_env.update(ANSIBLE_CALLBACK_PLUGINS=os.path.join(HERE, "callback_plugins"),
                            ANSIBLE_CALLBACKS_ENABLED="record_results", ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
                            RECORD_RESULTS_FILE=results_file)
        full_env.update(env or {})
        argv = [os.path.join(BIN, program)] + [str(a) for a in args]
        completed = subprocess.run(argv, env=full_env, cwd=str(cwd or tmp_path), capture_output=True,
                                   text=True, timeout=timeout, check=False)
        return AnsibleRun(argv, completed, results_file)

    return run


@pytest.fixture
def emulator():
    """The demo data set (3 regions) on a free port; stopped after the test. Its groups are rows: the tests
    that need real redis-servers behind them (the restore drill's) start their own with redis=True, so that
    the hundreds of other tests do not start and stop some 28 servers each."""
    emu = Emulator(data=generate_dataset(DEMO_REGIONS, 30, seed=1))
    emu.start()
    try:
        yield emu
    finally:
        emu.stop()


@pytest.fixture
def start_emulator():
    """start_emulator(**Emulator kwargs) for tests that need latency, faults or TLS (groups as rows unless redis=True is given)."""
    started = []

    def start(**kwargs):
        kwargs.setdefault("data", generate_dataset(DEMO_REGIONS, 30, seed=1))
        emu = Emulator(**kwargs)
        emu.start()
        started.append(emu)
        return emu

    yield start
    for emu in started:
        emu.stop()


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    """(tarball, collections path): the release tarball, built once per test module (test_release.py,
    test_ee.py) and installed into an empty collections path.

    With SIGCALCLOUD_RELEASE_TARBALL set (scripts/release_checks.sh sets it), that tarball, built
    from this checkout, is installed instead, so the tests check the very file galaxy-importer did."""
    bin_dir = os.path.dirname(sys.executable)
    work = tmp_path_factory.mktemp("release")
    # A clean environment: with the checkout on ANSIBLE_COLLECTIONS_PATH, galaxy would
    # find the collection "already installed" and install nothing.
    env = dict(((k, v) for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith("ANSIBLE_")),
               ANSIBLE_HOME=str(work / "ansible-home"), ANSIBLE_NOCOLOR="1")
    prebuilt = os.environ.get("SIGCALCLOUD_RELEASE_TARBALL")
    if prebuilt:
        tarball = pathlib.Path(prebuilt)
        assert tarball.is_file(), "SIGCALCLOUD_RELEASE_TARBALL=%s is not a file" % prebuilt
    else:
        subprocess.run([os.path.join(bin_dir, "ansible-galaxy"), "collection", "build", ROOT, "--output-path",
                        str(work / "dist")], check=True, capture_output=True, env=env)
        tarball, = (work / "dist").glob("sigcalcloud-cloud-*.tar.gz")
    installed = work / "collections"
    subprocess.run([os.path.join(bin_dir, "ansible-galaxy"), "collection", "install", "--force", str(tarball),
                    "-p", str(installed)], check=True, capture_output=True, env=env)
    assert (installed / "ansible_collections" / "sigcalcloud" / "cloud" / "MANIFEST.json").exists()
    return tarball, installed
