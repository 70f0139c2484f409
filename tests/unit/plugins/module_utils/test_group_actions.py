# -*- coding: utf-8 -*-
# Copyright: sigcalcloud.cloud contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Creating and deleting Redis groups: the pure helpers of _group_actions, and its calls against the
emulator in-process (the real client, real HTTP), with the clock and the sleeps in the test's hands."""

from __future__ import annotations

import base64

import pytest

from ansible_collections.sigcalcloud.cloud.plugins.module_utils import _group_actions as actions
from ansible_collections.sigcalcloud.cloud.plugins.module_utils import _groups
from ansible_collections.sigcalcloud.cloud.plugins.module_utils._client import Client, SigcalcloudError
from ansible_collections.sigcalcloud.cloud.plugins.module_utils._options import OptionError
from emulator.server import DEMO_PRIVATE_KEY, DEMO_PUBLIC_KEY, Emulator, config_id, generate_dataset

REGION = "cn-bj2"
GROUP = "uredis-cnbj2-91"


@pytest.fixture
def emu():
    with Emulator(data=generate_dataset([REGION], 10, seed=3), group_create_seconds=3600,
                  group_delete_seconds=3600) as server:
        yield server


def client(emu, cls=Client):
    return cls(DEMO_PUBLIC_KEY, DEMO_PRIVATE_KEY, base_url=emu.base_url, timeout=5)


def facts(**values):
    base = dict((name, None) for name in _groups.FACT_NAMES)
    base.update(region=REGION, **values)
    return base


# --- pure helpers ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name, ok", [("abcdef", True), ("a" * 63, True), ("drill_scratch-1", True),
                                      ("abcde", False), ("a" * 64, False), ("has space", False), ("", False), (None, False)])
def test_check_name(name, ok):
    assert (actions.check_name(name) is None) is ok


@pytest.mark.parametrize("password", ["simple", u"ünïcode-密码", "with spaces and = signs"])
def test_the_password_goes_as_base64_of_its_utf8(password):
    encoded = actions.encoded_password(password)
    assert base64.b64decode(encoded, validate=True).decode("utf-8") == password and password not in encoded


def test_restore_version_takes_the_backups_and_refuses_an_older_one():
    backup = {"backup_id": "b-1", "redis_version": "6.0"}
    assert actions.restore_version(backup, None) == "6.0"
    assert actions.restore_version(backup, "7.0") == "7.0"
    with pytest.raises(OptionError, match="version=4.0 cannot load backup b-1, taken of Redis 6.0"):
        actions.restore_version(backup, "4.0")
    with pytest.raises(OptionError, match="backup b-1 does not say its Redis version: set version"):
        actions.restore_version({"backup_id": "b-1", "redis_version": None}, None)
    assert actions.version_key("7.2") == (7, 2) and actions.version_key("latest") == ()


def config(config_id, modify="Unmodifiable", state="Usable"):
    return {"config_id": config_id, "is_modify": modify, "state": state}


def test_the_default_configuration_is_the_one_unmodifiable_usable_row():
    rows = [config("custom", modify="Modifiable"), config("old", state="Disabled"), config("default")]
    assert actions.default_config(rows, "cn-bj2-01", "6.0") == "default"
    with pytest.raises(SigcalcloudError, match="zone cn-bj2-01 has no default configuration of Redis version 6.0"):
        actions.default_config(rows[:2], "cn-bj2-01", "6.0")
    with pytest.raises(SigcalcloudError, match="has 2 default configurations of Redis version 6.0 \\('a', 'b'\\)"):
        actions.default_config([config("a"), config("b")], "cn-bj2-01", "6.0")


def test_same_named_leaves_out_other_zones_and_groups_being_deleted():
    groups = [facts(group_id="g1", name="scratch", zone="z1", state="Running"),
              facts(group_id="g2", name="scratch", zone="z2", state="Running"),
              facts(group_id="g3", name="scratch", zone="z1", state="Deleting"),
              facts(group_id="g4", group_name="scratch", zone="z1", state="Creating"),
              facts(group_id="g5", name="other", zone="z1", state="Running")]
    assert [g["group_id"] for g in actions.same_named(groups, "scratch", "z1")] == ["g1", "g4"]


# --- against the emulator -------------------------------------------------------------------------

def test_the_default_configuration_is_found_per_zone_and_version(emu):
    found = actions.find_default_config(client(emu), REGION, None, "cn-bj2-01", "7.0")
    assert found == config_id("cn-bj2-01", "7.0", "default")


def test_a_wait_that_times_out_names_the_group_state_and_time(emu):
    api = client(emu)
    group_id, sends = actions.create_group(api, REGION, None, {"Name": "waited-group", "Zone": "cn-bj2-01",
                                                               "HighAvailability": "disable"}, (), deadline=1e18)
    assert sends == 1
    group = _groups.get_group(api, REGION, None, group_id)
    now, sleeps = [0.0], []

    def sleep(seconds):
        sleeps.append(seconds)
        now[0] += seconds

    with pytest.raises(actions.GroupFailed) as failed:
        actions.wait_for_group(api, group, actions.running, "Running", deadline=10, poll_interval=3, since=0,
                               action=actions.CREATE_ACTION, clock=lambda: now[0], sleep=sleep, rand=lambda: 0.5)
    assert "Redis group %s ('waited-group') was still Creating after waiting 10.0s for it to be Running" % group_id \
        in str(failed.value)
    assert sleeps == [3.0, 3.0, 3.0, 1.0]  # every poll_interval, never past the deadline
    row, = [row for row in emu.groups() if row["GroupId"] == group_id]
    emu.change_groups(upsert=[dict(row, State="CreateFail")])
    with pytest.raises(actions.GroupFailed, match="ended in state CreateFail"):
        actions.wait_for_group(api, group, actions.running, "Running", deadline=10, poll_interval=3, since=0,
                               action=actions.CREATE_ACTION, clock=lambda: 0.0, sleep=lambda s: None)


def test_a_deleted_createfail_group_is_waited_for_until_it_is_gone(emu):
    api = client(emu)
    group_id, _sends = actions.create_group(api, REGION, None, {"Name": "failed-group", "Zone": "cn-bj2-01",
                                                                "HighAvailability": "disable"}, (), deadline=1e18)
    row, = [row for row in emu.groups() if row["GroupId"] == group_id]
    emu.change_groups(upsert=[dict(row, State="CreateFail")])
    failed = _groups.get_group(api, REGION, None, group_id)
    assert actions.delete_group(api, failed, sleep=lambda s: None) is True
    emu.change_groups(delete=[group_id])  # the Deleting time is over
    assert actions.wait_for_group(api, failed, actions.gone, "gone", deadline=1e18, poll_interval=3, since=0,
                                  action=actions.DELETE_ACTION, sleep=lambda s: None) is None


class LosingClient(Client):
    """The real client, whose DeleteURedisGroup is performed by the server and then its answer lost."""

    def call_once(self, action, params, region=None):
        answer = super(LosingClient, self).call_once(action, params, region)
        if action == actions.DELETE_ACTION:
            raise SigcalcloudError("connection reset", action=action, region=region)
        return answer


def test_a_delete_performed_whose_answer_was_lost_is_not_sent_again(emu):
    api = client(emu, LosingClient)
    group = _groups.get_group(api, REGION, None, GROUP)
    assert actions.delete_group(api, group, sleep=lambda s: None) is True
    assert emu.stats()["by_action"][actions.DELETE_ACTION] == 1 and emu.stats()["group_deletes"] == 1


def test_20201_is_gone_only_when_the_listing_agrees(emu):
    api = client(emu)
    group = _groups.get_group(api, REGION, None, GROUP)
    emu.change_groups(delete=[GROUP])  # gone between the listing and the delete: not this call's doing
    assert actions.delete_group(api, group, sleep=lambda s: None) is False

    group_id, _sends = actions.create_group(api, REGION, None, {"Name": "still-creating", "Zone": "cn-bj2-01",
                                                                "HighAvailability": "disable"}, (), deadline=1e18)
    creating = _groups.get_group(api, REGION, None, group_id)
    with pytest.raises(SigcalcloudError) as refused:  # the API says 20201, its listing still holds the group
        actions.delete_group(api, creating, sleep=lambda s: None)
    assert refused.value.ret_code == actions.DELETE_FAILED_RET_CODE
    assert "yet group %s is listed, Creating" % group_id in str(refused.value)
    assert emu.stats()["group_deletes"] == 0
