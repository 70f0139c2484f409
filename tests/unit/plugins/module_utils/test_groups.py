# -*- coding: utf-8 -*-
# Copyright: sigcalcloud.cloud contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""DescribeURedisGroup rows as facts, and reading the backup policy from a group."""

from __future__ import annotations

import pytest

from ansible_collections.sigcalcloud.cloud.plugins.module_utils import _groups, _options, _rows
from ansible_collections.sigcalcloud.cloud.plugins.module_utils._client import SigcalcloudError

QUERY = _groups.Query("cn-bj2", "org-demo")
# The official SDK's URedisGroupSet fields (ucloud/services/umem/schemas/models.py), written out
# here, not taken from the code under test.
SDK_FIELDS = (
    "AutoBackup", "BackupTime", "ChargeType", "ConfigId", "CreateTime", "ExpireTime", "GroupId", "GroupName",
    "HighAvailability", "IsHighPerformance", "MemorySize", "ModifyTime", "Name", "Port", "Protocol",
    "RewriteTime", "Role", "SSLCertExpireTime", "SSLEnable", "SSLVersion", "SecPolicy", "Size", "SlaveZone",
    "State", "SubnetId", "Tag", "Type", "UsedSize", "VPCId", "Version", "VirtualIP", "Zone",
)


def test_every_sdk_field_has_a_fact():
    assert sorted(field for field, _fact, _kind in _rows.GROUP_FIELDS) == sorted(SDK_FIELDS)


def test_shape_group_snake_case_types_absent_is_null_and_iso_times():
    facts = _groups.shape_group({"GroupId": "uredis-1", "Name": "orders", "AutoBackup": "disable",
                                 "BackupTime": "3", "SSLEnable": "false", "VPCId": "uvnet-1",
                                 "CreateTime": 1764633600, "ExpireTime": 0, "IsHighPerformance": True}, QUERY)
    assert set(facts) == set(_groups.FACT_NAMES)
    assert facts["group_id"] == "uredis-1" and facts["name"] == "orders"
    assert facts["auto_backup"] == "disable" and facts["backup_time"] == 3
    assert facts["ssl_enable"] is False and facts["vpc_id"] == "uvnet-1" and facts["is_high_performance"] is True
    assert facts["create_time_iso"] == "2025-12-02T00:00:00Z"
    assert facts["expire_time"] == 0 and facts["expire_time_iso"] is None  # 0 is "never"
    assert facts["modify_time"] is None and facts["modify_time_iso"] is None
    assert facts["region"] == "cn-bj2" and facts["project_id"] == "org-demo"
    _groups.check_facts(facts)


@pytest.mark.parametrize("row, words", [
    ({"GroupId": "g", "Port": "many"}, "group 'g' has Port='many', expected an integer"),
    ({"GroupId": "g", "SSLEnable": "maybe"}, "expected a boolean"),
    ({"GroupId": "g", "Name": ["x"]}, "expected a string"),
    ({"GroupId": "g", "CreateTime": 10 ** 15}, "out of range for a date"),
])
def test_a_wrong_type_is_an_error_naming_group_and_field(row, words):
    with pytest.raises(SigcalcloudError) as caught:
        _groups.shape_group(row, QUERY)
    assert words in str(caught.value)


def test_check_facts_refuses_what_shape_group_would_not_make():
    facts = _groups.shape_group({"GroupId": "g"}, QUERY)
    for bad in (dict(facts, port="1"), dict(facts, ssl_enable=1), dict(facts, extra=1), dict(facts, group_id=None)):
        with pytest.raises(ValueError):
            _groups.check_facts(bad)


@pytest.mark.parametrize("auto, hour, policy", [
    ("enable", 3, {"auto_backup": True, "backup_time": 3}),
    ("disable", 23, {"auto_backup": False, "backup_time": 23}),
    (None, None, {"auto_backup": True, "backup_time": 0}),  # what the server takes for absent
])
def test_policy_of(auto, hour, policy):
    group = _groups.shape_group({"GroupId": "g", "AutoBackup": auto, "BackupTime": hour}, QUERY)
    assert _groups.policy_of(group) == policy


@pytest.mark.parametrize("row", [{"GroupId": "g", "AutoBackup": "sometimes"}, {"GroupId": "g", "BackupTime": 24}])
def test_a_policy_the_server_should_not_report_is_an_error(row):
    with pytest.raises(SigcalcloudError):
        _groups.policy_of(_groups.shape_group(row, QUERY))


class Recorder:
    """A client that records what it is asked to send: update_policy's job is the parameters."""

    def __init__(self):
        self.calls = []

    def call(self, action, params, region=None, retry_product_codes=True):
        self.calls.append((action, params, region, retry_product_codes))
        return {"RetCode": 0}


def test_update_policy_always_sends_both_values_the_hour_as_a_string():
    client = Recorder()
    group = _groups.shape_group({"GroupId": "g", "AutoBackup": "disable", "BackupTime": 5}, QUERY)
    _groups.update_policy(client, group, {"auto_backup": False, "backup_time": 0})
    (action, params, region, retry_product_codes), = client.calls
    assert action == "UpdateURedisBackupStrategy" and region == "cn-bj2" and retry_product_codes is False
    assert params["AutoBackup"] == "disable" and params["BackupTime"] == "0" and params["GroupId"] == "g"


# --- cross-region copies -------------------------------------------------------------------------

@pytest.mark.parametrize("options, checked", [
    ({"region": "hk", "keep_days": 7}, {"state": "present", "region": "hk", "keep_days": 7}),
    ({"state": "present", "region": "hk", "keep_days": 1}, {"state": "present", "region": "hk", "keep_days": 1}),
    ({"state": "absent"}, {"state": "absent", "region": None, "keep_days": None}),
    ({"state": "absent", "region": None, "keep_days": None}, {"state": "absent", "region": None, "keep_days": None}),
])
def test_check_cross_region(options, checked):
    assert _groups.check_cross_region(options, "cn-bj2") == checked


@pytest.mark.parametrize("options, words", [
    ({"keep_days": 7}, "cross_region.region is required with cross_region.state=present"),
    ({"region": " ", "keep_days": 7}, "cross_region.region is required"),
    ({"region": "hk"}, "cross_region.keep_days is required with cross_region.state=present"),
    ({"region": "hk", "keep_days": 0}, "cross_region.keep_days=0 is out of range: copies are kept 1 day or more"),
    ({"region": "hk", "keep_days": -3}, "cross_region.keep_days=-3 is out of range"),
    ({"region": "cn-bj2", "keep_days": 7}, "cross_region.region='cn-bj2' is the group's own region"),
    ({"region": "CN-BJ2", "keep_days": 7}, "cross_region.region='CN-BJ2' is the group's own region"),
    ({"region": " hk", "keep_days": 7}, "cross_region.region=' hk' holds white space"),
    ({"region": "hk ", "keep_days": 7}, "holds white space"),
    ({"state": "absent", "region": "hk"}, "cross_region.region and cross_region.keep_days go with state=present only"),
    ({"state": "absent", "keep_days": 3}, "go with state=present only"),
    ({"state": "gone"}, "cross_region.state='gone' is not one of present, absent"),
])
def test_check_cross_region_refusals_say_what_is_wrong(options, words):
    with pytest.raises(_options.OptionError) as caught:
        _groups.check_cross_region(options, "cn-bj2")
    assert words in str(caught.value)


@pytest.mark.parametrize("copies, expected", [
    ({"state": "present", "region": "hk", "keep_days": 14},
     {"OperationType": "modify", "DstRegion": "hk", "SaveDays": 14}),
    ({"state": "absent", "region": None, "keep_days": None}, {"OperationType": "close"}),
], ids=["modify", "close"])
def test_update_cross_region_carries_the_automatic_policy(copies, expected):
    # What the server does with AutoBackup/BackupTime left out of modify or close is not documented: always sent.
    client = Recorder()
    group = _groups.shape_group({"GroupId": "g", "AutoBackup": "disable", "BackupTime": 5}, QUERY)
    _groups.update_cross_region(client, group, {"auto_backup": False, "backup_time": 5}, copies, zone="cn-bj2-01")
    (action, params, region, retry_product_codes), = client.calls
    assert action == "UpdateURedisBackupStrategy" and region == "cn-bj2" and retry_product_codes is False
    sent = dict((key, value) for key, value in params.items() if value is not None)
    assert sent == dict({"GroupId": "g", "AutoBackup": "disable", "BackupTime": "5", "Zone": "cn-bj2-01"}, **expected)
