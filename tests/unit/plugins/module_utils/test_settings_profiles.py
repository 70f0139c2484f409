# -*- coding: utf-8 -*-
# Copyright: sigcalcloud.cloud contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Profiles from ~/.sigcalcloud/credential.json and config.json, and the precedence
option > environment variable > profile > built-in default, row by row."""

from __future__ import annotations

import json
import os

import pytest

from ansible_collections.sigcalcloud.cloud.plugins.module_utils import _settings

CREDENTIALS = [
    {"profile": "default", "public_key": "file-pub", "private_key": "file-secret"},
    {"profile": "prod", "public_key": "prod-pub", "private_key": "prod-secret"},
]
CONFIG = [
    {"profile": "default", "region": "file-region", "project_id": "org-file", "base_url": "http://file:1",
     "timeout_sec": 11},
    {"profile": "prod", "region": "prod-region", "timeout_sec": 22, "active": False},
]


@pytest.fixture
def home(tmp_path, no_sigcalcloud_environment):  # HOME is tmp_path, no SIGCALCLOUD_* variables
    folder = tmp_path / ".sigcalcloud"
    folder.mkdir()

    def write(credentials=tuple(CREDENTIALS), config=tuple(CONFIG), mode=0o600):
        for name, entries in (("credential.json", credentials), ("config.json", config)):
            path = folder / name
            if entries is None:
                if path.exists():
                    path.unlink()
                continue
            path.write_text(entries if isinstance(entries, str) else json.dumps(
                list(entries) if isinstance(entries, tuple) else entries))
        if (folder / "credential.json").exists():
            os.chmod(str(folder / "credential.json"), mode)
        return folder

    write()
    return write


@pytest.mark.parametrize("option, env, profile_value, default, expected", [
    # option wins over everything
    ({"region": "opt"}, {"SIGCALCLOUD_REGION": "env"}, "file-region", None, "opt"),
    # then the environment variable
    ({}, {"SIGCALCLOUD_REGION": "env"}, "file-region", None, "env"),
    # then the profile
    ({}, {}, "file-region", None, "file-region"),
])
def test_precedence_for_region(home, option, env, profile_value, default, expected):
    settings = _settings.resolve(option, environ=env)
    assert settings.region == expected


@pytest.mark.parametrize("option, env, expected", [
    ({"timeout": 5}, {"SIGCALCLOUD_TIMEOUT": "7"}, 5),   # option
    ({}, {"SIGCALCLOUD_TIMEOUT": "7"}, 7),                # environment
    ({}, {}, 11),                                          # profile (timeout_sec)
])
def test_precedence_for_timeout(home, option, env, expected):
    assert _settings.resolve(option, environ=env).timeout == expected


def test_builtin_default_when_set_nowhere(home):
    home(config=[{"profile": "default", "region": "r"}])
    settings = _settings.resolve({}, environ={})
    assert settings.timeout == 30 and settings.base_url == "https://api.sigcalcloud.com"
    assert (settings.public_key, settings.private_key, settings.region) == ("file-pub", "file-secret", "r")


def test_named_profile_by_option_and_by_environment(home):
    assert _settings.resolve({"profile": "prod"}, environ={}).public_key == "prod-pub"
    settings = _settings.resolve({}, environ={"SIGCALCLOUD_PROFILE": "prod"})
    assert (settings.private_key, settings.region, settings.timeout) == ("prod-secret", "prod-region", 22)
    assert settings.project_id is None  # prod sets no project: the default project


def test_active_profile_wins_over_default(home):
    config = [dict(CONFIG[0]), dict(CONFIG[1], active=True)]
    home(config=config)
    assert _settings.resolve({}, environ={}).public_key == "prod-pub"


def test_moved_files(home, tmp_path):
    other = tmp_path / "elsewhere.json"
    other.write_text(json.dumps([{"profile": "default", "public_key": "moved", "private_key": "k"}]))
    os.chmod(str(other), 0o600)
    settings = _settings.resolve({}, environ={"SIGCALCLOUD_SHARED_CREDENTIAL_FILE": str(other)})
    assert settings.public_key == "moved" and settings.region == "file-region"
    config = tmp_path / "cfg.json"
    config.write_text(json.dumps([{"profile": "default", "region": "moved-region"}]))
    assert _settings.resolve({}, environ={"SIGCALCLOUD_SHARED_CONFIG_FILE": str(config)}).region == "moved-region"


def test_no_files_and_no_profile_named_is_fine(home):
    home(credentials=None, config=None)
    assert _settings.resolve({"public_key": "p", "private_key": "s", "region": "r"}, environ={}).region == "r"


@pytest.mark.parametrize("credentials, config, profile, message", [
    (CREDENTIALS, CONFIG, "staging", "profile 'staging' is not in "),
    ("{not json", CONFIG, None, "credential.json is not valid JSON: "),
    ({"profile": "default"}, CONFIG, None, "credential.json must hold a JSON array of profiles, not dict"),
    (CREDENTIALS, [CONFIG[0], "x"], None, "config.json: entry 1 must be an object, not str"),
    (CREDENTIALS, [{"region": "r"}], None, 'config.json: entry 0 has no profile name (a string field "profile")'),
    (CREDENTIALS, [dict(CONFIG[0], timeout_sec="soon")], None,
     "config.json: entry 0 (profile 'default'): timeout_sec must be an integer"),
    ([dict(CREDENTIALS[0], private_key=7)], CONFIG, None,
     "credential.json: entry 0 (profile 'default'): private_key must be a string"),
    (CREDENTIALS, [dict(CONFIG[0], active=True), dict(CONFIG[1], active=True)], None,
     "more than one profile is marked active (default, prod)"),
])
def test_bad_files_and_unknown_profiles_are_named(home, credentials, config, profile, message):
    home(credentials=credentials, config=config)
    with pytest.raises(_settings.OptionError) as caught:
        _settings.resolve({"profile": profile}, environ={})
    assert message in str(caught.value)


def test_a_readable_credential_file_warns_with_the_fix(home):
    folder = home(mode=0o644)
    settings = _settings.resolve({}, environ={})
    path = str(folder / "credential.json")
    assert settings.warnings == ["%s can be read by other users (mode 0o644): run chmod 600 %s" % (path, path)]
    home(mode=0o600)
    assert _settings.resolve({}, environ={}).warnings == []


def test_profile_files_are_not_read_when_nothing_is_missing(home):
    home(credentials="{broken", config="{broken")
    settings = _settings.resolve({"public_key": "p", "private_key": "s", "region": "r", "project_id": "o",
                                  "base_url": "http://x", "timeout": 3}, environ={})
    assert settings.public_key == "p"


def test_the_private_key_from_a_file_is_not_in_repr(home):
    settings = _settings.resolve({}, environ={})
    assert "file-secret" not in repr(settings) and "file-secret" not in repr(settings.client())


# --- only regular files, of at most 1 MiB (issue 12, item 14) --------------------------

def _moved(path, which="SIGCALCLOUD_SHARED_CREDENTIAL_FILE"):
    return {which: str(path)}


@pytest.mark.parametrize("which", ["SIGCALCLOUD_SHARED_CREDENTIAL_FILE", "SIGCALCLOUD_SHARED_CONFIG_FILE"])
def test_a_fifo_is_refused_at_once_not_waited_on(home, tmp_path, which):
    fifo = tmp_path / "fifo.json"
    os.mkfifo(str(fifo))
    with pytest.raises(_settings.OptionError) as caught:
        _settings.resolve({}, environ=_moved(fifo, which))  # would block forever in open() before
    assert str(caught.value) == "%s is a FIFO, not a regular file" % fifo


def test_a_link_to_dev_zero_is_refused_unread(home, tmp_path):
    link = tmp_path / "zero.json"
    os.symlink("/dev/zero", str(link))
    with pytest.raises(_settings.OptionError) as caught:
        _settings.resolve({}, environ=_moved(link))
    assert str(caught.value) == "%s is a character device, not a regular file" % link


def test_a_folder_and_a_socket_are_refused(home, tmp_path):
    import socket
    with pytest.raises(_settings.OptionError) as caught:
        _settings.resolve({}, environ=_moved(tmp_path))
    assert str(caught.value) == "%s is a directory, not a regular file" % tmp_path
    path = tmp_path / "s"
    server = socket.socket(socket.AF_UNIX)
    try:
        server.bind(str(path))
        with pytest.raises(_settings.OptionError) as caught:
            _settings.resolve({}, environ=_moved(path))
        assert str(caught.value) == "%s is a socket, not a regular file" % path
    finally:
        server.close()


def test_a_file_over_the_cap_is_refused_and_one_at_the_cap_is_read(home, tmp_path):
    assert _settings.PROFILE_FILE_MAX_BYTES == 1024 * 1024
    entries = json.dumps(CREDENTIALS)
    at_cap = tmp_path / "at-cap.json"
    at_cap.write_text(entries + " " * (_settings.PROFILE_FILE_MAX_BYTES - len(entries)))
    os.chmod(str(at_cap), 0o600)
    assert _settings.resolve({}, environ=_moved(at_cap)).public_key == "file-pub"
    over = tmp_path / "over.json"
    over.write_text(entries + " " * (_settings.PROFILE_FILE_MAX_BYTES + 1 - len(entries)))
    with pytest.raises(_settings.OptionError) as caught:
        _settings.resolve({}, environ=_moved(over))
    assert str(caught.value) == "%s is larger than 1 MiB, too large for a profile file" % over


def test_a_file_that_grows_past_the_cap_while_read_is_refused(home, tmp_path, monkeypatch):
    path = tmp_path / "growing.json"
    path.write_text("[]")
    real_read = os.read

    def endless_read(fd, n):  # the file "grows": every read of it is full
        if os.readlink("/proc/self/fd/%d" % fd) == str(path):
            return b" " * n
        return real_read(fd, n)

    monkeypatch.setattr(os, "read", endless_read)
    with pytest.raises(_settings.OptionError, match=r"is larger than 1 MiB, too large for a profile file$"):
        _settings.resolve({}, environ=_moved(path))


def test_a_missing_file_or_folder_is_still_no_file(home, tmp_path):
    for path in (tmp_path / "nowhere.json", tmp_path / "no" / "such" / "dir.json", "/dev/null/x"):
        assert _settings._read_profile_file(str(path)) == []


@pytest.mark.parametrize("content, message", [
    (b"\xff\xfe[]", "is not UTF-8 text: "),
    (b"[" * 200000, "is not valid JSON: nested too deeply"),
])
def test_undecodable_or_deeply_nested_files_are_named(home, tmp_path, content, message):
    path = tmp_path / "odd.json"
    path.write_bytes(content)
    with pytest.raises(_settings.OptionError) as caught:
        _settings.resolve({}, environ=_moved(path))
    assert str(caught.value).startswith("%s %s" % (path, message))


def test_the_mode_warned_about_is_the_mode_of_the_file_read(home, monkeypatch):
    folder = home(mode=0o640)
    path = str(folder / "credential.json")
    real_stat, stated = os.stat, []

    def spy(name, *args, **kwargs):
        stated.append(str(name))
        return real_stat(name, *args, **kwargs)

    monkeypatch.setattr(os, "stat", spy)
    assert _settings.resolve({}, environ={}).warnings == [
        "%s can be read by other users (mode 0o640): run chmod 600 %s" % (path, path)]
    assert path not in stated  # fstat of the open file, not a stat after it
