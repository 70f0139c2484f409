# -*- coding: utf-8 -*-
# Copyright: sigcalcloud.cloud contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The emulator's data plane: a real redis-server behind every Running group (redis=True).

Checked with redis-py and redis-check-rdb, never with the emulator's own RESP client: the data-set
groups' known data and requirepass, snapshots that are Redis's own RDB, restores from them and from
the generated files (thin above 16 MiB), CreateFail for files that do not load, deletes that stop the
server, the control faults, and that no redis-server outlives an emulator stopped, interrupted or killed.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from emulator import redis_plane
from emulator.server import (FILLER_KEY, KNOWN_EXPIRES, KNOWN_KEYS, THIN_CAP, Emulator, config_id, rdb_file,
                             thin_rdb)
from emulator_helpers import (REGION, ROOT, SERVER, ZONE, api, control, create, delete, fresh_data, http, listed,
                              wait_state)

redis = pytest.importorskip("redis")
pytestmark = pytest.mark.skipif(redis_plane.find_redis_server() is None,
                                reason="redis-server is not on PATH (Debian: apt-get install redis-server)")

GROUP = "uredis-cnbj2-00"  # a data-set group of the demo project in REGION/ZONE
CONFIG_70 = config_id(ZONE, "7.0", "default")
PUBLIC = "sigcalcloud-demo-public-key"


@pytest.fixture
def emu(make_emulator):
    return make_emulator(redis=True, group_create_seconds=0.2, group_delete_seconds=0.1, backup_seconds=0.1)


def group_row(emu, group_id):
    return next(row for row in emu.groups() if row["GroupId"] == group_id and row["ProjectId"] == "org-demo")


def client(row, password=None):
    assert row["VirtualIP"] == "127.0.0.1"
    return redis.Redis(host="127.0.0.1", port=row["Port"], password=password, socket_timeout=5)


def alive(pid):
    try:
        with open("/proc/%d/status" % pid) as handle:
            return "\nState:\tZ" not in handle.read()
    except FileNotFoundError:
        return False


def wait_gone(pids, seconds=5.0):
    deadline = time.time() + seconds
    while time.time() < deadline and any(alive(pid) for pid in pids):
        time.sleep(0.05)
    assert not [pid for pid in pids if alive(pid)], "redis-servers left running"


def restore(emu, backup_id, timeout=20.0, **params):
    answer = create(emu, BackupId=backup_id, ConfigId=CONFIG_70, **params)
    assert answer["RetCode"] == 0, answer
    deadline = time.time() + timeout
    while time.time() < deadline:
        rows = listed(emu, answer["GroupId"])
        if rows and rows[0]["State"] != "Creating":
            return rows[0]
        time.sleep(0.05)
    raise AssertionError("restore of %s still Creating" % backup_id)


def snapshot(emu, group_id=GROUP):
    answer = api(emu, {"Action": "CreateURedisBackup", "Region": REGION, "GroupId": group_id,
                       "BackupName": "snap-%d" % (time.time() * 1000), "PublicKey": PUBLIC})
    assert answer["RetCode"] == 0, answer
    deadline = time.time() + 5
    while time.time() < deadline:
        row = next(r for r in emu.data["backups"] if r["BackupId"] == answer["BackupId"])
        if row["State"] == "Success":
            return row
        time.sleep(0.05)
    raise AssertionError("backup never Success")


def download(emu, backup_id):
    answer = api(emu, {"Action": "DescribeURedisBackupURL", "Region": REGION, "BackupId": backup_id, "PublicKey": PUBLIC})
    reply = http(answer["BackupURL"])
    assert reply.status == 200
    return reply.body


def server_folders(emu):
    return sorted(name for name in os.listdir(emu._plane.folder) if name.startswith("server-"))


def test_data_set_groups_are_redis_servers_with_the_known_data(emu):
    rows = [row for row in emu.groups() if row["State"] == "Running"]
    assert rows and all("Pid" in row for row in rows)
    assert sorted(row["Pid"] for row in rows) == emu.redis_pids()
    assert len(set(row["Port"] for row in rows)) == len(rows)
    described = listed(emu, GROUP)[0]
    assert (described["VirtualIP"], "Pid" in described) == ("127.0.0.1", False)
    redis_client = client(described)
    assert redis_client.get("emulator:group") == GROUP.encode()
    assert redis_client.dbsize() == KNOWN_KEYS
    assert sum(1 for key in redis_client.scan_iter() if redis_client.pttl(key) > 0) == KNOWN_EXPIRES
    assert redis_client.config_get("bind")["bind"] == "127.0.0.1"
    assert emu.stats()["redis_servers"] == len(rows)


def test_a_new_group_is_an_empty_server_that_requires_its_password(emu):
    answer = create(emu, Password=base64.b64encode(b"s3cret pass\"'").decode(), Version="7.0")
    row = wait_state(emu, answer["GroupId"], "Running")[0]
    with pytest.raises(redis.exceptions.AuthenticationError):
        client(row).get("x")
    assert client(row, "s3cret pass\"'").dbsize() == 0
    config = os.path.join(emu._plane.folder, server_folders(emu)[-1], "redis.conf")
    assert oct(os.stat(config).st_mode & 0o777) == "0o600"
    assert "s3cret" not in " ".join(open("/proc/%d/cmdline" % group_row(emu, answer["GroupId"])["Pid"]).read().split("\0"))


def test_a_snapshot_is_redis_rdb_and_restores_with_its_keys(emu, tmp_path):
    client(listed(emu, GROUP)[0]).set("canary", "tweet")
    backup = snapshot(emu)
    data = download(emu, backup["BackupId"])
    assert data.startswith(b"REDIS0010") and len(data) == backup["BackupSize"]
    (tmp_path / "dump.rdb").write_bytes(data)
    checked = subprocess.run([shutil.which("redis-check-rdb"), str(tmp_path / "dump.rdb")], capture_output=True, text=True,
                             check=False)
    assert "RDB looks OK" in checked.stdout, checked.stdout
    assert emu.stats()["snapshots"] == 1
    row = restore(emu, backup["BackupId"])
    assert row["State"] == "Running"
    restored = client(row)
    assert restored.get("canary") == b"tweet" and restored.dbsize() == KNOWN_KEYS + 1


@pytest.mark.parametrize("size", [200000, None])  # a small file loaded whole; the biggest (GiBs) loaded thin
def test_a_generated_backup_restores_with_its_keys(emu, size):
    rows = [r for r in emu.data["backups"] if r["Region"] == REGION and r["ProjectId"] == "org-demo"
            and r["State"] == "Success" and "SrcRegionName" not in r and r.get("RedisVersion")]
    row = max(rows, key=lambda r: r["BackupSize"])
    if size:
        row = dict(row, BackupId="small-backup", BackupSize=size)
        emu.change(upsert=[row])
    else:
        assert row["BackupSize"] > THIN_CAP
    made = rdb_file(row)
    started = time.time()
    group = restore(emu, row["BackupId"])
    assert group["State"] == "Running" and time.time() - started < 10
    restored = client(group)
    # the small keys with an expiry lapsed long ago (the data set's epoch): Redis does not load them
    assert restored.dbsize() == made.keys - made.expires
    assert restored.exists(FILLER_KEY % 0, FILLER_KEY % (len(made.fillers) - 1)) == 2


def test_a_thin_file_keeps_names_counts_and_header():
    made = rdb_file({"BackupId": "big", "BackupSize": 3 << 30, "RedisVersion": "6.0", "BackupTime": 1700000000})
    thin = thin_rdb(made)
    assert thin.startswith(made.prefix) and len(thin) < 1 << 20
    assert thin.count(b"filler:") == made.keys - 4 == len(made.fillers)


@pytest.mark.parametrize("kind", ["flip_byte", "truncate", "not_rdb", "version_72"])
def test_a_file_that_does_not_load_is_create_fail_and_leaves_no_server(emu, kind):
    before, folders = emu.redis_pids(), server_folders(emu)
    backup = snapshot(emu)
    if kind == "version_72":  # Redis 7.2 writes RDB 11: the 7.0 server refuses it
        row = dict(next(r for r in emu.data["backups"] if r["State"] == "Success" and r["Region"] == REGION
                        and r["ProjectId"] == "org-demo"), BackupId="from-72", RedisVersion="7.2", BackupSize=50000)
        emu.change(upsert=[row])
        answer = create(emu, BackupId="from-72", ConfigId=config_id(ZONE, "7.2", "default"))
        assert answer["RetCode"] == 0
        row = wait_state(emu, answer["GroupId"], "CreateFail", timeout=15)[0]
    else:
        emu.corrupt_backup(backup["BackupId"], kind)
        row = restore(emu, backup["BackupId"])
    assert row["State"] == "CreateFail"
    assert emu.redis_pids() == before and server_folders(emu) == folders
    assert "Pid" not in group_row(emu, row["GroupId"])


def test_a_checksum_free_file_restores(emu):
    backup = snapshot(emu)
    emu.corrupt_backup(backup["BackupId"], "no_checksum")
    assert download(emu, backup["BackupId"])[-8:] == bytes(8)
    assert client(restore(emu, backup["BackupId"])).dbsize() == KNOWN_KEYS


def test_delete_stops_the_server_and_removes_its_files(emu):
    group_id = create(emu, Version="6.0")["GroupId"]
    wait_state(emu, group_id, "Running")
    pid, folders = group_row(emu, group_id)["Pid"], server_folders(emu)
    assert delete(emu, group_id)["RetCode"] == 0
    assert listed(emu, group_id)[0]["State"] == "Deleting"
    wait_state(emu, group_id, None)
    wait_gone([pid])
    assert len(server_folders(emu)) == len(folders) - 1


def test_slow_group_creates(emu):
    assert control(emu, "slow_group_creates", {"count": 1, "seconds": 1.5}).json() == {"ok": True, "count": 1, "seconds": 1.5}
    slow = create(emu)["GroupId"]
    assert control(emu, "slow_group_creates").json() == {"count": 0, "seconds": 1.5}
    quick = create(emu, Name="quick-1")["GroupId"]
    wait_state(emu, quick, "Running")
    assert listed(emu, slow)[0]["State"] == "Creating"
    wait_state(emu, slow, "Running")


def test_drop_restored_keys_loses_data_of_the_next_restore_only(emu):
    backup = snapshot(emu)
    assert control(emu, "drop_restored_keys", {"count": 1, "keys": 3}).json() == {"ok": True, "count": 1, "keys": 3}
    assert client(restore(emu, backup["BackupId"], Name="lossy-1")).dbsize() == KNOWN_KEYS - 3
    assert client(restore(emu, backup["BackupId"], Name="whole-1")).dbsize() == KNOWN_KEYS
    assert emu.stats()["restored_keys_dropped"] == 3


def test_a_lost_delete_answer_still_deletes(emu):
    group_id = create(emu)["GroupId"]
    wait_state(emu, group_id, "Running")
    pid = group_row(emu, group_id)["Pid"]
    assert control(emu, "lose_delete_answers", {"count": 1}).json() == {"ok": True, "count": 1, "kind": "reset"}
    with pytest.raises(OSError):
        http(emu.base_url + "/", data=__import__("urllib.parse").parse.urlencode(
            __import__("emulator_helpers").signed({"Action": "DeleteURedisGroup", "Region": REGION, "GroupId": group_id,
                                                   "PublicKey": PUBLIC})).encode())
    wait_state(emu, group_id, None)
    wait_gone([pid])
    assert emu.delete_answers_to_lose() == (0, "reset") and emu.stats()["group_deletes"] == 1


@pytest.mark.parametrize("name, body, words", [
    ("slow_group_creates", {"count": 1}, "seconds"),
    ("slow_group_creates", {"count": -1, "seconds": 1}, "count"),
    ("slow_group_creates", {"count": 1, "seconds": "1"}, "seconds"),
    ("drop_restored_keys", {"count": 1, "keys": True}, "keys"),
    ("drop_restored_keys", {"count": 1, "keys": 1, "x": 1}, "count"),
    ("lose_delete_answers", {"count": 1, "kind": "boom"}, "kind"),
    ("lose_delete_answers", [1], "count"),
])
def test_bad_fault_bodies_are_400_and_change_nothing(emu, name, body, words):
    before = control(emu, name).json()
    reply = control(emu, name, body)
    assert reply.status == 400 and words in reply.body.decode()
    assert control(emu, name).json() == before


def test_without_redis_server_groups_are_rows(make_emulator, monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(ValueError, match="redis-server"):
        Emulator(data=fresh_data(), redis=True)
    emu = make_emulator(redis="auto", group_create_seconds=0)
    assert not emu.data_plane and emu.redis_pids() == []
    group_id = create(emu)["GroupId"]
    assert wait_state(emu, group_id, "Running")[0]["Port"] == 6379


def test_stop_ends_every_server(make_emulator):
    emu = make_emulator(redis=True, group_create_seconds=0)
    group_id = create(emu)["GroupId"]
    wait_state(emu, group_id, "Running")
    pids, folder = emu.redis_pids(), emu._plane.folder
    assert len(pids) == len([row for row in emu.groups() if row["State"] == "Running"])
    emu.stop()
    wait_gone(pids, seconds=0.5)
    assert not os.path.exists(folder)


def _cli(*flags):
    process = subprocess.Popen([sys.executable, SERVER, "--port", "0"] + list(flags), cwd=str(ROOT),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ready = json.loads(process.stdout.readline())
    return process, ready


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL])
def test_no_redis_server_outlives_the_cli(signum):
    process, ready = _cli("--redis", "on", "--group-create-seconds", "0")
    try:
        rows = json.loads(http(ready["base_url"] + "/_emulator/groups").body)
        pids = [row["Pid"] for row in rows if "Pid" in row]
        assert len(pids) == ready["groups"] and all(alive(pid) for pid in pids)
        process.send_signal(signum)
        process.wait(10)
        wait_gone(pids)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
        process.stdout.close()
        process.stderr.close()


def test_cli_says_when_there_is_no_data_plane():
    process, _ready = _cli("--redis", "off")
    process.terminate()
    _out, err = process.communicate(timeout=10)
    assert process.returncode == 0 and "no data plane" in err
