# -*- coding: utf-8 -*-
# Copyright: sigcalcloud.cloud contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The official UCloud Python SDK, pointed at the emulator.

The cloud's API is wire-compatible with UCloud's. A client nobody here wrote signs, encodes
and posts its requests its own way; when the emulator accepts them, verifies their signatures
and answers what the SDK expects, the emulator behaves as the real service does.
"""

from __future__ import annotations

import logging
import time

import pytest
import requests

from emulator.server import Emulator, generate_dataset
from emulator_helpers import DEMO_PRIVATE, DEMO_PUBLIC, EPOCH

SKIP_REASON = "ucloud-sdk-python3 (tests/requirements/common.txt) is not installed"
Client = pytest.importorskip("ucloud.client", reason=SKIP_REASON).Client
RetCodeException = pytest.importorskip("ucloud.core.exc", reason=SKIP_REASON).RetCodeException

HIDDEN = ("Region", "ProjectId", "SlaveZone")
AWKWARD_GROUP = u"a&b=c+d %41 \u7f13\u5b58\nline"


@pytest.fixture(scope="module")
def emu():
    data = generate_dataset(["cn-bj2", "cn-sh2", "hk"], 30, seed=1, epoch=EPOCH)
    data["backups"].append({"Region": "cn-bj2", "ProjectId": "org-demo", "BackupId": "awkward-1",
                            "BackupName": AWKWARD_GROUP, "BackupTime": EPOCH - 30 * 86400 - 1, "BackupSize": 1,
                            "BackupType": "Manual", "State": "Success", "GroupId": AWKWARD_GROUP,
                            "GroupName": "awkward"})
    with Emulator(data=data) as server:
        yield server


def umem(emu, **config):
    settings = {"region": "cn-bj2", "public_key": DEMO_PUBLIC, "private_key": DEMO_PRIVATE,
                "base_url": emu.base_url, "max_retries": 0, "timeout": 10}
    settings.update(config)
    return Client(settings, logger=logging.getLogger("test_sdk_compat")).umem()


def expected(data, region="cn-bj2", project="org-demo", **filters):
    rows = [dict((key, value) for key, value in row.items() if key not in HIDDEN) for row in data["backups"]
            if row["Region"] == region and row["ProjectId"] == project
            and "SrcRegionName" not in row and "DstRegionName" not in row
            and all(row.get(key) == value for key, value in filters.items())]
    return sorted(rows, key=lambda row: (-row["BackupTime"], row["BackupId"]))


def test_sdk_lists_a_region_newest_first(emu):
    answer = umem(emu).describe_uredis_backup({"RegionType": "normal", "Limit": 100})
    rows = expected(emu.data)
    assert len(rows) == 31 and answer["TotalCount"] == 31
    assert [row["BackupId"] for row in answer["DataSet"]] == [row["BackupId"] for row in rows]
    assert answer["DataSet"] == rows  # every field, and absent fields stay absent
    times = [row["BackupTime"] for row in answer["DataSet"]]
    assert times == sorted(times, reverse=True)


def test_sdk_pages(emu):
    client = umem(emu, region="hk")
    pages = [client.describe_uredis_backup({"RegionType": "normal", "Offset": offset, "Limit": 8})
             for offset in (0, 8, 16, 24)]
    assert [len(page["DataSet"]) for page in pages] == [8, 8, 8, 6]
    assert [row for page in pages for row in page["DataSet"]] == expected(emu.data, region="hk")


@pytest.mark.parametrize("group", ["uredis-cnbj2-01", AWKWARD_GROUP], ids=["plain", "awkward"])
def test_sdk_group_id_filter(emu, group):
    answer = umem(emu).describe_uredis_backup({"GroupId": group, "Limit": 100})
    rows = expected(emu.data, GroupId=group)
    assert rows and answer["TotalCount"] == len(rows)
    assert answer["DataSet"] == rows
    assert set(row["GroupId"] for row in answer["DataSet"]) == {group}


def test_sdk_project_from_config(emu):
    answer = umem(emu, project_id="org-second").describe_uredis_backup({"RegionType": "normal"})
    assert answer["DataSet"] == expected(emu.data, project="org-second") and answer["TotalCount"] == 3


def test_sdk_wrong_private_key_is_retcode_171(emu):
    with pytest.raises(RetCodeException) as error:
        umem(emu, private_key="not-the-private-key").describe_uredis_backup({"RegionType": "normal"})
    assert error.value.code == 171
    assert error.value.message == "Signature VerifyAC Error"
    assert error.value.action == "DescribeURedisBackup"
    assert not error.value.retryable


@pytest.mark.parametrize("config, code, message", [
    ({"public_key": "nobody-public-key"}, 172, "User Not Exists"),
    ({"region": "mars-1"}, 230, "Params [Region] not available"),
    ({"project_id": "org-other"}, 299, "IAM permission denied"),
    ({"project_id": "org-nope"}, 292, "Project not exist"),
], ids=["unknown public key", "unknown region", "project of another account", "unknown project"])
def test_sdk_sees_the_gateway_retcodes(emu, config, code, message):
    with pytest.raises(RetCodeException) as error:
        umem(emu, **config).describe_uredis_backup({"RegionType": "normal"})
    assert (error.value.code, error.value.message) == (code, message)


# --- the actions that act on backups, through the official SDK -------------------------------

@pytest.fixture
def acting_emu():
    with Emulator(data=generate_dataset(["cn-bj2"], 10, seed=1, epoch=EPOCH), backup_seconds=0.2,
                  manual_backup_limit=3) as server:
        yield server


def test_sdk_describes_groups_also_those_without_backups(acting_emu):
    answer = umem(acting_emu).describe_uredis_group({"Limit": 100})
    mine = [g for g in acting_emu.groups() if g["ProjectId"] == "org-demo"]
    assert answer["TotalCount"] == len(mine)
    assert sorted(g["GroupId"] for g in answer["DataSet"]) == sorted(g["GroupId"] for g in mine)
    assert "uredis-cnbj2-90" in [g["GroupId"] for g in answer["DataSet"]]
    one = umem(acting_emu).describe_uredis_group({"GroupId": "uredis-cnbj2-91"})
    assert [g["AutoBackup"] for g in one["DataSet"]] == ["disable"]
    assert "Region" not in one["DataSet"][0] and "FailBackups" not in one["DataSet"][0]


def test_sdk_creates_a_backup_that_finishes_and_has_a_link(acting_emu):
    client = umem(acting_emu)
    created = client.create_uredis_backup({"GroupId": "uredis-cnbj2-90", "BackupName": "sdk-backup-1"})
    backup_id = created["BackupId"]
    listed = client.describe_uredis_backup({"GroupId": "uredis-cnbj2-90", "BackupId": backup_id})
    assert [b["State"] for b in listed["DataSet"]] == ["Backuping"]
    with pytest.raises(RetCodeException) as error:  # no link before it is done
        client.describe_uredis_backup_url({"BackupId": backup_id})
    assert error.value.code == 20202
    time.sleep(0.3)
    listed = client.describe_uredis_backup({"GroupId": "uredis-cnbj2-90", "BackupId": backup_id})
    assert [b["State"] for b in listed["DataSet"]] == ["Success"]
    link = client.describe_uredis_backup_url({"BackupId": backup_id, "GroupId": "uredis-cnbj2-90"})
    assert link["BackupPath"] == link["BackupURL"] and "Expires=" in link["BackupPath"]
    with requests.get(link["BackupPath"], timeout=10, stream=True) as reply:  # tens of MiB: the head is enough
        assert reply.raw.read(9).startswith(b"REDIS00")


def test_sdk_sees_the_manual_backup_limit(acting_emu):
    client = umem(acting_emu)
    for number in range(3):
        client.create_uredis_backup({"GroupId": "uredis-cnbj2-91", "BackupName": "limit-%d-ok" % number})
    with pytest.raises(RetCodeException) as error:
        client.create_uredis_backup({"GroupId": "uredis-cnbj2-91", "BackupName": "limit-3-no"})
    assert (error.value.code, error.value.message) == (20208, "backup count exceeds limit")
    assert acting_emu.stats()["creates"] == 3


def test_sdk_updates_the_policy(acting_emu):
    client = umem(acting_emu)
    client.update_uredis_backup_strategy({"GroupId": "uredis-cnbj2-91", "BackupTime": "6", "AutoBackup": "disable"})
    group = next(g for g in acting_emu.groups() if g["GroupId"] == "uredis-cnbj2-91" and g["ProjectId"] == "org-demo")
    assert (group["AutoBackup"], group["BackupTime"]) == ("disable", 6)
    # The SDK requires BackupTime; leaving AutoBackup out switches backups on, as on the server.
    client.update_uredis_backup_strategy({"GroupId": "uredis-cnbj2-91", "BackupTime": "6"})
    group = next(g for g in acting_emu.groups() if g["GroupId"] == "uredis-cnbj2-91" and g["ProjectId"] == "org-demo")
    assert group["AutoBackup"] == "enable"


def public_groups(emu, region="cn-bj2", project="org-demo"):
    rows = [dict((k, v) for k, v in g.items() if k not in ("Region", "ProjectId", "FailBackups")) for g in emu.groups()
            if g["Region"] == region and g["ProjectId"] == project]
    return sorted(rows, key=lambda g: (-g["CreateTime"], g["GroupId"]))


def test_sdk_reads_every_group_field_with_its_schemas_type(acting_emu):
    # The SDK loads each row through URedisGroupSetSchema, which keeps only its fields and converts
    # them to its types: rows that come out unchanged have exactly the SDK's fields and types.
    answer = umem(acting_emu).describe_uredis_group({"Limit": 100})
    assert answer["DataSet"] == public_groups(acting_emu)
    assert any("SlaveZone" in g for g in answer["DataSet"]) and any("SlaveZone" not in g for g in answer["DataSet"])


def test_sdk_pages_groups_under_the_servers_cap():
    with Emulator(data=generate_dataset(["cn-bj2"], 10, seed=1, epoch=EPOCH), max_page_size=3) as server:
        client = umem(server)
        pages = [client.describe_uredis_group({"Offset": offset, "Limit": 20}) for offset in (0, 3)]
    assert [len(page["DataSet"]) for page in pages] == [3, 1] and pages[0]["TotalCount"] == 4
    assert [g for page in pages for g in page["DataSet"]] == public_groups(server)


def test_sdk_link_with_its_bool_parameter(acting_emu):
    good = next(b for b in acting_emu.data["backups"] if b["State"] == "Success" and b["ProjectId"] == "org-demo")
    link = umem(acting_emu).describe_uredis_backup_url({"BackupId": good["BackupId"], "RegionFlag": False})
    with requests.get(link["BackupPath"], timeout=10, stream=True) as reply:  # the file is up to 8 GiB: not read
        assert reply.status_code == 200 and reply.raw.read(9).startswith(b"REDIS00")


@pytest.mark.parametrize("call, args, code", [
    ("create_uredis_backup", {"GroupId": "uredis-nope-00", "BackupName": "sdk-backup-2"}, 230),
    ("create_uredis_backup", {"GroupId": "uredis-cnbj2-90", "BackupName": "bad name"}, 230),
    ("describe_uredis_backup_url", {"BackupId": "no-such-backup"}, 230),
    ("update_uredis_backup_strategy", {"GroupId": "uredis-cnbj2-91", "BackupTime": "24"}, 230),
], ids=["unknown group", "bad name", "unknown backup", "bad hour"])
def test_sdk_sees_the_actions_refusals(acting_emu, call, args, code):
    with pytest.raises(RetCodeException) as error:
        getattr(umem(acting_emu), call)(args)
    assert error.value.code == code and not error.value.retryable
    assert acting_emu.stats()["creates"] == 0


# --- Redis groups: restore into a new group, delete it, the configurations ------------------------

@pytest.fixture
def group_emu():
    with Emulator(data=generate_dataset(["cn-bj2"], 10, seed=1, epoch=EPOCH), group_create_seconds=0.2,
                  group_delete_seconds=0.2) as server:
        yield server


def test_sdk_describes_the_configs(group_emu):
    answer = umem(group_emu).describe_uredis_config({"Zone": "cn-bj2-01", "RegionFlag": False, "Version": "6.0"})
    assert answer["TotalCount"] == 2
    default = next(c for c in answer["DataSet"] if c["IsModify"] == "Unmodifiable")
    assert default["State"] == "Usable" and default["Version"] == "6.0" and default["RegionFlag"] is False


def test_sdk_creates_a_group_from_a_backup_and_deletes_it(group_emu):
    client = umem(group_emu)
    config = next(c for c in client.describe_uredis_config({"Zone": "cn-bj2-01", "RegionFlag": False,
                                                            "Version": "7.0"})["DataSet"]
                  if c["IsModify"] == "Unmodifiable")
    source = next(b for b in group_emu.data["backups"] if b["State"] == "Success" and b["ProjectId"] == "org-demo")
    # The SDK's Password field base64-encodes what it is given: the emulator keeps the decoded text.
    created = client.create_uredis_group({"Name": "sdk-restored", "Zone": "cn-bj2-01", "HighAvailability": "enable",
                                          "BackupId": source["BackupId"], "ConfigId": config["ConfigId"],
                                          "Password": "pa55:word/+", "Size": 1})
    group_id = created["GroupId"]
    hidden = next(g for g in group_emu.groups() if g["GroupId"] == group_id)
    assert hidden["Password"] == "pa55:word/+" and hidden["SourceBackupId"] == source["BackupId"]
    time.sleep(0.3)
    [group] = client.describe_uredis_group({"GroupId": group_id})["DataSet"]
    assert group["State"] == "Running" and group["Version"] == "7.0" and "Password" not in group
    client.delete_uredis_group({"GroupId": group_id, "Zone": "cn-bj2-01"})
    assert [g["State"] for g in client.describe_uredis_group({"GroupId": group_id})["DataSet"]] == ["Deleting"]
    time.sleep(0.3)
    assert client.describe_uredis_group({"GroupId": group_id})["DataSet"] == []
    with pytest.raises(RetCodeException) as error:
        client.delete_uredis_group({"GroupId": group_id})
    assert error.value.code == 20201
