# -*- coding: utf-8 -*-
# Copyright: sigcalcloud.cloud contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The emulator's Redis group actions: CreateURedisGroup (a new group, from a backup or empty),
DeleteURedisGroup and DescribeURedisConfig. A group is a row: no redis-server runs."""

from __future__ import annotations

import base64
import json
import time

import pytest

from emulator.server import Emulator, FaultPlan, _parser, config_id, emulator_from_args
from emulator_helpers import (REGION, ZONE, api, attempt, backup, configs, control, create, delete, fresh_data,
                              is_connection_error, listed, run_cli, send, signed, wait_state)


@pytest.fixture
def quick(make_emulator):
    return make_emulator(group_create_seconds=0.2, group_delete_seconds=0.2)


# --- DescribeURedisConfig -------------------------------------------------------------------

def test_configs_per_version_default_and_custom(shared):
    answer = configs(shared, Limit="100")
    assert answer["RetCode"] == 0 and answer["TotalCount"] == 10 == len(answer["DataSet"])
    for version in ("4.0", "5.0", "6.0", "7.0", "7.2"):
        rows = [row for row in answer["DataSet"] if row["Version"] == version]
        assert sorted(row["IsModify"] for row in rows) == ["Modifiable", "Unmodifiable"]
        default = next(row for row in rows if row["IsModify"] == "Unmodifiable")
        assert default["ConfigId"] == config_id(ZONE, version, "default")  # the same every run
        assert default["State"] == "Usable" and default["Zone"] == ZONE and default["RegionFlag"] is False
        assert set(default) == {"ConfigId", "Name", "Description", "Version", "Zone", "RegionFlag", "State",
                                "IsModify", "CreateTime", "ModifyTime"}


def test_configs_filter_and_page(shared):
    assert [row["Version"] for row in configs(shared, Version="6.0")["DataSet"]] == ["6.0", "6.0"]
    one = config_id(ZONE, "7.0", "custom")
    assert [row["ConfigId"] for row in configs(shared, ConfigId=one)["DataSet"]] == [one]
    pages = [configs(shared, Offset=str(offset), Limit="4") for offset in (0, 4, 8)]
    assert [len(page["DataSet"]) for page in pages] == [4, 4, 2] and {page["TotalCount"] for page in pages} == {10}
    assert configs(shared, Zone="cn-bj2-99")["TotalCount"] == 0


@pytest.mark.parametrize("missing", ["Zone", "RegionFlag"])
def test_configs_required(shared, missing):
    params = {"Action": "DescribeURedisConfig", "Region": REGION, "Zone": ZONE, "RegionFlag": "false",
              "PublicKey": "sigcalcloud-demo-public-key"}
    del params[missing]
    answer = api(shared, params)
    assert answer["RetCode"] == 210 and missing in answer["Message"]


# --- CreateURedisGroup ------------------------------------------------------------------------

def test_create_lists_creating_then_running(quick):
    secret = "s3cr\u00e9t pass"
    answer = create(quick, Password=base64.b64encode(secret.encode("utf-8")).decode("ascii"), Size="2", Port="6400")
    assert answer["RetCode"] == 0, answer
    group_id = answer["GroupId"]
    assert group_id.startswith("uredis-cnbj2-")
    rows = listed(quick, group_id)
    assert [row["State"] for row in rows] == ["Creating"]
    row = wait_state(quick, group_id, "Running")[0]
    assert row["Name"] == "restored-1" and row["Size"] == 2 and row["Port"] == 6400 and row["VirtualIP"] == "127.0.0.1"
    assert row["Version"] == "4.0" and row["AutoBackup"] == "disable" and row["BackupTime"] == 3
    assert row["ChargeType"] == "Month" and abs(row["CreateTime"] - time.time()) < 10
    assert row["ConfigId"] == config_id(ZONE, "4.0", "default")
    assert "Password" not in row and secret not in json.dumps(row)
    hidden = next(group for group in control(quick, "groups").json() if group["GroupId"] == group_id)
    assert hidden["Password"] == secret  # only GET groups shows it
    assert secret not in control(quick, "backups").body.decode("utf-8") and "Password" not in json.dumps(quick.data)
    assert quick.stats()["group_creates"] == 1


def test_create_newest_first_in_listing(quick):
    group_id = create(quick)["GroupId"]
    answer = api(quick, {"Action": "DescribeURedisGroup", "Region": REGION, "PublicKey": "sigcalcloud-demo-public-key"})
    assert answer["DataSet"][0]["GroupId"] == group_id


@pytest.mark.parametrize("params, code, name", [
    ({"Name": "short"}, 230, "Name"),
    ({"Name": "bad name!"}, 230, "Name"),
    ({"HighAvailability": "maybe"}, 230, "HighAvailability"),
    ({"Size": "3"}, 230, "Size"),
    ({"Version": "3.2"}, 230, "Version"),
    ({"Zone": "cn-bj2-99"}, 230, "Zone"),
    ({"Password": "not base64!"}, 230, "Password"),
    ({"BackupTime": "24"}, 230, "BackupTime"),
    ({"BackupId": "whatever"}, 210, "ConfigId"),
    ({"ConfigId": "no-such-config"}, 230, "ConfigId"),
    ({"ConfigId": config_id("cn-sh2-01", "6.0", "default")}, 230, "ConfigId"),
])
def test_create_refusals(quick, params, code, name):
    answer = create(quick, **params)
    assert answer["RetCode"] == code and name in answer["Message"], answer
    assert quick.stats()["group_creates"] == 0


@pytest.mark.parametrize("missing", ["Name", "Zone", "HighAvailability"])
def test_create_required(quick, missing):
    params = {"Action": "CreateURedisGroup", "Region": REGION, "Zone": ZONE, "Name": "restored-1",
              "HighAvailability": "enable", "PublicKey": "sigcalcloud-demo-public-key"}
    del params[missing]
    answer = api(quick, params)
    assert answer["RetCode"] == 210 and missing in answer["Message"]


def test_create_from_backup(quick):
    source = backup(quick, "6.0")
    answer = create(quick, BackupId=source["BackupId"], ConfigId=config_id(ZONE, "7.0", "custom"))
    assert answer["RetCode"] == 0, answer
    row = wait_state(quick, answer["GroupId"], "Running")[0]
    assert row["Version"] == "7.0" and row["ConfigId"] == config_id(ZONE, "7.0", "custom")
    hidden = next(group for group in quick.groups() if group["GroupId"] == answer["GroupId"])
    assert hidden["SourceBackupId"] == source["BackupId"]


def test_create_from_a_newer_backup_fails(quick):
    source = backup(quick, "7.0")
    answer = create(quick, BackupId=source["BackupId"], ConfigId=config_id(ZONE, "5.0", "default"))
    assert answer["RetCode"] == 0, answer  # accepted: the restore fails later, as the real one does
    wait_state(quick, answer["GroupId"], "CreateFail")


def test_create_from_unknown_backup(quick):
    answer = create(quick, BackupId="no-such-backup", ConfigId=config_id(ZONE, "7.0", "default"))
    assert answer["RetCode"] == 230 and "BackupId" in answer["Message"]


def test_fail_group_creates(quick):
    assert control(quick, "fail_group_creates", {"count": 1}).json() == {"ok": True, "count": 1}
    failed, fine = create(quick)["GroupId"], create(quick, Name="restored-2")["GroupId"]
    assert control(quick, "fail_group_creates").json() == {"count": 0}
    wait_state(quick, failed, "CreateFail")
    wait_state(quick, fine, "Running")
    assert control(quick, "fail_group_creates", {"count": -1}).status == 400


def test_lost_create_answer_still_creates(quick):
    quick.lose_create_answers(1, "reset")
    params = {"Action": "CreateURedisGroup", "Region": REGION, "Zone": ZONE, "Name": "lost-answer",
              "HighAvailability": "enable", "PublicKey": "sigcalcloud-demo-public-key"}
    assert is_connection_error(attempt(quick, signed(params)))
    rows = [row for row in quick.groups() if row["Name"] == "lost-answer"]
    assert len(rows) == 1 and quick.stats()["faults_injected"] == 1


def test_faulted_create_creates_nothing(make_emulator):
    emu = make_emulator(faults=FaultPlan(schedule={1: "503"}))
    params = {"Action": "CreateURedisGroup", "Region": REGION, "Zone": ZONE, "Name": "faulted-1",
              "HighAvailability": "enable", "PublicKey": "sigcalcloud-demo-public-key"}
    assert send(emu, signed(params)).status == 503
    assert not [row for row in emu.groups() if row["Name"] == "faulted-1"]


# --- DeleteURedisGroup ------------------------------------------------------------------------

def test_delete_then_gone(quick):
    group_id = create(quick)["GroupId"]
    assert delete(quick, group_id)["RetCode"] == 20201  # still Creating
    wait_state(quick, group_id, "Running")
    assert delete(quick, group_id, Zone="cn-bj2-02")["RetCode"] == 230
    assert delete(quick, group_id, Zone=ZONE)["RetCode"] == 0
    assert [row["State"] for row in listed(quick, group_id)] == ["Deleting"]
    again = delete(quick, group_id)
    assert again["RetCode"] == 20201 and "does not exist" in again["Message"]
    deadline = time.time() + 5
    while listed(quick, group_id) and time.time() < deadline:
        time.sleep(0.05)
    assert listed(quick, group_id) == []
    assert delete(quick, group_id)["RetCode"] == 20201
    assert quick.stats()["group_deletes"] == 1


def test_delete_generated_group_and_unknown(quick):
    assert delete(quick, "uredis-cnbj2-90")["RetCode"] == 0
    assert delete(quick, "no-such-group")["RetCode"] == 20201
    answer = api(quick, {"Action": "DeleteURedisGroup", "Region": REGION, "PublicKey": "sigcalcloud-demo-public-key"})
    assert answer["RetCode"] == 210 and "GroupId" in answer["Message"]


def test_delete_checks_project(quick):
    # org-second holds its own uredis-cnbj2-00; deleting in org-demo's scope leaves that one
    assert delete(quick, "uredis-cnbj2-00", ProjectId="org-second")["RetCode"] == 0
    states = dict(((row["ProjectId"], row["GroupId"]), row["State"]) for row in quick.groups())
    assert states[("org-second", "uredis-cnbj2-00")] == "Deleting"
    assert states[("org-demo", "uredis-cnbj2-00")] == "Running"


def test_actions_check_signature(shared):
    for action in ("CreateURedisGroup", "DeleteURedisGroup", "DescribeURedisConfig"):
        answer = api(shared, {"Action": action, "Region": REGION, "PublicKey": "sigcalcloud-demo-public-key"},
                     private_key="wrong")
        assert answer["RetCode"] == 171


# --- faults on the group actions ----------------------------------------------------------------

def config_params(**params):
    return signed(dict({"Action": "DescribeURedisConfig", "Region": REGION, "Zone": ZONE, "RegionFlag": "false",
                        "PublicKey": "sigcalcloud-demo-public-key"}, **params))


def test_endless_configs_are_config_rows(make_emulator):
    emu = make_emulator(faults=FaultPlan(schedule={1: "endless", 2: "control_rows", 3: "ignore_filter"}),
                        claimed_total=1000)
    answer = send(emu, config_params(Limit="5")).json()
    assert answer["TotalCount"] == 1000 and [row["ConfigId"] for row in answer["DataSet"]][:2] == ["endless-0", "endless-1"]
    assert all(row["Zone"] == ZONE and "BackupId" not in row for row in answer["DataSet"])
    marked = send(emu, config_params(Version="6.0")).json()["DataSet"]
    assert len(marked) == 2 and all(row["Name"].endswith("pwned\x07\u202egpj.exe\x9b0m") and "BackupName" not in row
                                    for row in marked)
    assert send(emu, config_params(Version="6.0")).json()["TotalCount"] == 10  # the Version filter ignored


def test_wrong_action_on_a_group_create_creates_nothing(make_emulator):
    emu = make_emulator(faults=FaultPlan(schedule={1: "wrong_action", 2: "wrong_action"}))
    params = {"Action": "CreateURedisGroup", "Region": REGION, "Zone": ZONE, "Name": "wrong-answer",
              "HighAvailability": "enable", "PublicKey": "sigcalcloud-demo-public-key"}
    answer = send(emu, signed(params)).json()
    assert answer["RetCode"] == 0 and answer["Action"] == "DescribeURedisBackupResponse" and "GroupId" not in answer
    assert not [row for row in emu.groups() if row["Name"] == "wrong-answer"]
    deleted = send(emu, signed({"Action": "DeleteURedisGroup", "Region": REGION, "GroupId": "uredis-cnbj2-90",
                                "PublicKey": "sigcalcloud-demo-public-key"})).json()
    assert deleted["Action"] == "DescribeURedisBackupResponse"
    assert [row["State"] for row in emu.groups() if row["GroupId"] == "uredis-cnbj2-90"] == ["Running"]


def test_verbose_log_hides_the_password(make_emulator, capsys):
    emu = make_emulator(verbose=True)
    secret = base64.b64encode(b"do-not-log-me").decode("ascii")
    params = {"Action": "CreateURedisGroup", "Region": REGION, "Zone": ZONE, "Name": "logged-1",
              "HighAvailability": "enable", "Password": secret, "PublicKey": "sigcalcloud-demo-public-key"}
    assert send(emu, signed(params), method="GET").json()["RetCode"] == 0
    logged = capsys.readouterr().err
    assert "CreateURedisGroup" in logged and "Password=***" in logged and secret.rstrip("=") not in logged


# --- the knobs ----------------------------------------------------------------------------------

def test_group_timer_flags():
    emu = emulator_from_args(_parser().parse_args(["--group-create-seconds", "0.5", "--group-delete-seconds", "3"]))
    assert (emu.group_create_seconds, emu.group_delete_seconds) == (0.5, 3.0)
    emu = emulator_from_args(_parser().parse_args([]))
    assert (emu.group_create_seconds, emu.group_delete_seconds) == (2.0, 1.0)


def test_bad_group_timer_flag_exits_2():
    result = run_cli("--group-create-seconds", "-1")
    assert result.returncode == 2 and "--group-create-seconds: must be 0 or more" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("kwargs", [{"group_create_seconds": -1}, {"group_delete_seconds": -0.5}])
def test_emulator_refuses_bad_group_timers(kwargs):
    with pytest.raises(ValueError):
        Emulator(data=fresh_data(), **kwargs)


def test_fail_group_creates_refuses_bad_counts(shared):
    for count in (-1, True, "1"):
        with pytest.raises(ValueError):
            shared.fail_group_creates(count)
    assert control(shared, "fail_group_creates", {"count": 1, "extra": 2}).status == 400
    assert shared.group_creates_to_fail() == 0
