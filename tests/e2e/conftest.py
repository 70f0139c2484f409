# -*- coding: utf-8 -*-
# Copyright: sigcalcloud.cloud contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Fixtures for end-to-end tests: an emulator per test, and real ansible processes.

Each test drives ``ansible``, ``ansible-playbook`` or ``ansible-inventory`` from the
interpreter's own virtualenv as a subprocess, the way a user runs them, against an
emulator bound to 127.0.0.1 on a free port.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import subprocess
import sys
import textwrap

import pytest
from ansible.release import __version__ as ANSIBLE_CORE_VERSION

from emulator.server import Emulator, generate_dataset

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BIN = os.path.dirname(sys.executable)
DEMO_REGIONS = ["cn-bj2", "cn-sh2", "hk"]
# The ansible-core of this virtualenv, which the tests' ansible processes run.
ANSIBLE_CORE = tuple(int(part) for part in ANSIBLE_CORE_VERSION.split(".")[:2])


def by_core(before_2_19, since_2_19):
    """What this ansible-core does where 2.16-2.18 and 2.19 and later differ in ways that are
    theirs, not the collection's: the words of a message of their own, a default."""
    return since_2_19 if ANSIBLE_CORE >= (2, 19) else before_2_19


# Before 2.19, ansible-core wraps its warnings and errors at 79 columns when stderr is not
# a terminal (textwrap: at spaces, after some hyphens, inside words longer than a line);
# 2.19 and later print each on one line.
WRAP_COLUMNS = 79
_MESSAGE_START = re.compile(r"\[[A-Z][A-Z ]*\]:|ERROR!")


def _chunks(text):
    """The pieces textwrap breaks ``text`` between (words, and parts of hyphenated words)."""
    return [chunk for chunk in textwrap.TextWrapper.wordsep_re.split(text) if chunk]


def _break_without_space(last, line):
    """Whether textwrap broke a word between ``last`` and ``line``: after a hyphen, or a word too long for a line."""
    tail, head = last.rsplit(" ", 1)[-1], line.split(" ", 1)[0]
    offset = 0
    for chunk in _chunks(tail + head):
        if offset < len(tail) < offset + len(chunk):  # a word too long for a line, split at its last hyphen or the edge
            return len(chunk) > WRAP_COLUMNS and (tail.endswith("-") or len(last) == WRAP_COLUMNS)
        offset += len(chunk)
        if offset == len(tail):
            return tail.endswith("-")  # a break after a hyphen, where textwrap breaks
    return False


def unwrap_messages(text):
    """``text`` with the line breaks that Ansible's wrapping added taken out again.

    A line continues the one before when its first piece could not have fitted there:
    that is where textwrap broke it.
    """
    lines = []
    last = None  # the previous line as printed
    for line in text.split("\n"):
        if last and line and not line[0].isspace() and not _MESSAGE_START.match(line):
            joint = "" if _break_without_space(last, line) else " "
            if len(last) + len(joint) + len(_chunks(line)[0]) > WRAP_COLUMNS:
                lines[-1] += joint + line
                last = line
                continue
        lines.append(line)
        last = line
    return "\n".join(lines)


def collections_path():
    path = os.environ.get("ANSIBLE_COLLECTIONS_PATH")
    if path:
        return path
    # Running pytest by hand: lay out the collection as scripts/lib.sh does.
    base = os.path.join(ROOT, ".build", "collections")
    link = os.path.join(base, "ansible_collections", "sigcalcloud", "cloud")
    if not os.path.exists(link):
        os.makedirs(os.path.dirname(link), exist_ok=True)
        os.symlink(ROOT, link)
    return base


class AnsibleRun:
    """A finished ansible process: its return code, output and (json callback) result."""

    def __init__(self, argv, completed, results_file=None):
        self.argv = argv
        self.results_file = results_file
        self.rc = completed.returncode
        self.stdout = completed.stdout
        self.raw_stderr = completed.stderr
        # Warnings and errors are read whole, as ansible-core 2.19 and later print them.
        self.stderr = by_core(unwrap_messages(completed.stderr), completed.stderr)

    @property
    def output(self):
        return self.stdout + self.stderr

    def json(self):
        """The document printed by ansible-inventory --list."""
        text = self.stdout
        return json.loads(text[text.index("{"):])

    def task_results(self):
        """Each task's result, in order, as recorded by callback_plugins/record_results.py."""
        if not self.results_file or not os.path.exists(self.results_file):
            return []
        with open(self.results_file) as handle:
            return [entry["result"] for entry in json.load(handle)]

    def __repr__(self):
        return "AnsibleRun(%r, rc=%s)\n--- stdout\n%s\n--- stderr\n%s" % (
            self.argv, self.rc, self.stdout[-4000:], self.stderr[-4000:])


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
    """The demo data set (3 regions) on a free port; stopped after the test."""
    emu = Emulator(data=generate_dataset(DEMO_REGIONS, 30, seed=1))
    emu.start()
    try:
        yield emu
    finally:
        emu.stop()


@pytest.fixture
def start_emulator():
    """start_emulator(**Emulator kwargs) for tests that need latency, faults or TLS."""
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


def credentials_env(emu, region="cn-bj2", **extra):
    """SIGCALCLOUD_* variables pointing at an emulator with its demo key pair."""
    account = emu.data["accounts"][0]
    env = {
        "SIGCALCLOUD_BASE_URL": emu.base_url,
        "SIGCALCLOUD_PUBLIC_KEY": account["public_key"],
        "SIGCALCLOUD_PRIVATE_KEY": account["private_key"],
        "SIGCALCLOUD_REGION": region,
    }
    env.update(extra)
    return env


# --- the oracle: what the API holds, computed from the emulator's data set -------

# URedisBackupSet's fields, as the user's API document lists them.
API_FIELDS = ("Zone", "BackupId", "GroupId", "GroupName", "BackupName", "BackupTime", "BackupSize",
              "BackupType", "State", "SrcRegionName", "DstRegionName", "MemorySize", "RedisVersion")


def snake(name):
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def expected_backups(data, region, project_id=None, region_type="normal", group_id=None, backup_id=None):
    """The backups a full listing must return, as facts, newest first."""
    default_project = data["accounts"][0]["default_project"]
    rows = []
    for row in data["backups"]:
        if row.get("ProjectId") != (project_id or default_project):
            continue
        cross = row.get("SrcRegionName") or row.get("DstRegionName")
        if region_type == "normal" and (cross or row["Region"] != region):
            continue
        if region_type == "source" and (not cross or row.get("SrcRegionName") != region):
            continue
        if region_type == "target" and (not cross or row.get("DstRegionName") != region):
            continue
        if group_id is not None and row.get("GroupId") != group_id:
            continue
        if backup_id is not None and row.get("BackupId") != backup_id:
            continue
        facts = dict((snake(field), row.get(field)) for field in API_FIELDS)
        facts["region"] = region
        facts["project_id"] = project_id
        facts["backup_time_iso"] = (
            datetime.datetime.fromtimestamp(row["BackupTime"], datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
            if row.get("BackupTime") is not None else None)
        rows.append(facts)
    rows.sort(key=lambda f: (f["backup_time"] is None, -(f["backup_time"] or 0), f["backup_id"] or ""))
    return rows
