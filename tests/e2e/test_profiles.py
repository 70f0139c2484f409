# -*- coding: utf-8 -*-
# Copyright: sigcalcloud.cloud contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Profiles from ~/.sigcalcloud/ and the AWX credential type's environment, through real
ansible and ansible-inventory runs with a temporary HOME."""

from __future__ import annotations

import json
import os

import jinja2
import yaml

from conftest import ROOT, expected_backups
from test_inventory import hostvars, inventory_file
from test_module import MODULE


def write_profiles(ansible_env, emu, mode=0o600, region="cn-sh2", **credential_extra):
    folder = os.path.join(ansible_env["HOME"], ".sigcalcloud")
    os.makedirs(folder, exist_ok=True)
    account = emu.data["accounts"][0]
    credential = dict({"profile": "default", "public_key": account["public_key"],
                       "private_key": account["private_key"]}, **credential_extra)
    with open(os.path.join(folder, "credential.json"), "w") as handle:
        json.dump([credential, {"profile": "broken", "public_key": account["public_key"],
                                "private_key": account["private_key"] + "-old"}], handle)
    os.chmod(os.path.join(folder, "credential.json"), mode)
    with open(os.path.join(folder, "config.json"), "w") as handle:
        json.dump([{"profile": "default", "region": region, "base_url": emu.base_url, "active": True},
                   {"profile": "broken", "region": "cn-bj2", "base_url": emu.base_url}], handle)
    return folder


def test_module_and_inventory_take_everything_from_the_active_profile(run_ansible, ansible_env, emulator, tmp_path):
    write_profiles(ansible_env, emulator)
    result = run_ansible("ansible", "localhost", "-m", MODULE, record=True)
    assert result.rc == 0, result
    assert result.task_results()[0]["backups"] == expected_backups(emulator.data, "cn-sh2")
    assert "can be read by other users" not in result.output

    path = inventory_file(tmp_path, "keyed_groups: [{key: state, prefix: s}]\n")
    result = run_ansible("ansible-inventory", "-i", path, "--list")
    assert result.rc == 0, result
    assert sorted(hostvars(result.json())) == sorted(b["backup_id"] for b in expected_backups(emulator.data, "cn-sh2"))


def test_option_beats_environment_beats_profile(run_ansible, ansible_env, emulator):
    write_profiles(ansible_env, emulator)
    result = run_ansible("ansible", "localhost", "-m", MODULE, "-a", "region=hk", record=True,
                         env={"SIGCALCLOUD_REGION": "cn-bj2"})
    assert result.task_results()[0]["backups"] == expected_backups(emulator.data, "hk")
    result = run_ansible("ansible", "localhost", "-m", MODULE, record=True, env={"SIGCALCLOUD_REGION": "cn-bj2"})
    assert result.task_results()[0]["backups"] == expected_backups(emulator.data, "cn-bj2")


def test_a_named_profile_and_its_errors(run_ansible, ansible_env, emulator):
    write_profiles(ansible_env, emulator, mode=0o644)
    result = run_ansible("ansible", "localhost", "-m", MODULE, "-a", "profile=broken", "-vvvv", record=True)
    assert result.rc != 0
    assert "signature rejected: check private_key" in result.task_results()[0]["msg"]
    assert "can be read by other users (mode 0o644): run chmod 600" in result.output
    secret = emulator.data["accounts"][0]["private_key"]
    assert secret not in result.output

    result = run_ansible("ansible", "localhost", "-m", MODULE, record=True, env={"SIGCALCLOUD_PROFILE": "staging"})
    assert "profile 'staging' is not in" in result.task_results()[0]["msg"]

    with open(os.path.join(ansible_env["HOME"], ".sigcalcloud", "config.json"), "w") as handle:
        handle.write("[{\"profile\": \"default\", \"timeout_sec\": \"soon\"}]")
    result = run_ansible("ansible", "localhost", "-m", MODULE, record=True)
    assert "config.json: entry 0 (profile 'default'): timeout_sec must be an integer" in result.task_results()[0]["msg"]
    assert "Traceback" not in result.output


def test_a_key_from_a_file_never_shows(run_ansible, ansible_env, emulator, tmp_path):
    write_profiles(ansible_env, emulator)
    secret = emulator.data["accounts"][0]["private_key"]
    cache = tmp_path / "cache"
    path = inventory_file(tmp_path, "cache: true\ncache_plugin: ansible.builtin.jsonfile\ncache_connection: %s\n" % cache)
    result = run_ansible("ansible-inventory", "-i", path, "--list", "-vvvv")
    assert result.rc == 0, result
    assert secret not in result.output
    assert all(secret not in p.read_text() for p in cache.iterdir())


def test_awx_credential_type_environment_alone_is_enough(run_ansible, ansible_env, emulator, tmp_path):
    with open(os.path.join(ROOT, "docs", "awx", "credential_type.yml")) as handle:
        credential_type = yaml.safe_load(handle)
    account = emulator.data["accounts"][0]
    inputs = {"public_key": account["public_key"], "private_key": account["private_key"], "region": "hk",
              "project_id": "", "base_url": emulator.base_url}
    assert set(inputs) == set(f["id"] for f in credential_type["inputs"]["fields"])
    secret_fields = [f["id"] for f in credential_type["inputs"]["fields"] if f.get("secret")]
    assert secret_fields == ["private_key"]
    # Render the injectors as AWX does: Jinja over the credential's inputs.
    injected = dict((name, jinja2.Template(template).render(**inputs))
                    for name, template in credential_type["injectors"]["env"].items())
    assert sorted(injected) == sorted(n for n in injected if n.startswith("SIGCALCLOUD_"))

    result = run_ansible("ansible", "localhost", "-m", MODULE, record=True, env=injected)
    assert result.rc == 0, result
    assert result.task_results()[0]["backups"] == expected_backups(emulator.data, "hk")
    path = inventory_file(tmp_path, "")
    result = run_ansible("ansible-inventory", "-i", path, "--list", env=injected)
    assert result.rc == 0, result
    assert sorted(hostvars(result.json())) == sorted(b["backup_id"] for b in expected_backups(emulator.data, "hk"))
