# -*- coding: utf-8 -*-
# Copyright: sigcalcloud.cloud contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Taking a backup, waiting for it, and its link: the helpers of _backups, against the
emulator in-process (the real client, real HTTP), with the clock and the sleeps in the test's hands."""

from __future__ import annotations

import re

import pytest

from ansible_collections.sigcalcloud.cloud.plugins.module_utils import _backups
from ansible_collections.sigcalcloud.cloud.plugins.module_utils._client import Client, SigcalcloudError
from emulator.server import DEMO_PRIVATE_KEY, DEMO_PUBLIC_KEY, Emulator, FaultPlan, generate_dataset

GROUP = "uredis-cnbj2-90"


@pytest.fixture
def emu():
    with Emulator(data=generate_dataset(["cn-bj2"], 10, seed=3), backup_seconds=3600) as server:
        yield server


def client(emu, **kwargs):
    kwargs.setdefault("timeout", 5)
    return Client(DEMO_PUBLIC_KEY, DEMO_PRIVATE_KEY, base_url=emu.base_url, **kwargs)


@pytest.mark.parametrize("name, ok", [("abcdef", True), ("a" * 63, True), ("pre-upgrade_7", True),
                                      ("abcde", False), ("a" * 64, False), ("has space", False),
                                      (u"ünïcode-name", False), ("", False), (None, False)])
def test_check_backup_name(name, ok):
    assert (_backups.check_backup_name(name) is None) is ok


def test_generated_names_are_valid_utc_times():
    name = _backups.generated_backup_name(1764645300)
    assert name == "ansible-20251202-031500"
    assert _backups.check_backup_name(name) is None


def test_withhold_links_hides_every_url_but_keeps_the_words():
    text = "failed for https://dl.example/x?Expires=1&Signature=abc (see http://h/y), try again"
    shown = _backups.withhold_links(text)
    assert "://" not in shown and "Signature" not in shown  # rather too much hidden than too little
    assert shown.startswith("failed for <link withheld> (see <link withheld>") and shown.endswith("try again")


def test_wait_polls_slower_and_slower_and_times_out_naming_the_state(emu):
    api = client(emu)
    backup_id, sends = _backups.create_backup(api, "cn-bj2", None, GROUP, "waited-for")
    assert sends == 1
    backup = _backups.get_backup(api, "cn-bj2", None, GROUP, backup_id)
    now, sleeps = [0.0], []

    def sleep(seconds):
        sleeps.append(seconds)
        now[0] += seconds

    with pytest.raises(_backups.BackupFailed) as failed:
        _backups.wait_for_backup(api, backup, timeout=300, poll_interval=10, clock=lambda: now[0], sleep=sleep,
                                 rand=lambda: 0.5)
    assert "was still Backuping after waiting 300s (wait_timeout=300)" in str(failed.value)
    assert failed.value.backup["backup_id"] == backup_id
    assert sleeps[:4] == [10.0, 15.0, 22.5, 33.75]  # half again as long each time
    assert max(sleeps) <= 60 and sum(sleeps) == 300  # capped, and never past the deadline
    polls = emu.stats()["by_action"]["DescribeURedisBackup"]
    assert polls <= len(sleeps) + 1


def test_wait_returns_success_and_fails_on_error(emu):
    api = client(emu)
    fast = Emulator(data=generate_dataset(["cn-bj2"], 10, seed=3), backup_seconds=0.05)
    with fast:
        api = client(fast)
        backup_id, _sends = _backups.create_backup(api, "cn-bj2", None, GROUP, "will-succeed")
        backup = _backups.get_backup(api, "cn-bj2", None, GROUP, backup_id)
        done = _backups.wait_for_backup(api, backup, timeout=30, poll_interval=0.1)
        assert done["state"] == "Success" and done["backup_id"] == backup_id
        fast.change_groups(fail=[GROUP])
        backup_id, _sends = _backups.create_backup(api, "cn-bj2", None, GROUP, "will-fail")
        backup = _backups.get_backup(api, "cn-bj2", None, GROUP, backup_id)
        with pytest.raises(_backups.BackupFailed) as failed:
            _backups.wait_for_backup(api, backup, timeout=30, poll_interval=0.1)
        assert re.search(r"backup %s \(will-fail\) of group %s ended in state Error" % (backup_id, GROUP),
                         str(failed.value))


def test_a_create_refused_for_good_is_sent_once(emu):
    emu.manual_backup_limit = 0
    with pytest.raises(SigcalcloudError) as refused:
        _backups.create_backup(client(emu), "cn-bj2", None, GROUP, "over-quota", sleep=lambda s: None)
    assert refused.value.ret_code == 20208 and "as many manual backups as it may keep" in str(refused.value)
    assert emu.stats()["by_action"]["CreateURedisBackup"] == 1
    assert "DescribeURedisBackup" not in emu.stats()["by_action"]  # nothing to look up


def test_a_create_the_gateway_keeps_refusing_is_sent_again_without_lookups(emu):
    emu.faults = FaultPlan(schedule=dict((n, "retcode150") for n in range(1, 50)))  # every create: busy
    with pytest.raises(SigcalcloudError) as failed:
        _backups.create_backup(client(emu, max_retries=2), "cn-bj2", None, GROUP, "never-made", sleep=lambda s: None)
    assert "(sent 3 times, nothing was created)" in str(failed.value)
    assert emu.stats()["by_action"] == {"CreateURedisBackup": 3}  # a refusal says nothing was made: no lookup
    assert emu.stats()["creates"] == 0


@pytest.mark.parametrize("kind", ["503", "500", "reset", "html"])
def test_a_create_whose_answer_may_be_lost_is_looked_up_on_the_schedule_and_never_sent_again(emu, kind):
    emu.faults = FaultPlan(schedule={1: kind})  # the create fails in front of the server: nothing is made
    sleeps = []
    with pytest.raises(SigcalcloudError) as failed:
        _backups.create_backup(client(emu, max_retries=3), "cn-bj2", None, GROUP, "never-made", sleep=sleeps.append,
                               rand=lambda: 0.5, wait_timeout=3600)
    assert "not listed in 17 lookups over 60s; not sent again, so as never to make two: it may still appear" \
        in str(failed.value)
    assert emu.stats()["by_action"] == {"CreateURedisBackup": 1, "DescribeURedisBackup": 17}
    # Looked up at once, then 0.5 s later, 1.5 times longer each time up to 5 s, for a minute.
    assert sleeps[:4] == [pytest.approx(0.5), pytest.approx(0.75), pytest.approx(1.125), pytest.approx(1.6875)]
    assert max(sleeps) == 5 and sum(sleeps) == pytest.approx(60, abs=0.5)


def test_the_lookups_end_at_the_tasks_deadline(emu):
    emu.lose_create_answers(1, "reset")
    emu.listing_lag = 1000  # made, never listed
    sleeps = []
    with pytest.raises(SigcalcloudError) as failed:
        _backups.create_backup(client(emu), "cn-bj2", None, GROUP, "never-listed", sleep=sleeps.append,
                               rand=lambda: 0.5, wait_timeout=4)
    assert "not sent again" in str(failed.value) and sum(sleeps) == pytest.approx(4, abs=0.5)
    assert emu.stats()["creates"] == 1 and emu.stats()["by_action"]["CreateURedisBackup"] == 1


def test_a_create_answered_with_another_actions_refusal_counts_as_lost(emu):
    emu.faults = FaultPlan(schedule={1: "wrong_action"})
    with pytest.raises(SigcalcloudError) as failed:
        _backups.create_backup(client(emu), "cn-bj2", None, GROUP, "never-made", sleep=lambda s: None, wait_timeout=2)
    assert "the answer is not one to CreateURedisBackup" in str(failed.value) and "not sent again" in str(failed.value)
    assert emu.stats()["by_action"]["CreateURedisBackup"] == 1


def test_the_waits_between_creates_stay_within_the_retry_budget(emu):
    emu.faults = FaultPlan(schedule=dict((n, "429") for n in range(1, 50)))  # Retry-After: 1
    sleeps = []
    busy = client(emu, max_retries=10)
    busy.backoff.budget = 2.5
    with pytest.raises(SigcalcloudError) as failed:
        _backups.create_backup(busy, "cn-bj2", None, GROUP, "never-made", sleep=sleeps.append)
    assert "retry time budget of 2.5s spent" in str(failed.value)
    assert sum(sleeps) <= 2.5 and emu.stats()["by_action"] == {"CreateURedisBackup": len(sleeps) + 1}


def test_a_lookup_that_fails_too_says_the_backup_may_exist(emu):
    emu.lose_create_answers(1, "reset")
    emu.faults = FaultPlan(schedule=dict((n, "500") for n in range(2, 50)))  # the lookups fail
    with pytest.raises(SigcalcloudError) as failed:
        _backups.create_backup(client(emu, max_retries=1), "cn-bj2", None, GROUP, "maybe-made", sleep=lambda s: None)
    assert "was lost" in str(failed.value) and "it may exist" in str(failed.value)
    assert emu.stats()["creates"] == 1 and emu.stats()["by_action"]["CreateURedisBackup"] == 1


def test_backup_url_errors_hold_no_link(emu):
    emu.faults = FaultPlan(schedule=dict((n, "truncated") for n in range(1, 10)))
    good = next(b for b in emu.data["backups"] if b["State"] == "Success" and b["ProjectId"] == "org-demo")
    with pytest.raises(SigcalcloudError) as failed:
        _backups.backup_url(client(emu, max_retries=0), "cn-bj2", good["BackupId"])
    assert "://" not in failed.value.message and "_emulator/download" not in str(failed.value)
