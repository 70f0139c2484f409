# -*- coding: utf-8 -*-
# Copyright: sigcalcloud.cloud contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""uredis_restore_check through real ansible-playbook runs: the backup's file comes from the emulator's
link, the restored Redis is a real redis-server the test starts on the very bytes of that file (its own
data plane, not the emulator's), so the counts it reports are Redis's own."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time

import pytest

from emulator.server import rdb_file, rdb_release
from helpers import GROUP, oldest_target_python, run_tasks, small_good_backups, target_pythons

redis = pytest.importorskip("redis", reason="redis-py is not installed in the test virtualenv")

REDIS_SERVER = shutil.which("redis-server")
pytestmark = pytest.mark.skipif(
    REDIS_SERVER is None, reason="redis-server is not installed (Debian: apt-get install redis-server): the check needs a real Redis")
PASSWORD = "s3cret-Restore-Pass"
DAY = 86400


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def redis_server(tmp_path):
    """start(data) -> (port, client): a redis-server with requirepass loading ``data`` as its RDB file."""
    started = []

    def start(data):
        directory = tmp_path / ("redis-%d" % len(started))
        directory.mkdir()
        (directory / "dump.rdb").write_bytes(data)
        port = free_port()
        process = subprocess.Popen([REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(directory),
                                    "--dbfilename", "dump.rdb", "--requirepass", PASSWORD, "--save", "",
                                    "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        started.append(process)
        client = redis.Redis(port=port, password=PASSWORD, socket_timeout=5)
        deadline = time.monotonic() + 10
        while True:
            try:
                if client.ping():
                    break
            except (redis.exceptions.ConnectionError, redis.exceptions.BusyLoadingError):
                assert process.poll() is None and time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)
        return port, client

    yield start
    for process in started:
        process.terminate()
        process.wait(10)


def backup_with_file(emu, backup_time):
    """A small Success backup of Redis 7.0 written at ``backup_time``, and its file's bytes as the link serves them.
    The file holds four small keys, two of them expiring 1 to 30 days after ``backup_time``, and fillers."""
    row = dict(small_good_backups(emu, 1)[0], RedisVersion="7.0", BackupTime=int(backup_time))
    emu.change(upsert=[row])
    return row, b"".join(bytes(piece) for piece in rdb_file(row).chunks())


def check_task(row, port, **args):
    args = dict(dict(group_id=GROUP, backup_id=row["BackupId"], host="127.0.0.1", port=port, password=PASSWORD), **args)
    return "- sigcalcloud.cloud.uredis_restore_check: %s\n  ignore_errors: true\n" % json.dumps(args)


def a_canary(client):
    """(key, value) of a key of the file without an expiry: what a user would plant as a canary."""
    key = next(key for key in client.scan_iter(b"session:*") if client.ttl(key) == -1)
    return key.decode(), client.get(key).decode()


def test_a_good_restore_passes_and_each_fault_fails_naming_it(run_ansible, emulator, tmp_path, redis_server):
    # Written 40 days ago: its two expiring keys have expired, so Redis did not load them.
    row, data = backup_with_file(emulator, time.time() - 40 * DAY)
    restored_at = time.time()
    good_port, good = redis_server(data)
    loaded = good.dbsize()
    key, value = a_canary(good)
    lossy_port, lossy = redis_server(data)
    lossy.delete(next(iter(lossy.scan_iter(b"filler*", count=1000))))  # a restore that "worked" but lost a key
    closed_port = free_port()
    wrong_value = "not-the-canary-value-42"
    tasks = "".join([
        check_task(row, good_port, restored_at=restored_at, canary_key=key, canary_value=value),
        check_task(row, lossy_port, restored_at=restored_at),
        check_task(row, good_port, restored_at=restored_at, canary_key=key, canary_value=wrong_value),
        check_task(row, good_port, password="Wrong-Password-77"),
        check_task(row, closed_port, redis_timeout=3),
    ])
    result, (passed, lost, mismatch, wrong_password, closed) = run_tasks(run_ansible, emulator, tmp_path, tasks, "-vvvv")
    assert result.rc == 0, result  # ignore_errors

    assert not passed.get("failed") and passed["passed"] is True and passed["changed"] is False, passed
    assert passed["backup"] == row["BackupId"]
    assert passed["key_counts"] == {
        "expected": loaded, "expected_min": loaded, "found": loaded, "expired_out": 2,
        "databases": [{"db": 0, "expected": loaded, "expected_min": loaded, "found": loaded}]}
    assert passed["canary"] == {"checked": True, "matched": True}
    assert (passed["rdb_version"], passed["redis_version"], passed["checksum"]) == (10, rdb_release("7.0")[0], "ok")

    assert lost["failed"] and lost["passed"] is False
    assert lost["key_counts"]["found"] == loaded - 1 and lost["key_counts"]["expected"] == loaded
    assert ("key check failed: db 0 holds %d keys, the backup %d of which 2 expired before the restore"
            % (loaded - 1, loaded + 2)) in lost["msg"]
    assert lost["canary"] == {"checked": False, "matched": None}

    assert mismatch["failed"] and mismatch["canary"] == {"checked": True, "matched": False}
    assert "canary check failed" in mismatch["msg"] and "key check" not in mismatch["msg"]

    for failed, reason in ((wrong_password, "authentication failed"), (closed, "connection refused")):
        port = good_port if failed is wrong_password else closed_port
        assert failed["failed"] and "could not check the Redis at 127.0.0.1:%d: %s" % (port, reason) in failed["msg"]
        assert failed["passed"] is False and "key_counts" not in failed
        assert "Traceback" not in failed.get("module_stderr", "")

    # The secrets and the customer's data: nowhere, not even at -vvvv.
    for secret in (PASSWORD, "Wrong-Password-77", value, wrong_value):
        assert secret not in result.output, secret
    for mark in ("Signature=", "/_emulator/download/"):
        assert mark not in result.output, mark
    assert not list(tmp_path.glob("**/*.part"))  # and no copy of the file was written


def test_keys_not_yet_expired_are_expected_and_a_stray_database_fails(run_ansible, emulator, tmp_path, redis_server):
    row, data = backup_with_file(emulator, time.time())  # expiries 1 to 30 days ahead: every key loads
    port, client = redis_server(data)
    loaded = client.dbsize()
    result, (fresh,) = run_tasks(run_ansible, emulator, tmp_path, check_task(row, port))  # restored_at: now
    assert result.rc == 0 and fresh["passed"] is True, result
    assert fresh["key_counts"]["expired_out"] == 0 and fresh["key_counts"]["found"] == fresh["key_counts"]["expected"] == loaded
    client.execute_command("SELECT", 3)
    client.set("stray", "x")  # pylint: disable=no-member
    result, (stray,) = run_tasks(run_ansible, emulator, tmp_path, check_task(row, port), name="stray.yml")
    assert stray["failed"] and "db 3 holds 1 keys, the backup none" in stray["msg"]
    assert {"db": 3, "expected": 0, "expected_min": 0, "found": 1} in stray["key_counts"]["databases"]


def test_a_corrupt_file_fails_its_check_before_any_verdict(run_ansible, emulator, tmp_path, redis_server):
    row, data = backup_with_file(emulator, time.time() - 40 * DAY)
    port, _client = redis_server(data)
    emulator.corrupt_backup(row["BackupId"], "flip_byte")
    result, (task,) = run_tasks(run_ansible, emulator, tmp_path, check_task(row, port))
    assert task["failed"] and task["check"] == "checksum" and "checksum check failed" in task["msg"], task
    assert task["passed"] is False and "key_counts" not in task


def test_an_expired_link_is_asked_for_again_once_and_a_second_refusal_fails(run_ansible, emulator, tmp_path, redis_server):
    row, data = backup_with_file(emulator, time.time() - 40 * DAY)
    port, _client = redis_server(data)
    emulator.expire_links(1)
    emulator.reset_stats()
    result, (task,) = run_tasks(run_ansible, emulator, tmp_path, check_task(row, port))
    assert task["passed"] is True, task
    assert emulator.stats()["by_action"]["DescribeURedisBackupURL"] == 2
    emulator.expire_links(2)  # the fresh link is refused too: a clear failure, not a loop
    result, (task,) = run_tasks(run_ansible, emulator, tmp_path, check_task(row, port), name="again.yml")
    assert task["failed"] and task["passed"] is False and "key_counts" not in task, task
    assert "refused the link (HTTP 403)" in task["msg"] and "also when asked for again" in task["msg"], task


def test_without_redis_py_the_module_says_what_to_install(run_ansible, emulator, tmp_path):
    def lacks_redis(python):  # a target Python this ansible-core runs modules on, without redis-py
        probe = subprocess.run([python, "-c", "import sys; print('%d.%d' % sys.version_info[:2]); import redis"],
                               capture_output=True, text=True, check=False)
        version = tuple(int(part) for part in probe.stdout.split()[0].split(".")) if probe.stdout.strip() else (0, 0)
        return probe.returncode != 0 and version >= oldest_target_python()

    pythons = [python for python in target_pythons() if lacks_redis(python)]
    if not pythons:
        pytest.skip("no target Python without redis-py here (SIGCALCLOUD_TEST_TARGET_PYTHONS)")
    task = check_task({"BackupId": "any"}, 6379)
    result, (task,) = run_tasks(run_ansible, emulator, tmp_path, task, "-e", "ansible_python_interpreter=%s" % pythons[0])
    assert task["failed"] and "Failed to import the required Python library (redis)" in task["msg"], task
