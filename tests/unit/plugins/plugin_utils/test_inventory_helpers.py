# -*- coding: utf-8 -*-
# Copyright: sigcalcloud.cloud contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Pure helpers of the inventory plugin: listings, merging, Redis-group hosts, names."""

from __future__ import annotations

from ansible_collections.sigcalcloud.cloud.plugins.module_utils._backups import Query, shape_row
from ansible_collections.sigcalcloud.cloud.plugins.module_utils import _listings
from ansible_collections.sigcalcloud.cloud.plugins.plugin_utils import _inventory


def backup(bid, group, time, state="Success", region="r1", project=None):
    return shape_row({"BackupId": bid, "GroupId": group, "BackupTime": time, "State": state,
                      "GroupName": "name-" + group, "Zone": "z1"}, Query(region, project))


class _TaggedText(str):
    """What an option read from an inventory file is: a str subclass (tagged on 2.19 and later)."""


def test_queries_hold_plain_strings_not_the_options_own_kind_of_str():
    backups = _listings.build_queries([_TaggedText("cn-bj2")], [_TaggedText("org-1")], [_TaggedText("normal")],
                                      [_TaggedText("uredis-1")])
    groups = _listings.group_queries([_TaggedText("cn-bj2")], [_TaggedText("org-1")], [_TaggedText("uredis-1")])
    for query in backups + groups:
        for value in query:
            assert value is None or type(value) is str, (query, type(value))  # pylint: disable=unidiomatic-typecheck
    assert backups[0] == Query("cn-bj2", "org-1", "normal", "uredis-1")
    # The region of every fact comes from the query: a plain string there too.
    facts = shape_row({"BackupId": "b1"}, backups[0])
    assert type(facts["region"]) is str and type(facts["project_id"]) is str  # pylint: disable=unidiomatic-typecheck


def test_build_queries_is_the_product_of_the_lists():
    queries = _listings.build_queries(["r1", "r2"], [], ["normal", "source"], ["g1"])
    assert len(queries) == 4
    assert Query("r2", None, "source", "g1") in queries
    assert _listings.build_queries(["r1"], ["p1", "p2"], ["normal"], []) == [
        Query("r1", "p1", "normal"), Query("r1", "p2", "normal")]


def test_merge_listings_keeps_one_copy_of_a_cross_region_backup_in_query_order():
    source, target = Query("r1", region_type="source"), Query("r2", region_type="target")
    results = {source: [backup("x", "g", 5, region="r1")], target: [backup("x", "g", 5, region="r2"),
                                                                    backup("y", "g", 4, region="r2")]}
    merged = _listings.merge_listings([source, target], results)
    assert [(b["backup_id"], b["region"]) for b in merged] == [("x", "r1"), ("y", "r2")]


def test_redis_groups_latest_and_latest_successful():
    backups = [backup("a", "g1", 30, "Error"), backup("b", "g1", 20), backup("c", "g1", 10),
               backup("d", "g2", 15, "Backuping"), backup("e", "g2", 5, "Expired")]
    groups = dict((g["group_id"], g) for g in _inventory.redis_groups(backups))
    assert [b["backup_id"] for b in groups["g1"]["uredis_backups"]] == ["a", "b", "c"]
    assert groups["g1"]["uredis_latest_backup"]["backup_id"] == "a"
    assert groups["g1"]["uredis_latest_successful_backup"]["backup_id"] == "b"
    assert groups["g2"]["uredis_latest_successful_backup"] is None
    assert groups["g2"]["group_name"] == "name-g2" and groups["g2"]["region"] == "r1"


def test_same_group_id_in_two_regions_is_two_hosts():
    groups = _inventory.redis_groups([backup("a", "g1", 1, region="r1"), backup("b", "g1", 1, region="r2")])
    assert len(groups) == 2


def test_usable_name_and_description():
    assert _inventory.usable_name("  ") is None
    assert _inventory.usable_name(None) is None
    assert _inventory.usable_name(False) is None
    assert _inventory.usable_name(12) == "12"
    assert "backup a ('n') of group g in region r1" == _inventory.describe_host(
        dict(backup("a", "g", 1), backup_name="n"))
    assert _inventory.describe_host(_inventory.redis_groups([backup("a", "g", 1)])[0]) == "Redis group g in region r1"


def test_a_name_with_control_or_bidi_characters_is_not_usable():
    for name in ("db1\x1b[2J", "evil\r\nok: [web1]", "tab\there", "rtl\u202eexe.txt", "zero\u200bwidth", "\x00"):
        assert _inventory.usable_name(name) is None, repr(name)
    assert _inventory.usable_name("  db1.example.com ") == "db1.example.com"
    assert _inventory.usable_name("名前-ü") == "名前-ü"  # other text is fine


def test_describe_host_escapes_what_the_server_sent():
    facts = dict(backup("id\x1b[31m", "g\u202e1", 1), backup_name="n\x07")
    text = _inventory.describe_host(facts)
    assert text == "backup id\\x1b[31m ('n\\x07') of group g\\u202e1 in region r1"
    group = _inventory.redis_groups([backup("a", "g\x1b]0;x\x07", 1)])[0]
    assert _inventory.describe_host(group) == "Redis group g\\x1b]0;x\\x07 in region r1"


def test_taken_by_names_hosts_of_earlier_sources_and_localhost():
    existing = frozenset(["web1", "db1"])
    assert _inventory.taken_by("web1", existing) == "a host another inventory source already added"
    for name in ("localhost", "127.0.0.1", "::1"):
        assert _inventory.taken_by(name, existing) == "the name of the controller's implicit localhost"
    assert _inventory.taken_by("localhost", frozenset(["localhost"])) == "a host another inventory source already added"
    assert _inventory.taken_by("web2", existing) is None


def group(group_id, region="r1", **fields):
    from ansible_collections.sigcalcloud.cloud.plugins.module_utils import _groups
    row = dict({"GroupId": group_id, "Name": "name-" + group_id, "AutoBackup": "enable", "State": "Running"}, **fields)
    return _groups.shape_group(row, _groups.Query(region))


def test_a_listed_group_without_backups_is_an_entry():
    entries = _inventory.redis_groups([], [group("g0", AutoBackup="disable")])
    (entry,) = entries
    assert entry["group_id"] == "g0" and entry["group_name"] == "name-g0"
    assert entry["uredis_backups"] == [] and entry["uredis_latest_backup"] is None
    assert entry["uredis_latest_successful_backup"] is None
    assert entry["auto_backup"] == "disable" and entry["state"] == "Running" and entry["uredis_group_listed"] is True


def test_listed_groups_and_groups_known_only_by_backups_have_the_same_facts():
    entries = _inventory.redis_groups([backup("a", "g1", 3), backup("b", "gone", 2)], [group("g1", Zone="z9")])
    by_id = dict((e["group_id"], e) for e in entries)
    assert set(by_id) == {"g1", "gone"}
    assert set(by_id["g1"]) == set(by_id["gone"]) == set(_inventory.GROUP_HOST_FACTS)
    assert by_id["g1"]["zone"] == "z9" and by_id["g1"]["uredis_group_listed"] is True
    assert by_id["gone"]["zone"] == "z1" and by_id["gone"]["state"] is None
    assert by_id["gone"]["uredis_group_listed"] is False
    assert [b["backup_id"] for b in by_id["g1"]["uredis_backups"]] == ["a"]


def test_no_host_fact_has_a_name_ansible_reserves():
    # A host variable named like a play keyword (name, port, ...) draws a warning on every run.
    from ansible.vars.reserved import get_reserved_names
    from ansible_collections.sigcalcloud.cloud.plugins.module_utils._backups import FACT_NAMES
    assert not set(_inventory.GROUP_HOST_FACTS) & get_reserved_names()
    assert not set(FACT_NAMES) & get_reserved_names()
    entry = _inventory.redis_groups([], [group("g0", Port=6379)])[0]
    assert entry["redis_port"] == 6379 and "name" not in entry and entry["group_name"] == "name-g0"
