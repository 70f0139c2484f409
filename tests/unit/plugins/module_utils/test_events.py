# -*- coding: utf-8 -*-
# Copyright: sigcalcloud.cloud contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""What the uredis_backup_events source announces: the pure diff and staleness logic
of plugins/module_utils/_events.py, on facts shaped by the module's own shape_row.

The source's loop, its arguments and the state file are tested against the emulator
(and under real ansible-rulebook) in tests/e2e/test_eda.py.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings, strategies as st

from ansible_collections.sigcalcloud.cloud.plugins.module_utils._events import (
    OtherScope,
    group_status,
    is_stale,
    missing_report,
    new_state,
    poll_events,
    restore_state,
)
from ansible_collections.sigcalcloud.cloud.plugins.module_utils._backups import Query, shape_row

NOW = 1_800_000_000
HOUR = 3600
SCOPE = {"account": "0123456789abcdef0123456789abcdef", "base_url": "https://api.example", "project_id": None,
         "regions": ["cn-bj2"], "region_types": ["normal"], "group_ids": []}


def backup(backup_id, state="Success", age=HOUR, group="g-1", region="cn-bj2", **fields):
    """One backup's facts, exactly as the module returns them."""
    row = {"BackupId": backup_id, "BackupName": "n-%s" % backup_id, "BackupTime": NOW - age, "BackupSize": 10,
           "BackupType": "Auto", "State": state, "GroupId": group, "GroupName": "name of %s" % group}
    row.update(fields)
    return shape_row(row, Query(region))


def primed(*backups, stale_after=None):
    """The state after a silent first poll that saw ``backups``."""
    events, state = poll_events(new_state(SCOPE), list(backups), NOW, stale_after=stale_after)
    assert events == []
    return state


def kinds(events):
    return [(e["type"], e.get("backup_id") or e.get("group_id")) for e in events]


# --- the first poll ---------------------------------------------------------------


def test_first_poll_announces_nothing_and_remembers_everything():
    a, b = backup("a"), backup("b", state="Error")
    events, state = poll_events(new_state(SCOPE), [a, b], NOW, stale_after=26 * HOUR)
    assert events == []
    assert state["primed"] is True
    assert state["backups"] == {"a": a, "b": b}


def test_announce_existing_announces_the_first_poll_oldest_first():
    old, new = backup("new", age=HOUR), backup("old", state="Error", age=5 * HOUR, group="g-2")
    events, state = poll_events(new_state(SCOPE), [old, new], NOW, stale_after=26 * HOUR, announce_existing=True)
    assert kinds(events) == [("backup_new", "old"), ("backup_new", "new"), ("group_stale", "g-2")]
    assert state["primed"] is True


def test_a_region_that_always_fails_does_not_silence_the_others():
    a, b = backup("a"), backup("b")
    # Nothing listed at all: not primed, nothing learnt.
    events, state = poll_events(new_state(SCOPE), [], NOW, complete=False)
    assert events == [] and state["primed"] is False
    # The first poll that lists something primes, even though a listing failed.
    events, state = poll_events(state, [a], NOW, complete=False)
    assert events == [] and state["primed"] is True
    # A later poll with the same listing still failing announces what changed where it works.
    events, state = poll_events(state, [a, b], NOW, complete=False)
    assert kinds(events) == [("backup_new", "b")]
    # ...but no removal, since what the failing listing would show may still be there.
    events, state = poll_events(state, [b], NOW, complete=False)
    assert events == [] and state["missing"]["backups"] == []
    # Two complete polls without a: removed, at the second.
    events, state = poll_events(state, [b], NOW)
    assert events == [] and state["missing"]["backups"] == ["a"]
    events, state = poll_events(state, [b], NOW)
    assert kinds(events) == [("backup_removed", "a")]


# --- backup events ---------------------------------------------------------------


def test_backup_events_carry_the_facts_a_type_and_the_previous_state():
    running = backup("a", state="Backuping")
    state = primed(running)
    done = backup("a", state="Success", BackupSize=99)
    fresh = backup("b", age=60)
    events, state = poll_events(state, [done, fresh], NOW)
    assert events == [
        dict(done, type="backup_state_changed", previous_state="Backuping"),
        dict(fresh, type="backup_new"),
    ]
    assert list(events[0])[0] == "type"
    assert set(events[1]) == set(fresh) | {"type"}
    events, state = poll_events(state, [fresh], NOW)
    assert events == [] and state["backups"] == {"a": done, "b": fresh}  # pending removal
    events, state = poll_events(state, [fresh], NOW)
    assert events == [dict(done, type="backup_removed")]
    assert state["backups"] == {"b": fresh}


def test_a_change_of_other_facts_is_remembered_but_not_announced():
    state = primed(backup("a"))
    renamed = backup("a", BackupName="renamed")
    events, state = poll_events(state, [renamed], NOW)
    assert events == []
    assert state["backups"]["a"]["backup_name"] == "renamed"


def test_events_of_one_poll_come_in_a_fixed_order():
    state = primed(backup("keep", state="Backuping", age=3 * HOUR), backup("gone-new", age=HOUR),
                   backup("gone-old", age=9 * HOUR), stale_after=None)
    _events, state = poll_events(state, [backup("keep", state="Backuping", age=3 * HOUR)], NOW)  # the gone are pending
    listed = [backup("late", age=10), backup("keep", state="Error", age=3 * HOUR), backup("early", age=5 * HOUR)]
    events, _state = poll_events(state, listed, NOW)
    assert kinds(events) == [
        ("backup_new", "early"), ("backup_state_changed", "keep"), ("backup_new", "late"),
        ("backup_removed", "gone-old"), ("backup_removed", "gone-new"),
    ]


def test_rows_without_an_id_are_ignored_and_repeated_rows_count_once():
    state = primed()
    events, state = poll_events(state, [backup(None), backup("a"), backup("a")], NOW)
    assert kinds(events) == [("backup_new", "a")]
    assert list(state["backups"]) == ["a"]


def test_a_partial_poll_announces_what_it_saw_but_removes_and_forgets_nothing():
    a, b = backup("a"), backup("b", group="g-2", age=40 * HOUR)
    state = primed(a, b, stale_after=26 * HOUR)
    assert state["stale_groups"] == [["cn-bj2", "g-2"]]
    # b's region failed: it was not listed; a changed, c is new and makes g-2 fresh.
    c = backup("c", group="g-2", age=60)
    events, state = poll_events(state, [backup("a", state="Expired"), c], NOW, complete=False,
                                stale_after=26 * HOUR)
    assert kinds(events) == [("backup_state_changed", "a"), ("backup_new", "c")]
    assert set(state["backups"]) == {"a", "b", "c"}
    assert state["stale_groups"] == [["cn-bj2", "g-2"]]
    # A complete poll settles it (g-1, whose only good backup expired, is now stale; g-2 is fresh);
    # b is pending removal, and removed at the next complete poll that does not list it either.
    events, state = poll_events(state, [backup("a", state="Expired"), c], NOW, stale_after=26 * HOUR)
    assert kinds(events) == [("group_stale", "g-1"), ("group_recovered", "g-2")]
    events, state = poll_events(state, [backup("a", state="Expired"), c], NOW, stale_after=26 * HOUR)
    assert kinds(events) == [("backup_removed", "b")]


# --- staleness ------------------------------------------------------------------------


@pytest.mark.parametrize("age, stale", [(None, True), (26 * HOUR - 1, False), (26 * HOUR, False),
                                        (26 * HOUR + 1, True)])
def test_a_group_is_stale_when_its_newest_success_is_older_than_stale_after(age, stale):
    last_success = None if age is None else backup("a", age=age)
    assert is_stale(last_success, NOW, 26 * HOUR) is stale


def test_group_status_takes_the_newest_backup_and_the_newest_success():
    backups = [backup("old-ok", age=9 * HOUR), backup("running", state="Backuping", age=60),
               backup("failed", state="Error", age=HOUR), backup("new-ok", age=2 * HOUR),
               backup("other", group="g-2", region="hk", state="Error"),
               backup("no-group", group=None), backup("timeless", BackupTime=None)]
    status = group_status(backups)
    assert sorted(status) == [("cn-bj2", "g-1"), ("hk", "g-2")]
    newest, last_success, group = status[("cn-bj2", "g-1")]
    assert group is None  # known by its backups only
    assert (newest["backup_id"], last_success["backup_id"]) == ("running", "new-ok")
    assert status[("hk", "g-2")][1] is None


def test_a_group_goes_stale_once_then_recovers_once():
    day = 24 * HOUR
    state = primed(backup("a", age=HOUR), stale_after=day)
    assert state["stale_groups"] == []

    later = NOW + day  # a's backup is now a day and an hour old
    events, state = poll_events(state, [backup("a", age=HOUR)], later, stale_after=day)
    assert events == [{
        "type": "group_stale", "region": "cn-bj2", "project_id": None, "group_id": "g-1",
        "group_name": "name of g-1", "stale_after": day, "last_success": backup("a", age=HOUR),
        "last_success_age": day + HOUR, "group": None,
    }]
    events, state = poll_events(state, [backup("a", age=HOUR)], later + HOUR, stale_after=day)
    assert events == []

    failed = backup("b", state="Error", age=-day)  # a new backup, but not a good one
    events, state = poll_events(state, [backup("a", age=HOUR), failed], later, stale_after=day)
    assert kinds(events) == [("backup_new", "b")]

    good = backup("c", age=-day)
    events, state = poll_events(state, [backup("a", age=HOUR), failed, good], later, stale_after=day)
    assert kinds(events) == [("backup_new", "c"), ("group_recovered", "g-1")]
    assert events[1]["last_success"] == good and events[1]["last_success_age"] == 0
    assert state["stale_groups"] == []


def test_a_group_without_a_success_is_stale_and_without_backups_is_forgotten():
    state = primed(backup("a"), stale_after=HOUR)
    events, state = poll_events(state, [backup("a", state="Error")], NOW, stale_after=HOUR)
    assert kinds(events) == [("backup_state_changed", "a"), ("group_stale", "g-1")]
    assert events[1]["last_success"] is None and events[1]["last_success_age"] is None
    events, state = poll_events(state, [], NOW, stale_after=HOUR)
    assert events == [] and state["stale_groups"] == [["cn-bj2", "g-1"]]  # a is pending removal
    events, state = poll_events(state, [], NOW, stale_after=HOUR)
    assert kinds(events) == [("backup_removed", "a")]
    assert state["stale_groups"] == []


def test_without_stale_after_there_are_no_group_events():
    state = primed(backup("a", age=99 * HOUR), stale_after=HOUR)
    assert state["stale_groups"] == [["cn-bj2", "g-1"]]
    events, state = poll_events(state, [backup("a", age=99 * HOUR)], NOW)
    assert events == [] and state["stale_groups"] == []


def test_groups_of_different_regions_are_different_groups():
    state = primed(stale_after=HOUR)
    listed = [backup("a", region="hk", age=9 * HOUR), backup("b", region="cn-bj2", age=9 * HOUR)]
    events, state = poll_events(state, listed, NOW, stale_after=HOUR)
    assert [(e["type"], e["region"]) for e in events if e["type"].startswith("group")] == [
        ("group_stale", "cn-bj2"), ("group_stale", "hk")]
    assert state["stale_groups"] == [["cn-bj2", "g-1"], ["hk", "g-1"]]


# --- the remembered state -----------------------------------------------------------


def test_the_state_survives_json_and_is_refused_for_another_scope():
    state = primed(backup("a"), backup("b", age=99 * HOUR), stale_after=HOUR)
    restored = restore_state(json.loads(json.dumps(state)), SCOPE)
    assert restored == state
    with pytest.raises(OtherScope, match="other settings"):
        restore_state(json.loads(json.dumps(state)), dict(SCOPE, regions=["hk"]))


def test_another_account_is_another_scope():
    state = json.loads(json.dumps(primed(backup("a"))))
    with pytest.raises(OtherScope, match="other settings"):
        restore_state(state, dict(SCOPE, account="fedcba9876543210fedcba9876543210"))


def sound_state():
    """A JSON round trip of a state with a backup and a stale group: what a state file holds."""
    return json.loads(json.dumps(primed(backup("a"), backup("b", group="g-2", age=99 * HOUR), stale_after=HOUR)))


def damaged(change):
    data = sound_state()
    change(data)
    return data


def setter(*path_and_value):
    *path, key, value = path_and_value

    def change(data):
        target = data
        for step in path:
            target = target[step]
        if value is DELETE:
            del target[key]
        else:
            target[key] = value
    return change


DELETE = object()


@pytest.mark.parametrize("change, message", [
    (lambda data: data.clear() or data.update(version=99), "not a version 1, 2 or 3 state"),
    (setter("version", True), "not a version 1, 2 or 3 state"),
    (setter("version", "1"), "not a version 1, 2 or 3 state"),
    (setter("version", 1.0), "not a version 1, 2 or 3 state"),
    (setter("extra", 1), "has the keys"),
    (setter("primed", DELETE), "has the keys"),
    (setter("primed", 1), "its primed is 1, expected true or false"),
    (setter("primed", "yes"), "its primed is 'yes', expected true or false"),
    (setter("primed", None), "its primed is None"),
    (setter("scope", ["cn-bj2"]), "its scope is not a mapping of account, base_url"),
    (setter("scope", "odd", "x"), "its scope is not a mapping of"),
    (setter("scope", "account", DELETE), "its scope is not a mapping of"),
    (setter("scope", "regions", [1]), r"its scope has regions=\[1\], expected a string, a list of strings or null"),
    (setter("scope", "base_url", {"a": 1}), "its scope has base_url="),
    (setter("backups", []), "its backups are not a mapping of backup id to facts"),
    (setter("backups", None), "its backups are not a mapping"),
    (setter("backups", "a", None), r"its backups\['a'\]: a backup is NoneType, not a mapping"),
    (setter("backups", "a", "backup_time", "yesterday"), r"its backups\['a'\]: backup 'a' has backup_time='yesterday'"),
    (setter("backups", "a", "backup_time", 1.5), "has backup_time=1.5, expected an integer"),
    (setter("backups", "a", "backup_size", True), "has backup_size=True"),
    (setter("backups", "a", "state", 3), "has state=3, expected a string"),
    (setter("backups", "a", "group_id", ["g"]), "has group_id="),
    (setter("backups", "a", "region", None), "has no region"),
    (setter("backups", "a", "zone", DELETE), r"its backups\['a'\]: a backup has the facts"),
    (setter("backups", "a", "surplus", 1), "a backup has the facts"),
    (setter("backups", "a", "backup_id", "b"), r"its backups\['a'\] holds the facts of backup 'b'"),
    (setter("backups", "a", "backup_id", None), "holds the facts of backup None"),
    (setter("stale_groups", {}), "its stale_groups are not a list of"),
    (setter("stale_groups", [["only-region"]]), r"stale_groups are not a list of \[region, group_id\] pairs"),
    (setter("stale_groups", 0, ["cn-bj2", 7]), r"\(entry 0 is \['cn-bj2', 7\]\)"),
    (setter("stale_groups", 0, ["cn-bj2", ["g-2"]]), "entry 0"),
    (setter("stale_groups", 0, "cn-bj2/g-2"), "entry 0 is 'cn-bj2/g-2'"),
    (setter("stale_groups", 0, ["cn-bj2", "g-2", "x"]), "entry 0"),
])
def test_a_damaged_state_is_refused_with_a_reason(change, message):
    data = damaged(change)
    with pytest.raises(ValueError, match=message) as caught:
        restore_state(data, SCOPE)
    assert not isinstance(caught.value, OtherScope)  # damaged, not merely another scope's


@pytest.mark.parametrize("data", [[], None, "state", 1])
def test_a_state_that_is_not_an_object_is_refused(data):
    with pytest.raises(ValueError, match="it is not a JSON object"):
        restore_state(data, SCOPE)


def test_a_damaged_state_of_another_scope_is_damaged_first():
    data = damaged(setter("backups", "a", "backup_time", "yesterday"))
    with pytest.raises(ValueError, match="backup_time") as caught:
        restore_state(data, dict(SCOPE, regions=["hk"]))
    assert not isinstance(caught.value, OtherScope)


def test_a_restored_state_polls_without_error():
    """What passes the checks is what poll_events can use: no TypeError on a later poll."""
    state = restore_state(sound_state(), SCOPE)
    events, state = poll_events(state, [backup("c")], NOW, stale_after=HOUR)
    assert kinds(events) == [("backup_new", "c")]
    events, _state = poll_events(restore_state(json.loads(json.dumps(state)), SCOPE), [backup("c")], NOW,
                                 stale_after=HOUR)
    assert kinds(events) == [("backup_removed", "b"), ("backup_removed", "a")]


# --- properties over any sequence of polls ------------------------------------------

STATES = ("Backuping", "Success", "Error", "Expired")
snapshot = st.dictionaries(
    st.sampled_from(["a", "b", "c", "d", "e"]),
    st.tuples(st.sampled_from(STATES), st.sampled_from(["g-1", "g-2"]), st.integers(0, 60)),
    max_size=5,
)


def listing(snap):
    return [backup(i, state=s, group=g, age=hours * HOUR) for i, (s, g, hours) in sorted(snap.items())]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(snapshot, st.booleans(), st.booleans()), min_size=1, max_size=8))
def test_events_replayed_on_what_was_known_give_what_is_believed(polls):
    """Any polls, some with a failed listing: every difference is announced once, nothing else
    is; a backup is removed at the second complete poll in a row that misses it (a failed poll
    in between changes nothing of that), and one listed again before is no news. Staleness
    follows the backups believed to exist: listed, or pending removal. A JSON round trip of
    the state between two polls (a restart with state_file) changes nothing."""
    state = primed(stale_after=24 * HOUR)
    known = {}  # what the events said exists, and its state
    believed = {}  # backup id -> (state, group, hours): listed, or not yet confirmed gone
    pending = set()
    stale = set()
    for snap, failed, restart in polls:
        if restart:
            state = restore_state(json.loads(json.dumps(state)), SCOPE)
        events, state = poll_events(state, listing(snap), NOW, complete=not failed, stale_after=24 * HOUR)
        removed = set() if failed else pending - set(snap)
        pending = (pending - set(snap)) if failed else (set(believed) - set(snap) - removed)
        believed = dict((i, facts) for i, facts in believed.items() if i not in removed)
        believed.update(snap)
        believed_groups = set(group for _state, group, _hours in believed.values())
        if not failed:
            stale &= believed_groups  # a group no longer believed to have backups is forgotten, without an event
        for event in events:
            if event["type"] == "backup_new":
                assert event["backup_id"] not in known
                known[event["backup_id"]] = event["state"]
            elif event["type"] == "backup_state_changed":
                assert known[event["backup_id"]] == event["previous_state"] != event["state"]
                known[event["backup_id"]] = event["state"]
            elif event["type"] == "backup_removed":
                assert event["backup_id"] in removed
                removed.remove(event["backup_id"])
                del known[event["backup_id"]]
            elif event["type"] == "group_stale":
                assert not failed and event["group_id"] not in stale
                stale.add(event["group_id"])
            else:
                assert not failed and event["type"] == "group_recovered"
                stale.remove(event["group_id"])
        assert removed == set()  # every confirmed removal was announced
        assert known == dict((i, s) for i, (s, _g, _h) in believed.items())
        assert state["missing"]["backups"] == sorted(pending) and set(state["backups"]) == set(believed)
        if not failed:
            fresh = set(group for s, group, hours in believed.values() if s == "Success" and hours <= 24)
            assert stale == believed_groups - fresh
        assert state["stale_groups"] == [["cn-bj2", g] for g in sorted(stale)]


def test_a_state_file_with_incomplete_facts_is_not_used():
    state = primed(backup("a"))
    data = json.loads(json.dumps(state))
    data["backups"]["a"] = {"state": "Success"}  # hand-edited, or written by an older version
    with pytest.raises(ValueError, match=r"its backups\['a'\]: a backup has the facts state, expected backup_id"):
        restore_state(data, SCOPE)


# --- Redis groups: those without backups, and their policy -----------------------------------

def group(group_id, auto="enable", age=10 * 24 * HOUR, region="cn-bj2", **fields):
    """One group's facts, as uredis_group_info returns them."""
    from ansible_collections.sigcalcloud.cloud.plugins.module_utils import _groups
    row = {"GroupId": group_id, "Name": "name of %s" % group_id, "AutoBackup": auto, "BackupTime": 3,
           "CreateTime": NOW - age, "State": "Running"}
    row.update(fields)
    return _groups.shape_group(row, _groups.Query(region))


def test_a_group_that_never_had_a_backup_goes_stale_once_it_is_old_enough():
    young = group("g-new", age=HOUR)
    state = primed()
    events, state = poll_events(state, [], NOW, stale_after=2 * HOUR, groups=[young])
    assert events == []  # an hour old, allowed two: not stale yet
    events, state = poll_events(state, [], NOW + 2 * HOUR, stale_after=2 * HOUR, groups=[young])
    assert kinds(events) == [("group_stale", "g-new")]
    assert events[0]["group"] == young and events[0]["group_name"] == "name of g-new"
    assert events[0]["last_success"] is None
    # the repair: a good backup appears
    events, state = poll_events(state, [backup("b", group="g-new", age=-2 * HOUR)], NOW + 2 * HOUR + 60,
                                stale_after=2 * HOUR, groups=[young])
    assert kinds(events) == [("backup_new", "b"), ("group_recovered", "g-new")]
    assert events[1]["group"] == young


def test_a_group_without_create_time_and_without_a_success_is_stale():
    assert is_stale(None, NOW, HOUR, group("g", CreateTime=None))
    assert not is_stale(None, NOW, HOUR, group("g", age=60))


def test_switching_automatic_backups_off_and_on_is_announced():
    on, off = group("g-1"), group("g-1", auto="disable")
    state = primed()
    events, state = poll_events(state, [], NOW, groups=[on])
    assert events == []
    events, state = poll_events(state, [], NOW, groups=[off])
    assert kinds(events) == [("group_auto_backup_disabled", "g-1")]
    assert events[0]["group"] == off
    events, state = poll_events(state, [], NOW, groups=[off])
    assert events == []  # once
    events, state = poll_events(state, [], NOW, groups=[on])
    assert kinds(events) == [("group_auto_backup_enabled", "g-1")]


def test_a_new_group_seen_with_backups_off_is_announced_and_at_the_start_only_with_announce_existing():
    off = group("g-9", auto="disable")
    events, state = poll_events(new_state(SCOPE), [], NOW, groups=[off])
    assert events == []
    events, _state = poll_events(new_state(SCOPE), [], NOW, groups=[off], announce_existing=True)
    assert kinds(events) == [("group_auto_backup_disabled", "g-9")]
    events, state = poll_events(state, [], NOW, groups=[off, group("g-10", auto="disable")])
    assert kinds(events) == [("group_auto_backup_disabled", "g-10")]


def test_a_version_1_state_is_migrated_and_learns_policies_without_announcing_them():
    state = primed(backup("a"))
    old = dict((k, v) for k, v in json.loads(json.dumps(state)).items() if k not in ("policies", "missing"))
    old["version"] = 1
    restored = restore_state(old, SCOPE)
    assert restored["version"] == 3 and restored["policies"] is None and restored["backups"] == state["backups"]
    assert restored["missing"] == {"backups": [], "groups": []}
    events, after = poll_events(restored, [backup("a")], NOW, groups=[group("g-1", auto="disable")])
    assert events == []
    assert after["policies"] == [["cn-bj2", "g-1", "disable"]]
    assert restore_state(json.loads(json.dumps(after)), SCOPE) == after


@pytest.mark.parametrize("policies", ["x", [["cn-bj2", "g"]], [["cn-bj2", "g", "sometimes"]], [[1, "g", None]]])
def test_damaged_policies_are_refused(policies):
    data = json.loads(json.dumps(primed()))
    data["policies"] = policies
    with pytest.raises(ValueError, match="policies"):
        restore_state(data, SCOPE)


def test_an_incomplete_poll_announces_a_policy_change_but_no_staleness():
    state = primed()
    _events, state = poll_events(state, [], NOW, stale_after=HOUR, groups=[group("g-1")])
    events, state = poll_events(state, [], NOW, complete=False, stale_after=HOUR,
                                groups=[group("g-1", auto="disable")])
    assert kinds(events) == [("group_auto_backup_disabled", "g-1")]


# --- review fixes: what the state keeps of groups, failed group listings, the groups' first listing ---


def test_an_auto_backup_value_other_than_the_two_is_kept_as_enable_and_the_state_stays_usable():
    odd = group("g-1", auto="Enable")  # whatever the server sends: not "disable", so backups are on
    state = primed()
    events, state = poll_events(state, [], NOW, groups=[odd, group("g-2", AutoBackup=None)])
    assert events == []
    assert state["policies"] == [["cn-bj2", "g-1", "enable"], ["cn-bj2", "g-2", "enable"]]
    assert restore_state(json.loads(json.dumps(state)), SCOPE) == state  # not set aside at the next start
    events, state = poll_events(state, [], NOW, groups=[group("g-1", auto="disable")])
    assert kinds(events) == [("group_auto_backup_disabled", "g-1")]


def test_a_group_no_longer_listed_is_forgotten_and_is_news_when_it_comes_back_switched_off():
    state = primed()
    _events, state = poll_events(state, [], NOW, groups=[group("g-1", auto="disable"), group("g-2")])
    _events, state = poll_events(state, [], NOW, groups=[group("g-2")])
    assert state["policies"] == [["cn-bj2", "g-1", "disable"], ["cn-bj2", "g-2", "enable"]]  # g-1 pending removal
    assert state["missing"]["groups"] == [["cn-bj2", "g-1"]]
    _events, state = poll_events(state, [], NOW, groups=[group("g-2")])
    assert state["policies"] == [["cn-bj2", "g-2", "enable"]] and state["missing"]["groups"] == []
    events, state = poll_events(state, [], NOW, groups=[group("g-1", auto="disable"), group("g-2")])
    assert kinds(events) == [("group_auto_backup_disabled", "g-1")]


def test_a_failed_group_listing_announces_no_policy_and_no_staleness_and_learns_nothing():
    state = primed()
    _events, state = poll_events(state, [], NOW, stale_after=HOUR, groups=[group("g-1"), group("g-2", age=60)])
    assert state["stale_groups"] == [["cn-bj2", "g-1"]]
    before = json.loads(json.dumps(state))
    # g-2 is now old enough and switched off, g-1 got a good backup: but a group listing failed.
    fresh = backup("b", group="g-1", age=-2 * HOUR + 60)  # a minute before the poll
    events, state = poll_events(state, [fresh], NOW + 2 * HOUR, stale_after=HOUR,
                                groups=[group("g-2", auto="disable", age=60)], groups_complete=False)
    assert kinds(events) == [("backup_new", "b")]
    assert state["stale_groups"] == before["stale_groups"] and state["policies"] == before["policies"]
    # The next poll that lists every group settles it.
    events, state = poll_events(state, [fresh], NOW + 2 * HOUR, stale_after=HOUR,
                                groups=[group("g-1"), group("g-2", auto="disable", age=60)])
    assert kinds(events) == [("group_recovered", "g-1"), ("group_stale", "g-2"), ("group_auto_backup_disabled", "g-2")]
    assert events[1]["group"]["auto_backup"] == "disable" and events[1]["last_success"] is None


def test_a_failed_group_listing_does_not_hold_back_the_removal_of_a_backup():
    state = primed(backup("a"))
    events, state = poll_events(state, [], NOW, groups=[], groups_complete=False)
    assert events == [] and state["missing"]["backups"] == ["a"]
    events, _state = poll_events(state, [], NOW, groups=[], groups_complete=False)
    assert kinds(events) == [("backup_removed", "a")]


def test_the_first_listing_of_the_groups_learns_them_silently_after_an_upgrade():
    """A version 1 state: the groups without backups that are stale, and those switched off,
    were there before; they are learnt, not announced (announce_existing announces them)."""
    v1 = json.loads(json.dumps(primed(backup("a", age=99 * HOUR), stale_after=HOUR)))
    del v1["policies"], v1["missing"]
    v1["version"] = 1
    listed = [group("g-1"), group("never", auto="disable")]
    events, state = poll_events(restore_state(v1, SCOPE), [backup("a", age=99 * HOUR)], NOW, stale_after=HOUR,
                                groups=listed)
    assert events == []
    assert state["stale_groups"] == [["cn-bj2", "g-1"], ["cn-bj2", "never"]]
    assert state["policies"] == [["cn-bj2", "g-1", "enable"], ["cn-bj2", "never", "disable"]]
    events, _state = poll_events(restore_state(v1, SCOPE), [backup("a", age=99 * HOUR)], NOW, stale_after=HOUR,
                                 groups=listed, announce_existing=True)
    assert kinds(events) == [("group_stale", "never"), ("group_auto_backup_disabled", "never")]


def test_the_groups_first_listing_waits_for_a_poll_where_every_listing_answered():
    state = primed()  # groups not watched yet: their policies are not known
    events, state = poll_events(state, [], NOW, complete=False, stale_after=HOUR, groups=[group("never", auto="disable")])
    assert events == [] and state["policies"] is None
    events, state = poll_events(state, [], NOW, stale_after=HOUR, groups=[group("never", auto="disable")])
    assert events == [] and state["policies"] == [["cn-bj2", "never", "disable"]]
    assert state["stale_groups"] == [["cn-bj2", "never"]]


def test_not_watching_the_groups_forgets_their_policies_and_their_staleness():
    state = primed()
    _events, state = poll_events(state, [], NOW, stale_after=HOUR, groups=[group("never", auto="disable")])
    events, state = poll_events(state, [], NOW, stale_after=HOUR)  # watch_groups switched off
    assert events == [] and state["policies"] is None and state["stale_groups"] == []
    events, state = poll_events(state, [], NOW, stale_after=HOUR, groups=[group("never", auto="disable")])
    assert events == []  # watched again: a first listing of the groups, learnt


def test_group_events_name_the_group_by_its_own_name_else_its_newest_backup():
    state = primed(backup("a", age=99 * HOUR, group="g-1"), stale_after=HOUR)
    _events, state = poll_events(state, [backup("a", age=99 * HOUR, group="g-1")], NOW, stale_after=HOUR, groups=[])
    unnamed = group("g-1", Name=None, GroupName=None, auto="disable")
    events, _state = poll_events(state, [backup("a", age=99 * HOUR, group="g-1")], NOW, stale_after=HOUR,
                                 groups=[unnamed])
    assert [(e["type"], e["group_name"]) for e in events] == [("group_auto_backup_disabled", "name of g-1")]
    named = group("g-1", Name=None, GroupName="own name", auto="disable")
    events, _state = poll_events(state, [backup("a", age=99 * HOUR, group="g-1")], NOW, stale_after=HOUR,
                                 groups=[named])
    assert [(e["type"], e["group_name"], e["group"]) for e in events] == [("group_auto_backup_disabled", "own name", named)]
    assert events[0]["last_success"]["backup_id"] == "a" and events[0]["last_success_age"] == 99 * HOUR


def test_groups_without_an_id_are_ignored_and_a_repeated_group_counts_once():
    state = primed()
    _events, state = poll_events(state, [], NOW, groups=[group("g-1")])
    events, state = poll_events(state, [], NOW, groups=[group(None, auto="disable"), group("g-1", auto="disable"),
                                                        group("g-1")])
    assert kinds(events) == [("group_auto_backup_disabled", "g-1")]
    assert state["policies"] == [["cn-bj2", "g-1", "disable"]]


@pytest.mark.parametrize("policies, message", [
    ([["cn-bj2", "g", None]], "entry 0"),
    ([["cn-bj2", "g", "enable"], ["cn-bj2", "g", "disable"]], "name group 'g' of region 'cn-bj2' twice"),
    ({"cn-bj2": []}, "its policies are not null or a list"),
])
def test_more_damaged_policies_are_refused(policies, message):
    data = json.loads(json.dumps(primed()))
    data["policies"] = policies
    with pytest.raises(ValueError, match=message):
        restore_state(data, SCOPE)


@pytest.mark.parametrize("version, drop", [(1, ["missing"]), (2, []), (2, ["policies", "missing"]), (3, ["missing"]),
                                           (3, ["policies"])])
def test_a_state_of_one_version_with_the_keys_of_another_is_refused(version, drop):
    data = json.loads(json.dumps(primed()))
    data["version"] = version
    for key in drop:
        del data[key]
    with pytest.raises(ValueError, match=r"has the keys .*\(version %d\)" % version):
        restore_state(data, SCOPE)


group_snapshot = st.dictionaries(st.sampled_from(["g-1", "g-2", "g-3"]),
                                 st.sampled_from(["enable", "disable", None, "Enable"]), max_size=3)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(group_snapshot, st.booleans(), st.booleans()), min_size=1, max_size=6))
def test_policy_events_replayed_give_the_groups_switched_off(polls):
    """Over any polls (some with a failed group listing, some restarted from JSON): a group is
    announced off exactly when it is listed off and was not known off, on when it was. A group
    that one complete listing misses is kept as it was; the next complete listing that misses
    it too forgets it (without an event)."""
    state = primed()
    _events, state = poll_events(state, [], NOW, groups=[])  # the groups' first listing: none
    off = set()
    remembered = {}  # group id -> its AutoBackup (listed, or pending removal)
    pending = set()
    for snap, failed, restart in polls:
        if restart:
            state = restore_state(json.loads(json.dumps(state)), SCOPE)
        listed = [group(g, auto=a) for g, a in sorted(snap.items())]
        events, state = poll_events(state, [], NOW, groups=listed, groups_complete=not failed)
        for event in events:
            assert event["type"] in ("group_auto_backup_disabled", "group_auto_backup_enabled")
            if event["type"] == "group_auto_backup_disabled":
                assert event["group_id"] not in off
                off.add(event["group_id"])
            else:
                off.remove(event["group_id"])
        if failed:
            assert events == []
        else:
            forgotten = pending - set(snap)
            pending = set(remembered) - set(snap) - forgotten
            remembered = dict((g, a) for g, a in remembered.items() if g in pending)
            remembered.update((g, "disable" if a == "disable" else "enable") for g, a in snap.items())
            off -= forgotten  # forgotten without an event
            assert off == set(g for g, a in remembered.items() if a == "disable")
        assert state["missing"]["groups"] == [["cn-bj2", g] for g in sorted(pending)]


# --- a removal is confirmed at the next complete poll: one listing that misses backups sets nothing off ---


def test_an_empty_listing_then_the_full_one_announces_nothing_and_forgets_nothing():
    a, b, c = backup("a"), backup("b", state="Error", group="g-2"), backup("c", age=2 * HOUR)
    state = primed(a, b, c, stale_after=26 * HOUR)
    events, blip = poll_events(state, [], NOW, stale_after=26 * HOUR)  # TotalCount 0, once
    assert events == []
    assert blip["backups"] == {"a": a, "b": b, "c": c}  # every backup, with its last facts
    assert blip["missing"] == {"backups": ["a", "b", "c"], "groups": []}
    assert blip["stale_groups"] == state["stale_groups"] == [["cn-bj2", "g-2"]]
    assert restore_state(json.loads(json.dumps(blip)), SCOPE) == blip  # and so does the state file
    events, after = poll_events(blip, [a, b, c], NOW, stale_after=26 * HOUR)
    assert events == []  # no backup_new either
    assert after == dict(state, missing={"backups": [], "groups": []})


def test_a_short_listing_announces_nothing():
    a, b, c = backup("a"), backup("b"), backup("c")
    state = primed(a, b, c)
    events, state = poll_events(state, [b], NOW)  # one row of three
    assert events == [] and state["missing"]["backups"] == ["a", "c"] and set(state["backups"]) == {"a", "b", "c"}
    events, state = poll_events(state, [a, b, c], NOW)
    assert events == [] and state["missing"]["backups"] == []


def test_a_real_removal_is_announced_at_the_second_poll_that_misses_it_and_once():
    a, b = backup("a"), backup("b")
    state = primed(a, b)
    events, state = poll_events(state, [b], NOW)
    assert events == []
    events, state = poll_events(state, [b], NOW)
    assert events == [dict(a, type="backup_removed")]  # its last facts
    assert state["backups"] == {"b": b} and state["missing"]["backups"] == []
    for _poll in range(3):
        events, state = poll_events(state, [b], NOW)
        assert events == []


def test_a_failed_poll_neither_confirms_nor_cancels_a_pending_removal():
    a, b = backup("a"), backup("b", region="hk")
    state = primed(a, b)
    events, state = poll_events(state, [b], NOW)
    assert events == [] and state["missing"]["backups"] == ["a"]
    events, state = poll_events(state, [b], NOW, complete=False)  # cn-bj2's listing failed
    assert events == [] and state["missing"]["backups"] == ["a"] and "a" in state["backups"]
    events, state = poll_events(state, [], NOW, complete=False)  # a failed poll misses b: b is not pending
    assert events == [] and state["missing"]["backups"] == ["a"]
    events, state = poll_events(state, [b], NOW)
    assert kinds(events) == [("backup_removed", "a")]


def test_a_pending_backup_listed_by_a_failed_poll_is_there():
    a, b = backup("a"), backup("b", region="hk")
    state = primed(a, b)
    _events, state = poll_events(state, [b], NOW)
    events, state = poll_events(state, [a], NOW, complete=False)  # hk failed; a is listed again
    assert events == [] and state["missing"]["backups"] == []
    events, state = poll_events(state, [b], NOW)
    assert events == [] and state["missing"]["backups"] == ["a"]  # pending again, not removed


def test_a_pending_backup_listed_again_in_another_state_is_a_state_change_only():
    state = primed(backup("a", state="Backuping"))
    _events, state = poll_events(state, [], NOW)
    events, state = poll_events(state, [backup("a", state="Error")], NOW)
    assert kinds(events) == [("backup_state_changed", "a")] and events[0]["previous_state"] == "Backuping"


def test_a_group_whose_backups_blip_does_not_go_stale():
    """A listed group whose backups one listing misses would have none: stale, but only for that poll."""
    fresh, failed = backup("a", age=HOUR), backup("e", state="Error", age=60)
    listed = [group("g-1"), group("g-2")]
    state = primed(fresh, failed, backup("old", group="g-2", age=99 * HOUR), stale_after=26 * HOUR)
    _events, state = poll_events(state, [fresh, failed, backup("old", group="g-2", age=99 * HOUR)], NOW,
                                 stale_after=26 * HOUR, groups=listed)
    assert state["stale_groups"] == [["cn-bj2", "g-2"]]
    for blip in ([], [failed]):  # an empty listing; a short one, that leaves g-1 only a failed backup
        events, after = poll_events(state, blip, NOW, stale_after=26 * HOUR, groups=listed)
        assert events == [] and after["stale_groups"] == [["cn-bj2", "g-2"]]  # g-1 not stale, g-2 still stale
        events, after = poll_events(after, [fresh, failed, backup("old", group="g-2", age=99 * HOUR)], NOW,
                                    stale_after=26 * HOUR, groups=listed)
        assert events == [] and after == state
    # Without the group listing too: g-1 known by its backups only.
    state = primed(fresh, failed, stale_after=26 * HOUR)
    events, after = poll_events(state, [failed], NOW, stale_after=26 * HOUR)
    assert events == [] and after["stale_groups"] == []
    # Gone for good: the next poll confirms it, and g-1 (a failed backup only) is stale then.
    events, after = poll_events(after, [failed], NOW, stale_after=26 * HOUR)
    assert kinds(events) == [("backup_removed", "a"), ("group_stale", "g-1")]


def test_a_group_that_blips_out_of_the_group_listing_is_not_news_when_it_comes_back():
    off, young = group("g-1", auto="disable"), group("g-2", age=HOUR)
    old = group("g-3")  # no backup, old: stale
    state = primed()
    _events, state = poll_events(state, [], NOW, stale_after=2 * HOUR, groups=[off, young, old])
    assert state["stale_groups"] == [["cn-bj2", "g-1"], ["cn-bj2", "g-3"]]
    events, blip = poll_events(state, [], NOW, stale_after=2 * HOUR, groups=[])  # an empty group listing
    assert events == []
    assert blip["policies"] == state["policies"] and blip["stale_groups"] == state["stale_groups"]
    assert blip["missing"]["groups"] == [["cn-bj2", "g-1"], ["cn-bj2", "g-2"], ["cn-bj2", "g-3"]]
    assert restore_state(json.loads(json.dumps(blip)), SCOPE) == blip
    events, after = poll_events(blip, [], NOW, stale_after=2 * HOUR, groups=[off, young, old])
    assert events == []  # no group_auto_backup_disabled again, no group_stale again
    assert after == dict(state, missing={"backups": [], "groups": []})


def test_a_group_blip_with_a_failed_listing_between_keeps_it_pending_and_two_misses_forget_it():
    off = group("g-1", auto="disable")
    state = primed()
    _events, state = poll_events(state, [], NOW, groups=[off, group("g-2")])
    _events, state = poll_events(state, [], NOW, groups=[group("g-2")])
    events, state = poll_events(state, [], NOW, groups=[], groups_complete=False)
    assert events == [] and state["missing"]["groups"] == [["cn-bj2", "g-1"]]
    _events, state = poll_events(state, [], NOW, groups=[group("g-2")])
    assert state["policies"] == [["cn-bj2", "g-2", "enable"]] and state["missing"]["groups"] == []
    events, state = poll_events(state, [], NOW, groups=[off, group("g-2")])
    assert kinds(events) == [("group_auto_backup_disabled", "g-1")]  # forgotten: news again, as before


def test_not_watching_the_groups_forgets_those_pending_removal():
    state = primed()
    _events, state = poll_events(state, [], NOW, groups=[group("g-1")])
    _events, state = poll_events(state, [], NOW, groups=[])
    assert state["missing"]["groups"] == [["cn-bj2", "g-1"]]
    _events, state = poll_events(state, [], NOW)
    assert state["missing"]["groups"] == [] and state["policies"] is None


def test_the_missing_report_says_what_one_poll_missed_and_what_came_back():
    everything = [backup("a"), backup("b"), backup("c"), backup("h", region="hk")]
    _events, state = poll_events(primed(*everything), everything, NOW, groups=[group("g-1"), group("g-2")])
    _events, blip = poll_events(state, [backup("h", region="hk")], NOW, groups=[group("g-2")])
    assert missing_report(state, blip) == [
        "3 backups of the 4 remembered are missing from this poll's listing (cn-bj2); they are announced as "
        "backup_removed only if still missing at the next poll: a, b, c",
        "1 Redis group of the 2 remembered is missing from this poll's group listing (cn-bj2); it is forgotten "
        "only if still missing at the next poll: g-1",
    ]
    _events, back = poll_events(blip, [backup("a"), backup("b"), backup("h", region="hk")], NOW,
                                groups=[group("g-1"), group("g-2")])
    assert missing_report(blip, back) == [
        "2 backups missing from the previous poll's listing are listed again (cn-bj2): that listing had missed "
        "them, and no backup_removed is sent: a, b",
        "1 Redis group missing from the previous poll's group listing is listed again (cn-bj2): that listing "
        "had missed it: g-1",
    ]
    _events, gone = poll_events(back, [backup("a"), backup("b"), backup("h", region="hk")], NOW,
                                groups=[group("g-1"), group("g-2")])
    assert missing_report(back, gone) == []  # c's removal is an event, not a warning
    assert missing_report(gone, gone) == []


def test_the_missing_report_names_at_most_ten():
    state = primed(*[backup("b%02d" % n) for n in range(12)])
    _events, blip = poll_events(state, [], NOW)
    [warning] = missing_report(state, blip)
    assert warning.startswith("12 backups of the 12 remembered are missing")
    assert warning.endswith(": b00, b01, b02, b03, b04, b05, b06, b07, b08, b09 and 2 more")


def test_a_version_2_state_is_migrated_with_nothing_pending():
    state = primed(backup("a"), backup("b"))
    _events, state = poll_events(state, [backup("a"), backup("b")], NOW, groups=[group("g-1")])
    v2 = json.loads(json.dumps(state))
    del v2["missing"]
    v2["version"] = 2
    restored = restore_state(v2, SCOPE)
    assert restored == dict(state, missing={"backups": [], "groups": []}) and restored["version"] == 3
    events, after = poll_events(restored, [backup("b")], NOW, groups=[group("g-1")])
    assert events == [] and after["missing"]["backups"] == ["a"]  # a first miss: pending, as with a version 3 state


def missing_set(*path_and_value):
    return setter("missing", *path_and_value)


@pytest.mark.parametrize("change, message", [
    (setter("missing", None), "its missing is not a mapping of backups"),
    (setter("missing", []), "its missing is not a mapping of backups"),
    (setter("missing", {"backups": []}), "its missing is not a mapping of backups"),
    (setter("missing", {"backups": [], "groups": [], "x": 1}), "its missing is not a mapping"),
    (missing_set("backups", "a"), "its missing backups are not a list of backup ids"),
    (missing_set("backups", {"a": 1}), "its missing backups are not a list of backup ids"),
    (missing_set("backups", None), "its missing backups are not a list"),
    (missing_set("backups", [1]), r"its missing backups are not a list of backup ids \(entry 0 is 1\)"),
    (missing_set("backups", ["a", None]), r"\(entry 1 is None\)"),
    (missing_set("backups", [["a"]]), r"\(entry 0 is \['a'\]\)"),
    (missing_set("backups", ["zz"]), "its missing backups name 'zz', which is not one of its backups"),
    (missing_set("backups", ["a", "a"]), "its missing backups name 'a' twice"),
    (missing_set("groups", {}), r"its missing groups are not a list of \[region, group_id\] pairs"),
    (missing_set("groups", [["cn-bj2"]]), r"\(entry 0 is \['cn-bj2'\]\)"),
    (missing_set("groups", [["cn-bj2", 1]]), "entry 0"),
    (missing_set("groups", ["cn-bj2/g-1"]), "entry 0 is 'cn-bj2/g-1'"),
    (missing_set("groups", [["cn-bj2", "g-9"]]), "its missing groups name group 'g-9' of region 'cn-bj2', which is not"),
    (missing_set("groups", [["cn-bj2", "g-1"], ["cn-bj2", "g-1"]]), "name group 'g-1' of region 'cn-bj2' twice"),
])
def test_a_damaged_missing_is_refused(change, message):
    data = json.loads(json.dumps(primed(backup("a"), backup("b"))))
    data["policies"] = [["cn-bj2", "g-1", "enable"]]
    assert restore_state(json.loads(json.dumps(data)), SCOPE) == data  # sound before the change
    change(data)
    with pytest.raises(ValueError, match=message) as caught:
        restore_state(data, SCOPE)
    assert not isinstance(caught.value, OtherScope)


def test_a_pending_group_needs_known_policies():
    data = json.loads(json.dumps(primed()))
    data["missing"]["groups"] = [["cn-bj2", "g-1"]]  # policies null: no group is known
    with pytest.raises(ValueError, match="which is not one of its policies"):
        restore_state(data, SCOPE)
