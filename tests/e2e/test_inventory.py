# -*- coding: utf-8 -*-
# Copyright: sigcalcloud.cloud contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The sigcalcloud.cloud.uredis_backup inventory plugin through real ansible-inventory
and ansible-playbook runs against the emulator."""

from __future__ import annotations

import textwrap

import pytest

from conftest import credentials_env, expected_backups
from emulator.server import generate_dataset

REGIONS = ["cn-bj2", "cn-sh2", "hk"]


def inventory_file(tmp_path, text, name="test.uredis_backup.yml"):
    path = tmp_path / name
    path.write_text("plugin: sigcalcloud.cloud.uredis_backup\n" + textwrap.dedent(text))
    return path


def inventory_list(run_ansible, emu, path, env=None, *extra):
    full_env = credentials_env(emu)
    full_env.update(env or {})
    return run_ansible("ansible-inventory", "-i", path, "--list", *extra, env=full_env)


def plain(value):
    """ansible-inventory --list writes untrusted strings as {"__ansible_unsafe": text}."""
    if isinstance(value, dict):
        if set(value) == {"__ansible_unsafe"}:
            return value["__ansible_unsafe"]
        return dict((k, plain(v)) for k, v in value.items())
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def hostvars(listing):
    return plain(listing["_meta"]["hostvars"])


def group_hosts(listing, group):
    return sorted(listing.get(group, {}).get("hosts", []))


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
            expected[facts["backup_id"]] = dict(facts, ansible_connection="local")
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
    assert group_hosts(listing, "uredis_zone_unknown") == sorted(b["backup_id"] for b in expected if not b["zone"])
    assert group_hosts(listing, "big_backups") == sorted(
        b["backup_id"] for b in expected if (b["backup_size"] or 0) > 1000000)
    one = expected[0]
    assert hostvars(listing)[one["backup_id"]]["size_mb"] == round(one["backup_size"] / 1048576.0, 1)
    assert hostvars(listing)[one["backup_id"]]["ansible_connection"] == "ssh"  # compose overrides


def test_redis_group_hosts_answer_is_my_latest_backup_good(run_ansible, emulator, tmp_path):
    path = inventory_file(tmp_path, """
        regions: [cn-bj2]
        hosts_from: redis_group
        groups:
          latest_failed: uredis_latest_backup.state != 'Success'
    """)
    result = inventory_list(run_ansible, emulator, path)
    assert result.rc == 0, result
    listing = result.json()
    expected = expected_backups(emulator.data, "cn-bj2")
    group_ids = sorted(set(b["group_id"] for b in expected))
    assert group_hosts(listing, "uredis_groups") == group_ids
    for group_id in group_ids:
        members = [b for b in expected if b["group_id"] == group_id]
        facts = hostvars(listing)[group_id]
        assert facts["uredis_backups"] == members
        assert facts["uredis_latest_backup"] == members[0]
        good = [b for b in members if b["state"] == "Success"]
        assert facts["uredis_latest_successful_backup"] == (good[0] if good else None)
        assert facts["group_name"] == members[0]["group_name"]
    assert group_hosts(listing, "latest_failed") == sorted(
        g for g in group_ids if [b for b in expected if b["group_id"] == g][0]["state"] != "Success")


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
    assert some["ansible_connection"] == "local"


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

    emu.stop()  # a cache hit must not need the API at all
    second = inventory_list(run_ansible, emu, path, {"SIGCALCLOUD_PRIVATE_KEY": "", "SIGCALCLOUD_PUBLIC_KEY": ""})
    assert second.rc == 0, second
    assert plain(second.json()) == plain(first.json())
    assert group_hosts(second.json(), "uredis_state_Error")  # groups are rebuilt on a hit

    third = run_ansible("ansible-inventory", "-i", path, "--list", "--flush-cache",
                        env=dict(credentials_env(emu), ANSIBLE_INVENTORY_UNPARSED_FAILED="1"))
    assert third.rc != 0 and "could not reach" in third.stderr  # --flush-cache goes to the API


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
    ("regions: [cn-bj2]\nmax_retries: many\n", "Config 'max_retries' for "),
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
          gather_facts: false
          tasks:
            - name: Record each failed backup
              ansible.builtin.lineinfile:
                path: "{{ out }}"
                line: "{{ inventory_hostname }} {{ state }}"
                create: true
              delegate_to: localhost
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
