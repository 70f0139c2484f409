# -*- coding: utf-8 -*-
# Copyright: sigcalcloud.cloud contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Profiles from ~/.sigcalcloud/ and the AWX credential type's environment, through real
ansible and ansible-inventory runs with a temporary HOME."""

from __future__ import annotations

import json
import os
import time

import jinja2
import pytest
import yaml

from helpers import MODULE, ROOT, credentials_env, expected_backups, hostvars, inventory_file


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


# --- profile files that are not files, and absurd since values (issue 12, items 13, 14) ---

HANG_LIMIT = 120  # the subprocess timeout: before the fix a FIFO blocked here for ever


def _special_file(tmp_path, kind):
    path = tmp_path / ("%s.json" % kind)
    if kind == "fifo":
        os.mkfifo(str(path))
        return path, "%s is a FIFO, not a regular file" % path
    os.symlink("/dev/zero", str(path))  # read whole, this filled memory
    return path, "%s is a character device, not a regular file" % path


@pytest.mark.parametrize("variable", ["SIGCALCLOUD_SHARED_CREDENTIAL_FILE", "SIGCALCLOUD_SHARED_CONFIG_FILE",
                                      "SIGCALCLOUD_CA_PATH"])
@pytest.mark.parametrize("kind", ["fifo", "dev_zero"])
def test_a_fifo_or_dev_zero_as_a_profile_file_fails_at_once(run_ansible, emulator, tmp_path, kind, variable):
    path, message = _special_file(tmp_path, kind)
    if variable == "SIGCALCLOUD_CA_PATH":
        message = message.replace(" not a regular file", " not a CA bundle file or a directory of CA certificates")
        message = "ca_path " + message
    env = credentials_env(emulator, **{variable: str(path)})
    started = time.monotonic()
    result = run_ansible("ansible", "localhost", "-m", MODULE, env=env, record=True, timeout=HANG_LIMIT)
    elapsed = time.monotonic() - started
    assert result.rc != 0, result
    assert result.task_results()[0]["msg"] == message
    assert elapsed < HANG_LIMIT / 4, elapsed
    assert "Traceback" not in result.output
    assert emulator.stats()["api_requests"] == 0


TS_RANGE = "is out of range: a UNIX timestamp is from 0 to 253402300799 (9999-12-31T23:59:59Z)"
NUMBER_FORM = ("is not accepted: a UNIX timestamp is written in plain digits, from 0 to 253402300799 "
               "(9999-12-31T23:59:59Z); an age back from now is written like 24h or 7d")


@pytest.mark.parametrize("since, message", [
    ("9" * 5000, "since='99999999999999999999999999999999...' (5000 characters) " + TS_RANGE),
    ("9" * 5000 + "d", "since='99999999999999999999999999999999...' (5001 characters) is too long: "
                       "an age, a UNIX timestamp or an ISO 8601 date is at most 64 characters"),
    ("99999999999999999999d", "since='99999999999999999999d' is out of range: an age is at most 36525d (100 years)"),
    ("36526d", "since='36526d' is out of range: an age is at most 36525d (100 years)"),
    ("253402300800", "since='253402300800' " + TS_RANGE),
    ("1e400", "since='1e400' " + NUMBER_FORM),
    ("-5", "since='-5' " + NUMBER_FORM),
], ids=["5000-nines", "5000-nines-days", "huge-age", "100-years-and-a-day", "year-10000", "1e400", "minus-5"])
def test_absurd_since_values_fail_clearly_before_any_request(run_ansible, emulator, since, message):
    result = run_ansible("ansible", "localhost", "-m", MODULE, "-a", "since=%s" % since,
                         env=credentials_env(emulator), record=True, timeout=HANG_LIMIT)
    assert result.rc != 0, result
    assert result.task_results()[0]["msg"] == message
    assert "Traceback" not in result.output
    assert "int too large" not in result.output and "Exceeds the limit" not in result.output
    assert emulator.stats()["api_requests"] == 0


def test_since_at_the_edges_of_the_range_still_works(run_ansible, emulator):
    for since, count in (("36525d", len(expected_backups(emulator.data, "cn-bj2"))), ("253402300799", 0)):
        result = run_ansible("ansible", "localhost", "-m", MODULE, "-a", "since=%s" % since,
                             env=credentials_env(emulator), record=True)
        assert result.rc == 0, result
        assert len(result.task_results()[0]["backups"]) == count
