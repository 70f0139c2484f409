# -*- coding: utf-8 -*-
# Copyright: sigcalcloud.cloud contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The sigcalcloud.cloud.uredis_backup inventory plugin through real ansible-inventory
and ansible-playbook runs against the emulator."""

from __future__ import annotations

import json
import os
import textwrap

import pytest
from ansible.plugins.inventory import to_safe_group_name

from emulator.server import OTHER_PRIVATE_KEY, OTHER_PUBLIC_KEY, generate_dataset
from helpers import (
    REGIONS,
    by_core,
    credentials_env,
    expected_backups,
    group_hosts,
    groups_of,
    hostvars,
    inventory_file,
    inventory_list,
    plain,
    warnings,
)


def named_dataset(*names, seed=5):
    """One region, cn-bj2, whose demo backups are named ``names`` (in the data set's order)."""
    data = generate_dataset(["cn-bj2"], len(names), seed=seed)
    rows = [r for r in data["backups"] if r["ProjectId"] == "org-demo"]
    for row, name in zip(rows, names):
        row["BackupName"] = name
    return data, rows


def test_every_backup_of_every_region_becomes_a_host_with_exact_facts(run_ansible, emulator, tmp_path):
    path = inventory_file(tmp_path, """
        regions: [cn-bj2, cn-sh2, hk]
    """)
    result = inventory_list(run_ansible, emulator, path)
    assert result.rc == 0, result
    listing = result.json()
    expected = {}
    for region in REGIONS:
        for facts in expected_backups(emulator.data, region):
            expected[facts["backup_id"]] = facts  # no ansible_connection by default
    assert hostvars(listing) == expected
    assert group_hosts(listing, "uredis_backups") == sorted(expected)
    assert "WARNING" not in result.stderr


def test_keyed_groups_compose_and_groups(run_ansible, emulator, tmp_path):
    path = inventory_file(tmp_path, """
        regions: [cn-bj2]
        keyed_groups:
          - key: state
            prefix: uredis_state
          - key: region
            prefix: uredis_region
          - key: zone
            prefix: uredis_zone
            default_value: unknown
        groups:
          big_backups: backup_size > 1000000
        compose:
          size_mb: (backup_size / 1048576) | round(1)
          ansible_connection: "'ssh'"
    """)
    result = inventory_list(run_ansible, emulator, path)
    assert result.rc == 0, result
    listing = result.json()
    expected = expected_backups(emulator.data, "cn-bj2")
    for state in ("Success", "Error", "Expired", "Backuping"):
        assert group_hosts(listing, "uredis_state_%s" % state) == sorted(
            b["backup_id"] for b in expected if b["state"] == state), state
    assert group_hosts(listing, "uredis_region_cn_bj2") == sorted(b["backup_id"] for b in expected)
    without_zone = sorted(b["backup_id"] for b in expected if not b["zone"])
    assert without_zone, "the demo data set has backups without Zone"
    # default_value stands for an empty key; since ansible-core 2.19 also for a null one (zone: null).
    assert group_hosts(listing, "uredis_zone_unknown") == by_core([], without_zone)
    assert not any(set(without_zone) & set(group_hosts(listing, name)) for name in listing if name.startswith("uredis_zone_")
                   and name != "uredis_zone_unknown")
    assert group_hosts(listing, "big_backups") == sorted(
        b["backup_id"] for b in expected if (b["backup_size"] or 0) > 1000000)
    one = expected[0]
    size_mb = round(one["backup_size"] / 1048576.0, 1)
    # Before ansible-core 2.19, templates give text unless it reads as a list, mapping or boolean.
    assert hostvars(listing)[one["backup_id"]]["size_mb"] == by_core(str(size_mb), size_mb)
    assert hostvars(listing)[one["backup_id"]]["ansible_connection"] == "ssh"  # compose overrides


def listed_group_ids(emu, region, project="org-demo"):
    return sorted(g["GroupId"] for g in emu.groups() if g["Region"] == region and g["ProjectId"] == project)


def test_redis_group_hosts_answer_is_my_latest_backup_good(run_ansible, emulator, tmp_path):
    path = inventory_file(tmp_path, """
        regions: [cn-bj2]
        hosts_from: redis_group
        groups:
          latest_failed: uredis_latest_backup is not none and uredis_latest_backup.state != 'Success'
          never_backed_up: uredis_backups | length == 0
          auto_backup_off: auto_backup == 'disable'
    """)
    result = inventory_list(run_ansible, emulator, path)
    assert result.rc == 0, result
    listing = result.json()
    expected = expected_backups(emulator.data, "cn-bj2")
    backed_up = sorted(set(b["group_id"] for b in expected))
    group_ids = listed_group_ids(emulator, "cn-bj2")
    # Every group is a host: those with backups, and those the group listing alone knows.
    assert set(backed_up) < set(group_ids)
    assert group_hosts(listing, "uredis_groups") == group_ids
    for group_id in backed_up:
        members = [b for b in expected if b["group_id"] == group_id]
        facts = hostvars(listing)[group_id]
        assert facts["uredis_backups"] == members
        assert facts["uredis_latest_backup"] == members[0]
        good = [b for b in members if b["state"] == "Success"]
        assert facts["uredis_latest_successful_backup"] == (good[0] if good else None)
        assert facts["group_name"] == members[0]["group_name"]
        assert facts["uredis_group_listed"] is True and facts["state"] == "Running"
    assert group_hosts(listing, "latest_failed") == sorted(
        g for g in backed_up if [b for b in expected if b["group_id"] == g][0]["state"] != "Success")
    assert group_hosts(listing, "never_backed_up") == sorted(set(group_ids) - set(backed_up))
    rows = dict((g["GroupId"], g) for g in emulator.groups())
    assert group_hosts(listing, "auto_backup_off") == sorted(g for g in group_ids if rows[g]["AutoBackup"] == "disable")
    lonely = hostvars(listing)["uredis-cnbj2-91"]
    assert lonely["uredis_backups"] == [] and lonely["uredis_latest_backup"] is None
    assert lonely["uredis_latest_successful_backup"] is None
    assert lonely["auto_backup"] == "disable" and lonely["backup_time"] == rows["uredis-cnbj2-91"]["BackupTime"]
    assert lonely["create_time"] == rows["uredis-cnbj2-91"]["CreateTime"] and lonely["group_name"] == rows["uredis-cnbj2-91"]["Name"]
    assert "name" not in lonely and "port" not in lonely and lonely["redis_port"] == rows["uredis-cnbj2-91"]["Port"]
    assert "reserved name" not in result.output


def test_a_group_only_backups_name_is_a_host_with_the_groups_facts_null(run_ansible, start_emulator, tmp_path):
    data = generate_dataset(["cn-bj2"], 10, seed=2)
    gone = next(b for b in data["backups"] if b["ProjectId"] == "org-demo")
    data["groups"] = [g for g in data["groups"] if g["GroupId"] != gone["GroupId"]]  # a deleted group
    emu = start_emulator(data=data)
    path = inventory_file(tmp_path, """
        regions: [cn-bj2]
        hosts_from: redis_group
    """)
    result = inventory_list(run_ansible, emu, path)
    assert result.rc == 0, result
    facts = hostvars(result.json())[gone["GroupId"]]
    assert facts["uredis_group_listed"] is False and facts["state"] is None and facts["auto_backup"] is None
    assert facts["group_name"] == gone["GroupName"] and len(facts["uredis_backups"]) >= 1


def test_group_ids_limit_the_group_listing_too(run_ansible, emulator, tmp_path):
    path = inventory_file(tmp_path, """
        regions: [cn-bj2]
        hosts_from: redis_group
        group_ids: [uredis-cnbj2-90, uredis-cnbj2-00]
    """)
    result = inventory_list(run_ansible, emulator, path)
    assert result.rc == 0, result
    assert group_hosts(result.json(), "uredis_groups") == ["uredis-cnbj2-00", "uredis-cnbj2-90"]


def test_a_failed_group_listing_fails_the_inventory_or_is_skipped_with_a_warning(run_ansible, start_emulator, tmp_path):
    from emulator.server import FaultPlan
    # Request 1 is the backup listing (one page), request 2 the group listing: it fails for good.
    emu = start_emulator(faults=FaultPlan(schedule=dict((n, "control_message") for n in range(2, 8))))
    path = inventory_file(tmp_path, """
        regions: [cn-bj2]
        hosts_from: redis_group
    """)
    result = inventory_list(run_ansible, emu, path, {"ANSIBLE_INVENTORY_UNPARSED_FAILED": "1"})
    assert result.rc != 0
    # the server's control text is shown escaped, never raw
    assert "DescribeURedisGroup" in result.output and "\\x1b[2J" in result.output and "\x1b" not in result.output
    emu.reset_stats()
    path = inventory_file(tmp_path, """
        regions: [cn-bj2]
        hosts_from: redis_group
        fail_on_errors: false
    """)
    result = inventory_list(run_ansible, emu, path)
    assert result.rc == 0, result
    assert "skipped the Redis groups of region cn-bj2" in warnings(result)


def test_filters_states_hostnames_prefix(run_ansible, emulator, tmp_path):
    path = inventory_file(tmp_path, """
        regions: [cn-bj2]
        states: [Success, Error]
        backup_types: [Auto]
        filters:
          - exclude: state == 'Error' and backup_size < 1000
          - include: true
        hostnames:
          - "{{ group_id }}-{{ backup_id }}"
        hostvars_prefix: sc_
        hostvars_suffix: _x
    """)
    result = inventory_list(run_ansible, emulator, path)
    assert result.rc == 0, result
    listing = result.json()
    wanted = [b for b in expected_backups(emulator.data, "cn-bj2")
              if b["state"] in ("Success", "Error") and b["backup_type"] == "Auto"
              and not (b["state"] == "Error" and (b["backup_size"] or 0) < 1000)]
    assert sorted(hostvars(listing)) == sorted("%s-%s" % (b["group_id"], b["backup_id"]) for b in wanted)
    some = hostvars(listing)["%s-%s" % (wanted[0]["group_id"], wanted[0]["backup_id"])]
    assert some["sc_state_x"] == wanted[0]["state"] and "state" not in some
    assert "ansible_connection" not in some


def test_duplicate_and_missing_names_warn_and_name_the_backups(run_ansible, emulator, tmp_path):
    path = inventory_file(tmp_path, """
        regions: [cn-bj2]
        hostnames: [group_id]
    """)
    result = inventory_list(run_ansible, emulator, path)
    assert result.rc == 0, result
    expected = expected_backups(emulator.data, "cn-bj2")
    groups = sorted(set(b["group_id"] for b in expected))
    assert sorted(hostvars(result.json())) == groups
    assert result.stderr.count("both get the host name") == len(expected) - len(groups)
    assert "the second is left out" in result.stderr

    path = inventory_file(tmp_path, """
        regions: [cn-bj2]
        hostnames: [redis_version]
    """)
    result = inventory_list(run_ansible, emulator, path)
    without = [b for b in expected if not b["redis_version"]]
    assert without, "the demo data set has backups without RedisVersion"
    assert "has no usable name from hostnames ['redis_version']" in result.stderr
    assert "backup %s" % without[0]["backup_id"] in " ".join(result.stderr.split())


def test_jinja_in_api_data_is_never_templated(run_ansible, start_emulator, tmp_path):
    marker = tmp_path / "templated"
    data = generate_dataset(["cn-bj2"], 5, seed=4)
    data["backups"][0]["BackupName"] = "{{ lookup('pipe', 'touch %s') }}" % marker
    data["backups"][0]["GroupName"] = "{{ 7 * 7 }}"
    emu = start_emulator(data=data)
    path = inventory_file(tmp_path, """
        regions: [cn-bj2]
        hostnames: [backup_id]
        compose:
          label: backup_name ~ '/' ~ group_name
        keyed_groups:
          - key: group_name
            prefix: g
    """)
    play = tmp_path / "play.yml"
    play.write_text(textwrap.dedent("""
        - hosts: uredis_backups
          connection: local
          gather_facts: false
          tasks:
            - ansible.builtin.debug:
                msg: "{{ backup_name }} {{ label }}"
    """))
    result = run_ansible("ansible-playbook", "-i", path, play, env=credentials_env(emu))
    assert result.rc == 0, result
    assert not marker.exists()
    assert "{{ 7 * 7 }}" in result.stdout
    listing = inventory_list(run_ansible, emu, path).json()
    row_id = data["backups"][0]["BackupId"]
    # Exported as unsafe, so nothing downstream (AWX, a script) templates it either.
    assert listing["_meta"]["hostvars"][row_id]["backup_name"] == {"__ansible_unsafe": data["backups"][0]["BackupName"]}
    assert not marker.exists()


# --- untrusted text: a template from the API is data on every ansible-core ----------------
# ansible-core 2.19 and later template only trusted strings; before 2.19 the plugin marks
# every string from the API unsafe (plugins/plugin_utils/_unsafe.py). Either way nothing
# the API sends runs, and it is shown exactly as sent.


SHOW_FACTS = """
    - hosts: {hosts}
      connection: local
      gather_facts: false
      tasks:
        - ansible.builtin.debug:
            var: backup_name
        - ansible.builtin.debug:
            msg: "{{{{ backup_name }}}}"
        - ansible.builtin.debug:
            msg: "{{{{ inventory_hostname }}}} | {{{{ label }}}} | {{{{ group_names | join(',') }}}}"
"""


@pytest.mark.parametrize("hostname, named", [
    ("backup_name", "{name}"),                           # a fact
    ("backup_name ~ '@' ~ backup_id", "{name}@{id}"),    # an expression
    ("'{{ backup_name }}'", "{name}"),                   # a template
])
def test_a_template_from_the_api_runs_nowhere_and_is_shown_as_sent(run_ansible, start_emulator, tmp_path, hostname, named):
    marker = tmp_path / "templated"
    template = "{{ lookup('pipe', 'touch %s') }}" % marker
    data = generate_dataset(["cn-bj2"], 5, seed=4)
    [row] = [r for r in data["backups"] if r["ProjectId"] == "org-demo"][:1]
    row.update(BackupName=template, GroupName="{{ 7 * 7 }}")
    emu = start_emulator(data=data)
    path = inventory_file(tmp_path, """
        regions: [cn-bj2]
        hostnames: [{hostname}, backup_id]
        filters:
          - exclude: backup_name == 'none of them'
        compose:
          label: backup_name ~ ' in ' ~ group_name
        keyed_groups:
          - key: backup_name
            prefix: b
        groups:
          odd_names: "'lookup' in backup_name"
    """.format(hostname=hostname))
    name = named.format(name=template, id=row["BackupId"])

    listing = plain(inventory_list(run_ansible, emu, path).json())
    assert not marker.exists()
    facts = listing["_meta"]["hostvars"][name]
    assert facts["backup_name"] == template and facts["group_name"] == "{{ 7 * 7 }}"
    assert facts["label"] == template + " in {{ 7 * 7 }}"
    assert listing["odd_names"]["hosts"] == [name]
    [keyed] = [g for g in listing if g.startswith("b_") and name in listing[g].get("hosts", [])]
    assert "{" not in keyed  # the constructed options make group names safe

    play = tmp_path / "play.yml"
    play.write_text(textwrap.dedent(SHOW_FACTS.format(hosts="odd_names")))
    result = run_ansible("ansible-playbook", "-i", path, play, env=credentials_env(emu))
    assert result.rc == 0, result
    assert not marker.exists()
    assert '"backup_name": "%s"' % template in result.stdout
    assert '"msg": "%s"' % template in result.stdout
    assert '"msg": "%s | %s in {{ 7 * 7 }} | %s,odd_names,uredis_backups"' % (name, template, keyed) in result.stdout
    assert "ok=3" in result.stdout


@pytest.mark.parametrize("hosts_from", ["backup", "redis_group"])
def test_group_names_from_the_api_make_safe_groups_and_run_nothing(run_ansible, start_emulator, tmp_path, hosts_from):
    marker = tmp_path / "templated"
    data = generate_dataset(["cn-bj2"], 6, seed=4)
    rows = [r for r in data["backups"] if r["ProjectId"] == "org-demo"]
    template = "{{ lookup('pipe', 'touch %s') }}" % marker
    awkward = "db/../x y.z-é\x1b[31m\u202e{%"  # characters no group name may have, a control and a bidi one
    rows[0].update(GroupId="uredis-evil-1", GroupName=template)
    rows[1].update(GroupId="uredis-evil-2", GroupName=awkward)
    emu = start_emulator(data=data)
    path = inventory_file(tmp_path, """
        regions: [cn-bj2]
        hosts_from: {hosts_from}
        hostnames: [group_name, group_id]
        compose:
          label: group_name
        keyed_groups:
          - key: group_name
            prefix: g
          - key: "{{'name': group_name}}"
            prefix: m
    """.format(hosts_from=hosts_from))
    result = inventory_list(run_ansible, emu, path)
    assert result.rc == 0, result
    assert not marker.exists()
    listing = plain(result.json())
    # A template is a usable host name: it is data. A name with control characters is not: the next entry.
    for host, group_name in ((template, template), ("uredis-evil-2", awkward)):
        facts = listing["_meta"]["hostvars"][host]
        assert facts["group_name"] == group_name and facts["label"] == group_name
        assert groups_of(listing, host) == sorted([
            to_safe_group_name("g_" + group_name), to_safe_group_name("m_name_" + group_name),
            "uredis_backups" if hosts_from == "backup" else "uredis_groups"])
    for group in listing:
        assert group.isprintable() and "{" not in group, group

    play = tmp_path / "play.yml"
    play.write_text(textwrap.dedent("""
        - hosts: all
          connection: local
          gather_facts: false
          tasks:
            - ansible.builtin.debug:
                msg: "{{ inventory_hostname }} | {{ group_name }} | {{ group_names | join(',') }}"
            - ansible.builtin.debug:
                var: groups
    """))
    result = run_ansible("ansible-playbook", "-i", path, play, env=credentials_env(emu))
    assert result.rc == 0, result
    assert not marker.exists()
    assert '"msg": "%s | %s | %s"' % (template, template, ",".join(groups_of(listing, template))) in result.stdout


def test_cache_hit_needs_no_api_and_keeps_groups(run_ansible, start_emulator, tmp_path):
    emu = start_emulator()
    cache_dir = tmp_path / "cache"
    path = inventory_file(tmp_path, """
        regions: [cn-bj2, hk]
        cache: true
        cache_plugin: ansible.builtin.jsonfile
        cache_connection: {cache}
        cache_timeout: 3600
        keyed_groups:
          - key: state
            prefix: uredis_state
    """.format(cache=cache_dir))
    first = inventory_list(run_ansible, emu, path)
    assert first.rc == 0, first
    requests_before = emu.stats()["api_requests"]
    assert requests_before > 0
    secret = emu.data["accounts"][0]["private_key"]
    public = emu.data["accounts"][0]["public_key"]
    cached = "".join(p.read_text() for p in cache_dir.iterdir())
    assert secret not in cached and public not in cached
    assert not any(secret in p.name or public in p.name for p in cache_dir.iterdir())
    # The rows are plain data: no region or project carries the inventory file's tags (its
    # origin, trust as a template), which on 2.19 and later made a cache hit slow to decode.
    assert "__ansible_type" not in cached and "TrustedAsTemplate" not in cached

    emu.stop()  # a cache hit must not need the API at all, nor the private key (the public key names the account)
    second = inventory_list(run_ansible, emu, path, {"SIGCALCLOUD_PRIVATE_KEY": ""})
    assert second.rc == 0, second
    assert plain(second.json()) == plain(first.json())
    assert group_hosts(second.json(), "uredis_state_Error")  # groups are rebuilt on a hit

    third = run_ansible(*flush_cache_command(run_ansible, path), env=dict(credentials_env(emu), ANSIBLE_INVENTORY_UNPARSED_FAILED="1"))
    assert third.rc != 0 and "could not reach" in third.stderr  # --flush-cache goes to the API


def flush_cache_command(run_ansible, path):
    """A run that parses the inventory with --flush-cache: ansible-inventory has the option since
    ansible-core 2.19; before, ansible-playbook (a play with no task) does the same."""
    if "--flush-cache" in run_ansible("ansible-inventory", "--help").stdout:
        return ["ansible-inventory", "-i", path, "--list", "--flush-cache"]
    play = path.parent / "nothing.yml"
    play.write_text("- hosts: all\n  gather_facts: false\n  tasks: []\n")
    return ["ansible-playbook", "-i", path, "--flush-cache", play]


def test_failing_region_fails_or_warns(run_ansible, start_emulator, tmp_path):
    emu = start_emulator(fail_regions={"hk": "500"})
    path = inventory_file(tmp_path, """
        regions: [cn-bj2, hk]
        max_retries: 1
    """)
    # Ansible itself turns a failed inventory source into a warning unless told otherwise;
    # AWX and careful CI set unparsed_is_failed, and then the run fails.
    result = inventory_list(run_ansible, emu, path, {"ANSIBLE_INVENTORY_UNPARSED_FAILED": "1"})
    assert result.rc != 0
    assert "region hk" in result.stderr and "HTTP 500" in result.stderr
    result = inventory_list(run_ansible, emu, path)
    assert "region hk" in result.stderr and "HTTP 500" in result.stderr
    assert hostvars(result.json()) == {}  # never a silently partial inventory

    path = inventory_file(tmp_path, """
        regions: [cn-bj2, hk]
        max_retries: 1
        fail_on_errors: false
    """)
    result = inventory_list(run_ansible, emu, path)
    assert result.rc == 0, result
    assert "skipped region hk" in result.stderr and "HTTP 500" in result.stderr
    assert sorted(hostvars(result.json())) == sorted(b["backup_id"] for b in expected_backups(emu.data, "cn-bj2"))


@pytest.mark.parametrize("text, message", [
    ("regions: [cn-bj2]\nregoins: [hk]\n", "unknown option regoins; valid options are:"),
    ("regions: [cn-bj2]\nhosts_from: instance\n", "hosts_from"),
    ("regions: [cn-bj2]\nhostnames: ['{{ nosuchvar }}']\n", "hostnames[0] '{{ nosuchvar }}' failed for backup"),
    ("regions: [cn-bj2]\nfilters: [{keep: true}]\n", "filters[0] must be a mapping with one key, include or exclude"),
    ("regions: [cn-xx1]\n", "Params [Region] not available"),
    ("regions: [cn-bj2]\nmax_concurrency: 0\n", "max_concurrency=0 is out of range: use 1 to 64"),
    ("regions: [cn-bj2]\nmax_retries: many\n", by_core("plugins.inventory.uredis_backup setting: max_retries (from Direct)",
                                                       "Config 'max_retries' for ")),
    ("regions: [cn-bj2]\nregion_types: [both]\n", "region_types"),
    ("regions: []\n", "no region to list: set regions in the inventory file, the environment variable SIGCALCLOUD_REGION, or region in a profile"),
])
def test_bad_inventory_files_fail_with_a_clear_message(run_ansible, emulator, tmp_path, text, message):
    path = tmp_path / "bad.uredis_backup.yml"
    path.write_text("plugin: sigcalcloud.cloud.uredis_backup\n" + text)
    result = run_ansible("ansible-inventory", "-i", path, "--list", env=dict(
        credentials_env(emulator), ANSIBLE_INVENTORY_UNPARSED_FAILED="1"))
    assert result.rc != 0
    assert message in " ".join(result.stderr.split()), result
    assert "Traceback" not in result.output


def test_wrong_plugin_name_and_file_name(run_ansible, emulator, tmp_path):
    path = tmp_path / "x.uredis_backup.yml"
    path.write_text("plugin: sigcalcloud.cloud.uredis_backups\nregions: [cn-bj2]\n")
    result = run_ansible("ansible-inventory", "-i", path, "--list", env=dict(
        credentials_env(emulator), ANSIBLE_INVENTORY_UNPARSED_FAILED="1"))
    assert result.rc != 0
    assert "specifies unknown plugin 'sigcalcloud.cloud.uredis_backups'" in result.stderr
    other = tmp_path / "inventory.yml"  # not ours by name: declined quietly, yaml plugin takes it
    other.write_text("plugin: sigcalcloud.cloud.uredis_backup\nregions: [cn-bj2]\n")
    result = run_ansible("ansible-inventory", "-i", other, "--list", "-vvv", env=credentials_env(emulator))
    assert emulator.stats()["api_requests"] == 0


def test_credentials_may_be_templates_and_vaulted(run_ansible, emulator, tmp_path):
    account = emulator.data["accounts"][0]
    vault_pass = tmp_path / "vault-pass"
    vault_pass.write_text("pw\n")
    encrypted = run_ansible("ansible-vault", "encrypt_string", "--vault-password-file", vault_pass,
                            account["private_key"], "--name", "private_key")
    assert encrypted.rc == 0, encrypted
    path = inventory_file(tmp_path, textwrap.dedent("""
        regions: [cn-bj2]
        public_key: "{{ lookup('env', 'MY_PUBLIC_KEY') }}"
        base_url: "{{ emulator_url }}"
    """) + encrypted.stdout)
    env = {"SIGCALCLOUD_PUBLIC_KEY": "", "SIGCALCLOUD_PRIVATE_KEY": "", "SIGCALCLOUD_BASE_URL": "",
           "MY_PUBLIC_KEY": account["public_key"]}
    result = run_ansible("ansible-inventory", "-i", path, "--list", "--vault-password-file", vault_pass,
                         "-e", "emulator_url=%s" % emulator.base_url, "-vvvv", env=env)
    assert result.rc == 0, result
    assert sorted(hostvars(result.json())) == sorted(
        b["backup_id"] for b in expected_backups(emulator.data, "cn-bj2")), result
    assert account["private_key"] not in result.output


def test_playbook_targets_backups_by_state(run_ansible, emulator, tmp_path):
    path = inventory_file(tmp_path, """
        regions: [cn-bj2]
        keyed_groups:
          - key: state
            prefix: uredis_state
    """)
    play = tmp_path / "play.yml"
    play.write_text(textwrap.dedent("""
        - hosts: uredis_state_Error
          connection: local
          gather_facts: false
          tasks:
            - name: Record each failed backup
              ansible.builtin.lineinfile:
                path: "{{ out }}"
                line: "{{ inventory_hostname }} {{ state }}"
                create: true
              throttle: 1
    """))
    out = tmp_path / "failed.txt"
    result = run_ansible("ansible-playbook", "-i", path, play, "-e", "out=%s" % out, env=credentials_env(emulator))
    assert result.rc == 0, result
    lines = sorted(out.read_text().split("\n")[:-1])
    assert lines == sorted("%s Error" % b["backup_id"] for b in expected_backups(emulator.data, "cn-bj2")
                           if b["state"] == "Error")
    assert lines, "the demo data set has failed backups"


def test_graph_groups_by_state(run_ansible, emulator, tmp_path):
    path = inventory_file(tmp_path, """
        regions: [cn-bj2]
        keyed_groups:
          - key: state
            prefix: uredis_state
    """)
    result = run_ansible("ansible-inventory", "-i", path, "--graph", env=credentials_env(emulator))
    assert result.rc == 0, result
    assert "@uredis_state_Success:" in result.stdout and "@uredis_backups:" in result.stdout
    errors = [b["backup_id"] for b in expected_backups(emulator.data, "cn-bj2") if b["state"] == "Error"]
    graph = result.stdout.split("@uredis_state_Error:")[1].split("@")[0]
    assert sorted(line.strip(" |-") for line in graph.splitlines() if line.strip(" |-")) == sorted(errors)


def test_projects_groups_and_region_types_are_all_listed(run_ansible, start_emulator, tmp_path):
    emulator = start_emulator(latency=0.05)  # slow enough that concurrent listings overlap
    data = emulator.data
    group = expected_backups(data, "cn-sh2")[0]["group_id"]
    path = inventory_file(tmp_path, """
        regions: [cn-bj2, cn-sh2]
        project_ids: [org-demo, org-second]
        region_types: [normal, source, target]
    """)
    result = inventory_list(run_ansible, emulator, path)
    assert result.rc == 0, result
    expected = {}
    for region in ("cn-bj2", "cn-sh2"):
        for project in ("org-demo", "org-second"):
            for region_type in ("normal", "source", "target"):
                for facts in expected_backups(data, region, project, region_type):
                    expected.setdefault(facts["backup_id"], facts)  # a cross-region backup is one host
    assert sorted(hostvars(result.json())) == sorted(expected)
    assert any(f["project_id"] == "org-second" for f in hostvars(result.json()).values())
    assert any(f["src_region_name"] for f in hostvars(result.json()).values())
    assert emulator.stats()["peak_concurrency"] > 1  # listings run concurrently

    path = inventory_file(tmp_path, """
        regions: [cn-sh2]
        group_ids: [{group}]
    """.format(group=group))
    result = inventory_list(run_ansible, emulator, path)
    assert sorted(hostvars(result.json())) == sorted(
        b["backup_id"] for b in expected_backups(data, "cn-sh2", group_id=group))


def test_private_key_never_appears_in_inventory_output(run_ansible, emulator, tmp_path):
    secret = emulator.data["accounts"][0]["private_key"]
    path = inventory_file(tmp_path, """
        regions: [cn-bj2, nowhere-1]
        fail_on_errors: false
    """)
    for key in (secret, secret + "-rejected"):
        result = inventory_list(run_ansible, emulator, path, {"SIGCALCLOUD_PRIVATE_KEY": key}, "-vvvv")
        assert secret not in result.output
        assert "nowhere-1" in result.stderr


def test_an_inventory_that_skipped_a_region_is_not_cached(run_ansible, start_emulator, tmp_path):
    emu = start_emulator(fail_regions={"hk": "500"})
    cache = tmp_path / "cache"
    path = inventory_file(tmp_path, """
        regions: [cn-bj2, hk]
        max_retries: 0
        fail_on_errors: false
        cache: true
        cache_plugin: ansible.builtin.jsonfile
        cache_connection: {cache}
    """.format(cache=cache))
    result = inventory_list(run_ansible, emu, path)
    assert result.rc == 0 and "skipped region hk" in result.stderr
    assert not cache.exists() or not any(cache.iterdir())
    requests_before = emu.stats()["api_requests"]
    result = inventory_list(run_ansible, emu, path)
    assert emu.stats()["api_requests"] > requests_before  # read again, not served partial from a cache


# --- names the server chooses: no host takeover, no control characters ---------------


def static_inventory(tmp_path):
    path = tmp_path / "hosts.ini"
    path.write_text("[web]\ndb1 ansible_host=10.0.0.9 role=database\nweb2\n")
    return path


BY_NAME = """
    regions: [cn-bj2]
    hostnames: [backup_name]
    compose:
      composed: "'yes'"
    keyed_groups:
      - key: state
        prefix: uredis_state
"""


def test_a_backup_named_like_a_host_of_an_earlier_source_is_left_out(run_ansible, start_emulator, tmp_path):
    data, rows = named_dataset("db1", "web2", "backup-3")
    emu = start_emulator(data=data)
    path = inventory_file(tmp_path, BY_NAME + "    local_connection: true\n")
    result = run_ansible("ansible-inventory", "-i", static_inventory(tmp_path), "-i", path, "--list",
                         env=credentials_env(emu))
    assert result.rc == 0, result
    listing = result.json()
    facts = hostvars(listing)
    # The static hosts are exactly as hosts.ini made them: no facts, no groups, no connection.
    assert facts["db1"] == {"ansible_host": "10.0.0.9", "role": "database"}
    assert "backup-3" in facts, result
    assert groups_of(listing, "db1") == ["web"] and groups_of(listing, "web2") == ["web"]
    # The third backup is a host as usual.
    assert facts["backup-3"]["backup_id"] == rows[2]["BackupId"]
    assert facts["backup-3"]["ansible_connection"] == "local" and facts["backup-3"]["composed"] == "yes"
    assert group_hosts(listing, "uredis_backups") == ["backup-3"]
    for row, name in zip(rows, ("db1", "web2")):
        assert ("backup %s ('%s') of group %s in region cn-bj2 gets the host name '%s', a host another inventory "
                "source already added; it is left out and host '%s' is not changed"
                % (row["BackupId"], name, row["GroupId"], name, name)) in warnings(result)


def test_a_later_source_keeps_where_its_host_runs(run_ansible, start_emulator, tmp_path):
    """Ours first: a plugin cannot see a later source's host, so it sets no connection on
    any host by default; the clash can at worst add facts."""
    data, rows = named_dataset("db1", "backup-2")
    emu = start_emulator(data=data)
    path = inventory_file(tmp_path, BY_NAME)
    result = run_ansible("ansible-inventory", "-i", path, "-i", static_inventory(tmp_path), "--list",
                         env=credentials_env(emu))
    assert result.rc == 0, result
    facts = hostvars(result.json())
    assert facts["db1"]["ansible_host"] == "10.0.0.9" and facts["db1"]["role"] == "database"
    assert "ansible_connection" not in facts["db1"]
    assert "ansible_connection" not in facts["backup-2"]
    # A play on the static group would go to 10.0.0.9 as hosts.ini says, not to the controller.
    result = run_ansible("ansible", "-i", path, "-i", static_inventory(tmp_path), "web", "-m", "ansible.builtin.debug",
                         "-a", "msg={{ ansible_connection }}/{{ ansible_host }}",
                         env=credentials_env(emu))
    assert result.rc == 0, result
    assert '"msg": "ssh/10.0.0.9"' in result.stdout  # its own (default) connection, not local


@pytest.mark.parametrize("hosts_from, name_fact", [("backup", "backup_id"), ("redis_group", "group_id")])
def test_local_connection_sets_ansible_connection_on_every_host(run_ansible, emulator, tmp_path, hosts_from, name_fact):
    path = inventory_file(tmp_path, """
        regions: [cn-bj2]
        hosts_from: {hosts_from}
        local_connection: true
    """.format(hosts_from=hosts_from))
    result = inventory_list(run_ansible, emulator, path)
    assert result.rc == 0, result
    facts = hostvars(result.json())
    expected = set(b[name_fact] for b in expected_backups(emulator.data, "cn-bj2"))
    if hosts_from == "redis_group":  # every group, also those without backups
        expected |= set(listed_group_ids(emulator, "cn-bj2"))
    assert set(facts) == expected
    assert set(f["ansible_connection"] for f in facts.values()) == {"local"}


def test_a_play_on_backup_hosts_runs_modules_with_connection_local(run_ansible, start_emulator, tmp_path):
    data, rows = named_dataset("one", "two")
    emu = start_emulator(data=data)
    path = inventory_file(tmp_path, "regions: [cn-bj2]\n")
    play = tmp_path / "play.yml"
    play.write_text(textwrap.dedent("""
        - hosts: uredis_backups
          connection: local
          gather_facts: false
          tasks:
            - ansible.builtin.command: echo {{ backup_id }}
              register: echoed
            - ansible.builtin.assert:
                that: echoed.stdout == inventory_hostname
    """))
    result = run_ansible("ansible-playbook", "-i", path, play, env=credentials_env(emu))
    assert result.rc == 0, result
    assert "ok=2" in result.stdout and result.stdout.count("ok=2") == 2


def test_names_with_control_characters_or_localhost_are_not_used(run_ansible, start_emulator, tmp_path):
    data, rows = named_dataset("db1\x1b[2J\x1b[H", "localhost", "fine", "rtl\u202eexe")
    rows[0]["GroupId"] = "uredis-\x1b[31m-evil"
    emu = start_emulator(data=data)
    path = inventory_file(tmp_path, """
        regions: [cn-bj2]
        hostnames: [backup_name, backup_id]
    """)
    result = inventory_list(run_ansible, emu, path)
    assert result.rc == 0, result
    facts = hostvars(result.json())
    # A name with control characters falls back to the next entry; localhost is never a backup.
    assert sorted(facts) == sorted([rows[0]["BackupId"], "fine", rows[3]["BackupId"]])
    assert facts[rows[0]["BackupId"]]["backup_name"] == "db1\x1b[2J\x1b[H"  # the fact itself is kept as sent
    assert ("backup %s ('localhost') of group %s in region cn-bj2 gets the host name 'localhost', the name of the "
            "controller's implicit localhost; it is left out and host 'localhost' is not changed"
            % (rows[1]["BackupId"], rows[1]["GroupId"])) in warnings(result)

    path = inventory_file(tmp_path, """
        regions: [cn-bj2]
        hostnames: [backup_name]
    """)
    result = inventory_list(run_ansible, emu, path)
    assert result.rc == 0, result
    assert sorted(hostvars(result.json())) == ["fine"]
    assert ("backup %s ('db1\\x1b[2J\\x1b[H') of group uredis-\\x1b[31m-evil in region cn-bj2 has no usable name from "
            "hostnames ['backup_name'] (each gave none, or one with control characters); it is left out"
            % rows[0]["BackupId"]) in warnings(result)
    assert "rtl\\u202eexe" in result.stderr
    assert "\x1b" not in result.stderr and "\u202e" not in result.stderr


# --- the cache: one entry per account, and a damaged entry is a miss -------------------


def cache_inventory(tmp_path, cache_dir):
    return inventory_file(tmp_path, """
        regions: [cn-bj2]
        cache: true
        cache_plugin: ansible.builtin.jsonfile
        cache_connection: {cache}
        cache_timeout: 3600
    """.format(cache=cache_dir))


def account_envs(emu, ansible_env, how):
    """(demo, other): the environment that selects each of the emulator's two accounts."""
    if how == "keys":
        demo = credentials_env(emu)
        return demo, dict(demo, SIGCALCLOUD_PUBLIC_KEY=OTHER_PUBLIC_KEY, SIGCALCLOUD_PRIVATE_KEY=OTHER_PRIVATE_KEY)
    folder = os.path.join(ansible_env["HOME"], ".sigcalcloud")
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "credential.json"), "w") as handle:
        json.dump([dict(profile=name, public_key=a["public_key"], private_key=a["private_key"])
                   for name, a in zip(("demo", "other"), emu.data["accounts"])], handle)
    os.chmod(os.path.join(folder, "credential.json"), 0o600)
    with open(os.path.join(folder, "config.json"), "w") as handle:
        json.dump([{"profile": name, "region": "cn-bj2", "base_url": emu.base_url} for name in ("demo", "other")], handle)
    blank = {"SIGCALCLOUD_PUBLIC_KEY": "", "SIGCALCLOUD_PRIVATE_KEY": "", "SIGCALCLOUD_BASE_URL": "",
             "SIGCALCLOUD_REGION": ""}
    return dict(blank, SIGCALCLOUD_PROFILE="demo"), dict(blank, SIGCALCLOUD_PROFILE="other")


@pytest.mark.parametrize("how", ["keys", "profiles"])
def test_two_accounts_with_one_inventory_file_and_cache_each_get_their_own(
        run_ansible, ansible_env, start_emulator, tmp_path, how):
    emu = start_emulator()
    cache_dir = tmp_path / "cache"
    path = cache_inventory(tmp_path, cache_dir)
    demo_env, other_env = account_envs(emu, ansible_env, how)
    demo_ids = sorted(b["backup_id"] for b in expected_backups(emu.data, "cn-bj2"))
    other_ids = sorted(b["backup_id"] for b in expected_backups(emu.data, "cn-bj2", project_id="org-other"))
    assert other_ids and not set(other_ids) & set(demo_ids)

    def listed(env):
        result = run_ansible("ansible-inventory", "-i", path, "--list", env=env)
        assert result.rc == 0, result
        return sorted(hostvars(result.json()))

    assert listed(demo_env) == demo_ids
    after_demo = emu.stats()["api_requests"]
    assert listed(other_env) == other_ids  # a miss: its own backups, not the demo account's
    after_other = emu.stats()["api_requests"]
    assert after_other > after_demo
    # Both are cached now: hits, with no request at all.
    assert listed(demo_env) == demo_ids and listed(other_env) == other_ids
    assert emu.stats()["api_requests"] == after_other

    secrets = [a[k] for a in emu.data["accounts"] for k in ("public_key", "private_key")]
    files = list(cache_dir.iterdir())
    assert len(files) == 2
    for item in files:
        text = item.read_text()
        assert not any(secret in text or secret in item.name for secret in secrets)


def cache_file(cache_dir):
    [path] = list(cache_dir.iterdir())
    return path


def entry_with(change):
    """Damage the cached entry itself, inside the cache plugin's own envelope (ansible-core 2.19
    stores {"__payload__": "<the entry as JSON>"})."""
    def damage(path):
        outer = json.loads(path.read_text())
        entry = json.loads(outer["__payload__"]) if "__payload__" in outer else outer
        change(entry)
        if "__payload__" in outer:
            outer["__payload__"] = json.dumps(entry)
        path.write_text(json.dumps(outer if "__payload__" in outer else entry))
    return damage


def payload(text):
    def damage(path):
        outer = json.loads(path.read_text())
        path.write_text(json.dumps(dict(outer, __payload__=text)) if "__payload__" in outer else text)
    return damage


def file_text(text):
    def damage(path):
        path.write_text(text)
    return damage


@pytest.mark.parametrize("damage, why", [
    (entry_with(lambda e: e.update(backups="not a list")), "its backups are str, not a list"),
    (entry_with(lambda e: e.update(backups={"a": 1})), "its backups are dict, not a list"),
    (entry_with(lambda e: e.pop("backups")), "its backups are NoneType, not a list"),
    (entry_with(lambda e: e["backups"][0].pop("state")), "backups[0]: a backup has the facts"),
    (entry_with(lambda e: e["backups"].append({"backup_id": "x"})), "a backup has the facts backup_id, expected"),
    (entry_with(lambda e: e["backups"][1].update(backup_time="yesterday")), "backups[1]: backup "),
    (entry_with(lambda e: e["backups"][0].update(backup_size=[1])), "has backup_size=[1], expected an integer"),
    (entry_with(lambda e: e["backups"][0].update(region=None)), "has no region"),
    (entry_with(lambda e: e["backups"].insert(0, None)), "backups[0]: a backup is NoneType, not a mapping"),
    (entry_with(lambda e: e.update(format=99)), "it is not a format 3 entry"),
    # 1.0.0's entries were not checked against their requests: never served again.
    (entry_with(lambda e: e.update(format=2)), "it is not a format 3 entry"),
    (entry_with(lambda e: e.update(format="1")), "it is not a format 3 entry"),
    (payload("[1, 2]"), "it is not a format 3 entry"),
    (payload("{not json"), "not read"),
    (file_text("{not json"), "not read"),
    # ansible-core 2.19's cache plugin cannot read a file without its envelope; an older one reads the list.
    (file_text("[1, 2]"), by_core("it is not a format 3 entry", "not read")),
])
def test_a_damaged_cache_entry_is_a_miss_and_the_api_is_read(run_ansible, start_emulator, tmp_path, damage, why):
    emu = start_emulator()
    cache_dir = tmp_path / "cache"
    path = cache_inventory(tmp_path, cache_dir)
    first = inventory_list(run_ansible, emu, path)
    assert first.rc == 0, first
    damage(cache_file(cache_dir))
    before = emu.stats()["api_requests"]

    result = inventory_list(run_ansible, emu, path, {"ANSIBLE_INVENTORY_UNPARSED_FAILED": "1"}, "-vvv")
    assert result.rc == 0, result
    assert "Traceback" not in result.output and "[ERROR]" not in result.output
    listing = json.loads(result.stdout[result.stdout.index("\n{\n"):])  # after the -vvv lines
    assert plain(listing) == plain(first.json())
    assert emu.stats()["api_requests"] > before
    [said] = [line for line in result.stdout.splitlines() if line.startswith("sigcalcloud.cloud.uredis_backup: cache entry ")]
    assert said.endswith("; reading the API") and why in said, said
    # The fresh listing replaced the damaged entry: the next run is a hit.
    after = emu.stats()["api_requests"]
    assert plain(inventory_list(run_ansible, emu, path).json()) == plain(first.json())
    assert emu.stats()["api_requests"] == after


def test_the_cache_holds_the_groups_of_a_redis_group_inventory(run_ansible, start_emulator, tmp_path):
    emu = start_emulator()
    cache_dir = tmp_path / "cache"
    path = inventory_file(tmp_path, """
        regions: [cn-bj2]
        hosts_from: redis_group
        cache: true
        cache_plugin: ansible.builtin.jsonfile
        cache_connection: {cache}
        cache_timeout: 3600
    """.format(cache=cache_dir))
    first = inventory_list(run_ansible, emu, path)
    assert first.rc == 0, first
    assert "uredis-cnbj2-91" in hostvars(first.json())
    before = emu.stats()["api_requests"]
    second = inventory_list(run_ansible, emu, path)
    assert second.rc == 0, second
    assert emu.stats()["api_requests"] == before  # a hit: no request, not even for the groups
    assert plain(second.json()) == plain(first.json())
    # The same file read as one host per backup: its cached entry has no groups, so it is read again.
    backup_path = inventory_file(tmp_path, """
        regions: [cn-bj2]
        cache: true
        cache_plugin: ansible.builtin.jsonfile
        cache_connection: {cache}
        cache_timeout: 3600
    """.format(cache=cache_dir), name="other.uredis_backup.yml")
    assert inventory_list(run_ansible, emu, backup_path).rc == 0
