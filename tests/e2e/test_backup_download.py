# -*- coding: utf-8 -*-
# Copyright: sigcalcloud.cloud contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""uredis_backup_download through real ansible-playbook runs against the emulator, whose backup
files are real RDB files (redis-check-rdb reads them) that it corrupts on demand."""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import time

import pytest

from helpers import (BIN, GROUP, REGION, credentials_env, module, oldest_target_python, run_tasks, small_good_backups,
                     target_pythons)

LINK_MARKS = ("Signature=", "/_emulator/download/", "Expires=")


def downloads(emu):
    return emu.stats().get("downloads", 0)


def files_in(directory):
    return sorted(os.listdir(str(directory)))


def test_a_backup_is_downloaded_verified_and_a_second_run_downloads_nothing(run_ansible, emulator, tmp_path):
    row = small_good_backups(emulator, 1)[0]
    copies = tmp_path / "copies"
    copies.mkdir()
    args = dict(group_id=GROUP, backup_id=row["BackupId"], dest=str(copies) + "/")
    task = "- sigcalcloud.cloud.uredis_backup_download: %s\n" % json.dumps(args)
    result, tasks = run_tasks(run_ansible, emulator, tmp_path, "%s  check_mode: true\n%s%s" % (task, task, task), "-vvvv")
    assert result.rc == 0, result
    checked, first, second = tasks
    path = copies / ("%s.rdb" % row["BackupId"])
    assert checked["changed"] is True and "sha256" not in checked
    assert first["changed"] is True and second["changed"] is False
    assert downloads(emulator) == 1  # check mode fetched nothing, the second run read the local copy only
    data = path.read_bytes()
    assert first["dest"] == str(path) and first["size"] == len(data) == row["BackupSize"]
    assert first["sha256"] == hashlib.sha256(data).hexdigest() == second["sha256"]
    assert first["checksum"] == "ok" and first["crc_implementation"] in ("anycrc", "crcmod")
    assert first["rdb_version"] == {"4.0": 8, "5.0": 9, "6.0": 9, "7.0": 10}[row.get("RedisVersion", "6.0")]
    assert first["created"] == row["BackupTime"] and first["created_at"].endswith("Z")
    assert first["key_count"] >= 1 and first["databases"][0]["db"] == 0
    assert first["backup"]["backup_id"] == row["BackupId"]
    assert oct(path.stat().st_mode & 0o777) == "0o600"  # customer data: the owner's only, unless mode says
    assert files_in(copies) == [path.name]  # no temporary file left
    for mark in LINK_MARKS:  # the link is nowhere, not even at -vvvv
        assert mark not in result.output, mark


def test_each_corruption_fails_naming_its_check_and_leaves_nothing(run_ansible, emulator, tmp_path):
    kinds = ["flip_byte", "truncate", "wrong_size", "not_rdb", "no_checksum"]
    rows = small_good_backups(emulator, len(kinds))
    for kind, row in zip(kinds, rows):
        emulator.corrupt_backup(row["BackupId"], kind)
    copies = tmp_path / "copies"
    copies.mkdir()
    tasks = "".join(
        "- sigcalcloud.cloud.uredis_backup_download: %s\n  ignore_errors: true\n" % json.dumps(
            dict(group_id=GROUP, backup_id=row["BackupId"], dest=str(copies / kind)))
        for kind, row in zip(kinds, rows))
    result, results = run_tasks(run_ansible, emulator, tmp_path, tasks)
    assert result.rc == 0, result
    by_kind = dict(zip(kinds, results))
    assert by_kind["flip_byte"]["failed"] and by_kind["flip_byte"]["check"] == "checksum"
    assert "checksum check failed" in by_kind["flip_byte"]["msg"]
    for kind in ("truncate", "wrong_size"):
        assert by_kind[kind]["failed"] and by_kind[kind]["check"] == "size", kind
        assert "size check failed" in by_kind[kind]["msg"] and str(rows[kinds.index(kind)]["BackupSize"]) in by_kind[kind]["msg"]
    assert by_kind["not_rdb"]["check"] == "header" and "gzip data" in by_kind["not_rdb"]["msg"]
    off = by_kind["no_checksum"]
    assert not off.get("failed") and off["checksum"] == "off"
    assert any("rdbchecksum off" in warning for warning in off["warnings"])
    assert files_in(copies) == ["no_checksum"]  # the failures left nothing at dest, and no temporary file
    for mark in LINK_MARKS:
        assert mark not in result.output, mark


def test_an_expired_link_is_asked_for_again_once(run_ansible, emulator, tmp_path):
    row = small_good_backups(emulator, 1)[0]
    emulator.expire_links(1)
    emulator.reset_stats()
    result, task = module(run_ansible, emulator, "uredis_backup_download",
                          dict(group_id=GROUP, backup_id=row["BackupId"], dest=str(tmp_path / "a.rdb")))
    assert result.rc == 0, result
    assert task["changed"] and task["checksum"] == "ok"
    assert emulator.stats()["by_action"]["DescribeURedisBackupURL"] == 2
    emulator.expire_links(2)  # the fresh link is refused too: a clear failure, not a loop
    result, task = module(run_ansible, emulator, "uredis_backup_download",
                          dict(group_id=GROUP, backup_id=row["BackupId"], dest=str(tmp_path / "b.rdb")))
    assert result.rc != 0 and "refused the link (HTTP 403)" in task["msg"] and "also when asked for again" in task["msg"]
    assert not (tmp_path / "b.rdb").exists()


def test_a_stalled_download_ends_at_the_timeout_and_leaves_nothing(run_ansible, start_emulator, tmp_path):
    emu = start_emulator(hang_seconds=60)
    # 1 MiB: the download's whole deadline (the timeout, and the file at 64 KiB/s: 18 s) is then far past the
    # stall's 2 s; with 4 KiB it was 2.06 s, and a loaded machine reached it first (a flaky test).
    row = small_good_backups(emu, 1, size=1 << 20)[0]
    emu.corrupt_backup(row["BackupId"], "stall")
    result, task = module(run_ansible, emu, "uredis_backup_download",
                          dict(group_id=GROUP, backup_id=row["BackupId"], dest=str(tmp_path / "a.rdb"),
                               timeout=2, max_retries=0))
    assert result.rc != 0 and "stalled: no data for 2s" in task["msg"]
    assert files_in(tmp_path) == ["play.yml"] or not any(name.endswith((".rdb", ".part")) for name in files_in(tmp_path))


def parent_of(pid):
    with open("/proc/%d/stat" % pid) as handle:
        return int(handle.read().rsplit(")", 1)[1].split()[1])


def module_processes(name, ancestor):
    """The pids of the module processes running ``name`` (AnsiballZ_<name>.py) under ``ancestor``, from
    /proc: other tests' modules, running beside this one, are not ours to signal."""
    pids = []
    for entry in os.listdir("/proc"):
        try:
            pid = int(entry)
            with open("/proc/%d/cmdline" % pid, "rb") as handle:
                if ("AnsiballZ_%s" % name).encode() not in handle.read():
                    continue
            parent = pid
            while parent > 1 and parent != ancestor:
                parent = parent_of(parent)
        except (OSError, ValueError, IndexError):
            continue
        if parent == ancestor:
            pids.append(pid)
    return pids


def test_a_download_interrupted_by_sigterm_leaves_nothing(ansible_env, start_emulator, tmp_path):
    if not os.path.isdir("/proc"):
        pytest.skip("no /proc here to find the module's process")
    emu = start_emulator(hang_seconds=60)
    row = small_good_backups(emu, 1, size=1 << 20)[0]
    emu.corrupt_backup(row["BackupId"], "stall")  # half the file, then silence: the module is mid-download
    copies = tmp_path / "copies"
    copies.mkdir()
    env = dict(ansible_env, **credentials_env(emu, region=REGION))
    argv = [os.path.join(BIN, "ansible"), "localhost", "-m",
            "sigcalcloud.cloud.uredis_backup_download", "-a",
            json.dumps(dict(group_id=GROUP, backup_id=row["BackupId"], dest=str(copies) + "/", timeout=60))]
    proc = subprocess.Popen(argv, env=env, cwd=str(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not [n for n in files_in(copies) if n.endswith(".part")]:
            time.sleep(0.1)
        assert [n for n in files_in(copies) if n.endswith(".part")], "the download never started"
        pids = module_processes("uredis_backup_download", proc.pid)
        assert pids
        for pid in pids:
            os.kill(pid, signal.SIGTERM)
        output = proc.communicate(timeout=30)[0]
    finally:
        proc.kill()
    assert "was interrupted; %s/" % copies in output and "was left as it was, and no temporary file" in output, output
    assert files_in(copies) == []  # no file at dest, no temporary file


def test_a_connection_cut_short_is_downloaded_again_then_fails_clearly(run_ansible, emulator, tmp_path):
    row = small_good_backups(emulator, 1, size=64 << 10)[0]
    emulator.corrupt_backup(row["BackupId"], "cut")  # the full Content-Length, half the file, then the end
    emulator.reset_stats()
    result, task = module(run_ansible, emulator, "uredis_backup_download",
                          dict(group_id=GROUP, backup_id=row["BackupId"], dest=str(tmp_path / "a.rdb"), max_retries=1))
    assert result.rc != 0 and "the download broke off after %d of %d bytes" % (32 << 10, 64 << 10) in task["msg"]
    assert "gave up after 2 attempts" in task["msg"] and emulator.stats()["downloads"] == 2
    assert not any(name.endswith((".rdb", ".part")) for name in files_in(tmp_path))


def test_a_whole_copy_of_another_backup_at_dest_is_replaced(run_ansible, emulator, tmp_path):
    first, second = small_good_backups(emulator, 2)
    emulator.change(upsert=[dict(second, BackupSize=first["BackupSize"])])  # the same size: only the mark tells
    dest = str(tmp_path / "latest.rdb")
    tasks = "".join("- sigcalcloud.cloud.uredis_backup_download: %s\n" % json.dumps(
        dict(group_id=GROUP, backup_id=row["BackupId"], dest=dest)) for row in (first, second, second))
    result, (one, other, again) = run_tasks(run_ansible, emulator, tmp_path, tasks)
    assert result.rc == 0, result
    if os.getxattr(dest, "user.sigcalcloud.backup_id") != second["BackupId"].encode():
        pytest.fail("the copy is not marked with its backup")
    assert one["changed"] and other["changed"] and not again["changed"]
    assert one["sha256"] != other["sha256"] == again["sha256"] and other["backup"]["backup_id"] == second["BackupId"]


def test_a_backup_that_is_not_good_fails_naming_its_state(run_ansible, emulator, tmp_path):
    bad = next(row for row in emulator.data["backups"] if row["Region"] == REGION and row.get("GroupId")
               and row["State"] == "Error" and not row.get("SrcRegionName"))
    result, task = module(run_ansible, emulator, "uredis_backup_download",
                          dict(group_id=bad["GroupId"], backup_id=bad["BackupId"], dest=str(tmp_path / "x.rdb")))
    assert result.rc != 0 and "is Error, not Success" in task["msg"]
    result, task = module(run_ansible, emulator, "uredis_backup_download",
                          dict(backup_id="no-such-backup", dest=str(tmp_path / "x.rdb")))
    assert result.rc != 0 and "there is no backup no-such-backup" in task["msg"]
    assert not (tmp_path / "x.rdb").exists()


def test_a_full_disk_is_a_clear_error_and_leaves_nothing(run_ansible, emulator, tmp_path):
    small = tmp_path / "small"
    small.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(small)], capture_output=True, text=True,
                             check=False)
    if mounted.returncode != 0:
        pytest.skip("cannot mount a small tmpfs here (needs root and mount rights): %s" % mounted.stderr.strip())
    try:
        row = small_good_backups(emulator, 1, size=256 << 10)[0]
        result, task = module(run_ansible, emulator, "uredis_backup_download",
                              dict(group_id=GROUP, backup_id=row["BackupId"], dest=str(small) + "/"))
        assert result.rc != 0 and "no room to write the file" in task["msg"], task
        assert files_in(small) == []
    finally:
        subprocess.run(["umount", str(small)], check=False)


def test_a_host_without_anycrc_takes_the_slow_path_and_says_so(run_ansible, emulator, tmp_path):
    def runs_here_without_anycrc(python):  # a target Python this ansible-core runs modules on, that lacks anycrc
        probe = subprocess.run([python, "-c", "import sys; print('%d.%d' % sys.version_info[:2]); import anycrc"],
                               capture_output=True, text=True, check=False)
        version = tuple(int(part) for part in probe.stdout.split()[0].split(".")) if probe.stdout.strip() else (0, 0)
        return probe.returncode != 0 and version >= oldest_target_python()

    pythons = [python for python in target_pythons() if runs_here_without_anycrc(python)]
    if not pythons:
        pytest.skip("no target Python without anycrc here (SIGCALCLOUD_TEST_TARGET_PYTHONS)")
    row = small_good_backups(emulator, 1)[0]
    task = "- sigcalcloud.cloud.uredis_backup_download: %s\n" % json.dumps(
        dict(group_id=GROUP, backup_id=row["BackupId"], dest=str(tmp_path / "a.rdb")))
    result, (task,) = run_tasks(run_ansible, emulator, tmp_path, task, "-e", "ansible_python_interpreter=%s" % pythons[0])
    assert result.rc == 0, result
    assert task["crc_implementation"] == "python" and task["checksum"] == "ok"
    assert any("pure Python" in warning for warning in task["warnings"])


def test_the_verified_copy_example_runs(run_ansible, emulator, tmp_path):
    examples = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "docs", "examples")
    emulator.change(upsert=[dict(small_good_backups(emulator, 1)[0], BackupTime=2000000000)])  # the newest, and small
    result = run_ansible("ansible-playbook", os.path.join(examples, "verified_copy_playbook.yml"), "-e", "group_id=%s" % GROUP,
                         "-e", "dest=%s/" % tmp_path, env=credentials_env(emulator, region=REGION), record=True)
    assert result.rc == 0, result
    tasks = result.task_results()
    assert tasks[2]["changed"] and tasks[2]["checksum"] == "ok" and tasks[4]["changed"] is False
    assert "second run: changed=False, the same SHA-256" in result.output
    assert re.search(r"checksum ok, RDB \d+ written by Redis [0-9.]+ at [0-9T:-]+Z, \d+ keys in database 0", result.output)
    assert downloads(emulator) == 1
