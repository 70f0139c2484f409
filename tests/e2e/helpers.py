# -*- coding: utf-8 -*-
# Copyright: sigcalcloud.cloud contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""What the end-to-end tests share besides fixtures (those are conftest.py's): paths, the
ansible runs' result type, the oracle of what a listing must return, and the small ways
each kind of test drives ansible (an ad-hoc module run, an inventory listing, a module of
the acting ones). Tests import from here, never from conftest or from one another.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import sys
import textwrap

from ansible import release as ansible_release
from ansible.release import __version__ as ANSIBLE_CORE_VERSION

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


# --- ad-hoc runs of uredis_backup_info (test_module.py and others) ----------------------

MODULE = "sigcalcloud.cloud.uredis_backup_info"
# How ansible-core's own argument checks name the type of a string.
STR_TYPE = by_core("<class 'str'>", "str")


def adhoc(run_ansible, emu, args="", env=None, verbosity=None, extra=()):
    argv = ["localhost", "-m", MODULE] + list(extra)
    if args:
        argv += ["-a", args]
    if verbosity:
        argv.append(verbosity)
    full_env = credentials_env(emu)
    full_env.update(env or {})
    result = run_ansible("ansible", *argv, env=full_env, record=True)
    results = result.task_results()
    return result, results[0] if results else None


def playbook(tmp_path, text):
    path = tmp_path / "play.yml"
    path.write_text(textwrap.dedent(text))
    return path


def oldest_target_python():
    """The oldest managed-host Python this ansible-core runs modules on (3.7 is the module's own floor)."""
    core = tuple(int(n) for n in ansible_release.__version__.split(".")[:2])
    if core <= (2, 17):
        return (3, 7)
    return (3, 8) if core <= (2, 19) else (3, 9)


def target_pythons():
    return [p for p in os.environ.get("SIGCALCLOUD_TEST_TARGET_PYTHONS", "").split() if p]


# --- inventory listings -------------------------------------------------------------------

REGIONS = ["cn-bj2", "cn-sh2", "hk"]


def inventory_file(tmp_path, text, name="test.uredis_backup.yml"):
    path = tmp_path / name
    path.write_text("plugin: sigcalcloud.cloud.uredis_backup\n" + textwrap.dedent(text))
    return path


def inventory_list(run_ansible, emu, path, env=None, *extra):
    full_env = credentials_env(emu)
    full_env.update(env or {})
    return run_ansible("ansible-inventory", "-i", path, "--list", *extra, env=full_env)


def plain(value):
    """ansible-inventory --list writes untrusted strings as {"__ansible_unsafe": text}."""
    if isinstance(value, dict):
        if set(value) == {"__ansible_unsafe"}:
            return value["__ansible_unsafe"]
        return dict((k, plain(v)) for k, v in value.items())
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def hostvars(listing):
    return plain(listing["_meta"]["hostvars"])


def group_hosts(listing, group):
    return sorted(listing.get(group, {}).get("hosts", []))


def groups_of(listing, host):
    return sorted(name for name, group in listing.items() if name != "_meta" and host in group.get("hosts", []))


def warnings(result):
    """The run's stderr with Ansible's line wrapping undone."""
    return " ".join(result.stderr.split())


# --- the acting modules --------------------------------------------------------------------

REGION = "cn-bj2"
# Groups of the default data set (tests/emulator/server.py, generate_dataset).
GROUP = "uredis-cnbj2-00"          # has backups
NEVER_BACKED_UP = "uredis-cnbj2-90"  # no backup at all, automatic backups on
AUTO_OFF = "uredis-cnbj2-91"         # no backup at all, automatic backups off


def module(run_ansible, emu, name, args, check=False, diff=False, verbosity=None, env=None):
    """One module run with ``ansible localhost -m``; (run, task result)."""
    argv = ["localhost", "-m", "sigcalcloud.cloud.%s" % name] + (["-a", json.dumps(args)] if args else [])
    if check:
        argv.append("--check")
    if diff:
        argv.append("--diff")
    if verbosity:
        argv.append(verbosity)
    full_env = credentials_env(emu, region=REGION)
    full_env.update(env or {})
    result = run_ansible("ansible", *argv, env=full_env, record=True)
    tasks = result.task_results()
    return result, tasks[0] if tasks else None


def run_tasks(run_ansible, emu, tmp_path, tasks, *extra, env=None, name="play.yml"):
    """ansible-playbook of ``tasks`` (YAML: a list of tasks) on localhost against ``emu`` in REGION, with
    ``extra`` arguments: (run, its task results)."""
    play = tmp_path / name
    play.write_text("- hosts: localhost\n  gather_facts: false\n  tasks:\n" + textwrap.indent(textwrap.dedent(tasks), "    "))
    full_env = credentials_env(emu, region=REGION)
    full_env.update(env or {})
    result = run_ansible("ansible-playbook", "-i", "localhost,", "-c", "local", str(play), *extra, env=full_env, record=True)
    return result, result.task_results()


def small_good_backups(emu, count, group_id=GROUP, size=4096):
    """``count`` new Success backups of the group, copies of one of its own with small files (``size``
    bytes and up; the data set's run to GiB), so that a download takes no time."""
    model = next(row for row in emu.data["backups"] if row["Region"] == REGION and row.get("GroupId") == group_id
                 and row["State"] == "Success" and not row.get("SrcRegionName"))
    rows = [dict(model, BackupId="%s-small%d" % (model["BackupId"], n), BackupSize=size + 1000 * n)
            for n in range(count)]
    emu.change(upsert=rows)
    return rows


def backups_named(emu, group_id, name):
    return [row for row in emu.data["backups"] if row["GroupId"] == group_id and row.get("BackupName") == name]


def creates(emu):
    return emu.stats()["by_action"].get("CreateURedisBackup", 0)


def updates(emu):
    return emu.stats()["by_action"].get("UpdateURedisBackupStrategy", 0)
