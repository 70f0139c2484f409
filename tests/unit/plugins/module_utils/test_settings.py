# -*- coding: utf-8 -*-
# Copyright: sigcalcloud.cloud contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Connection settings: defaults, checks, and the doc fragment kept in step with them."""

from __future__ import annotations

import os

import pytest
import yaml

from ansible_collections.sigcalcloud.cloud.plugins.doc_fragments.connection import ModuleDocFragment
from ansible_collections.sigcalcloud.cloud.plugins.module_utils import _settings

GOOD = {"public_key": "pub", "private_key": "secret", "region": "cn-bj2"}


# The developer's own SIGCALCLOUD_* variables and profile files must not leak in (conftest.py).
pytestmark = pytest.mark.usefixtures("no_sigcalcloud_environment")


def test_defaults_fill_unset_options():
    settings = _settings.resolve(dict(GOOD, base_url=None, timeout=None))
    assert settings.base_url == "https://api.sigcalcloud.com"
    assert (settings.timeout, settings.max_retries, settings.max_concurrency) == (30, 3, 16)
    assert settings.validate_certs is True and settings.ca_path is None and settings.project_id is None


def test_settings_declare_one_field_per_connection_option():
    """A new option in CONNECTION_OPTIONS needs its attribute in Settings.__init__ too."""
    settings = _settings.resolve(GOOD)
    assert sorted(vars(settings)) == sorted(list(_settings.CONNECTION_OPTIONS) + ["warnings"])
    assert repr(settings).startswith("Settings(base_url='https://api.sigcalcloud.com', ca_path=None, max_concurrency=16,")


def test_repr_hides_the_private_key():
    assert "secret" not in repr(_settings.resolve(GOOD))
    assert "secret" not in repr(_settings.resolve(GOOD).client())


@pytest.mark.parametrize("options, message", [
    ({"private_key": ""}, "missing or empty private_key: set it, the environment variable SIGCALCLOUD_PRIVATE_KEY, "
                          "or a profile in ~/.sigcalcloud/credential.json"),
    ({"public_key": None, "region": "  "},
     "missing or empty public_key, region: set them, the environment variables SIGCALCLOUD_PUBLIC_KEY, "
     "SIGCALCLOUD_REGION, or a profile in ~/.sigcalcloud/credential.json"),
    ({"timeout": "soon"}, "timeout='soon' is not an integer"),
    ({"max_retries": 11}, "max_retries=11 is out of range: use 0 to 10"),
    ({"max_concurrency": 0}, "max_concurrency=0 is out of range: use 1 to 64"),
    ({"validate_certs": "maybe"}, "validate_certs='maybe' is not a boolean"),
    ({"base_url": "api.example.com"}, "base_url='api.example.com' must start with https://"),
    ({"ca_path": "/nonexistent/ca.pem"}, "ca_path /nonexistent/ca.pem does not exist"),
])
def test_bad_settings_name_the_problem(options, message):
    with pytest.raises(_settings.OptionError) as caught:
        _settings.resolve(dict(GOOD, **options))
    assert str(caught.value) == message or str(caught.value).startswith(message)


def test_strings_from_the_environment_are_converted():
    settings = _settings.resolve(dict(GOOD, timeout="5", validate_certs="false", max_concurrency="2"))
    assert (settings.timeout, settings.validate_certs, settings.max_concurrency) == (5, False, 2)


def test_region_may_be_optional():
    assert _settings.resolve(dict(GOOD, region=None), require_region=False).region is None


@pytest.mark.parametrize("fragment", ["DOCUMENTATION", "PLUGIN_OPTIONS"])
def test_doc_fragment_documents_exactly_the_shared_options(fragment):
    documented = yaml.safe_load(getattr(ModuleDocFragment, fragment))["options"]
    expected = set(_settings.CONNECTION_OPTIONS)
    if fragment == "PLUGIN_OPTIONS":
        expected.discard("region")  # the inventory plugin has its own list option, regions
    assert set(documented) == expected
    for name, spec in documented.items():
        kind, env, default = _settings.CONNECTION_OPTIONS[name]
        assert spec["type"] == kind, name
        if fragment == "PLUGIN_OPTIONS":
            assert spec["env"] == [{"name": env}], name
            # No config-system default: a profile must be able to fill what is unset.
            assert "default" not in spec, name
            if default is not None:
                assert ("defaults to v(%s)" % str(default)).lower() in " ".join(spec["description"]).lower(), name
        else:
            assert "E(%s)" % env in " ".join(spec["description"]), name


def test_module_argument_spec_marks_the_key_no_log():
    spec = _settings.module_argument_spec()
    assert spec["private_key"]["no_log"] is True
    assert all("default" not in option for option in spec.values())  # defaults come after profiles/env


def test_environment_fills_what_options_leave_unset():
    environ = {"SIGCALCLOUD_PUBLIC_KEY": "env-pub", "SIGCALCLOUD_PRIVATE_KEY": "env-secret",
               "SIGCALCLOUD_REGION": "env-region", "SIGCALCLOUD_TIMEOUT": "9"}
    settings = _settings.resolve({"public_key": "task-pub", "region": ""}, environ=environ)
    assert (settings.public_key, settings.private_key, settings.region) == ("task-pub", "env-secret", "env-region")
    assert settings.timeout == 9


def test_empty_environment_leaves_defaults():
    settings = _settings.resolve(GOOD, environ={})
    assert settings.base_url == "https://api.sigcalcloud.com"


# --- ca_path, and passwords in base_url (issue 12, items 7 and 14) ---------------------

def test_ca_path_may_be_a_bundle_file_or_a_folder(tmp_path):
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    assert _settings.resolve(dict(GOOD, ca_path=str(bundle))).ca_path == str(bundle)
    assert _settings.resolve(dict(GOOD, ca_path=str(tmp_path))).ca_path == str(tmp_path)


def test_ca_path_that_is_a_fifo_or_a_device_is_refused(tmp_path):
    fifo = tmp_path / "ca.fifo"
    os.mkfifo(str(fifo))
    for path, kind in ((str(fifo), "a FIFO"), ("/dev/null", "a character device")):
        with pytest.raises(_settings.OptionError) as caught:
            _settings.resolve(dict(GOOD, ca_path=path))
        assert str(caught.value) == "ca_path %s is %s, not a CA bundle file or a directory of CA certificates" % (
            path, kind)
    with pytest.raises(_settings.OptionError, match=r"^ca_path %s/x does not exist$" % fifo):
        _settings.resolve(dict(GOOD, ca_path=str(fifo) + "/x"))


@pytest.mark.parametrize("base_url, shown", [
    ("ftp://alice:secret@gateway/", "ftp://<redacted>@gateway/"),
    ("alice:secret@gateway", "<redacted>@gateway"),                      # no scheme at all
    ("htps://alice:p@ss/word@gateway/x", "htps://<redacted>@gateway/x"),  # @ and / in the password
    (" https:/alice:secret@gateway", "<redacted>@gateway"),              # a scheme mistyped
])
def test_a_password_in_a_wrong_base_url_is_not_shown(base_url, shown):
    with pytest.raises(_settings.OptionError) as caught:
        _settings.resolve(dict(GOOD, base_url=base_url))
    assert str(caught.value) == "base_url=%r must start with https:// (or http:// for a local emulator)" % shown
    assert "secret" not in str(caught.value) and "word" not in str(caught.value)


def test_a_password_in_base_url_is_not_in_repr():
    settings = _settings.resolve(dict(GOOD, base_url="https://alice:secret@gateway:8443/api"))
    assert settings.base_url == "https://alice:secret@gateway:8443/api"  # still used as given
    assert "base_url='https://<redacted>@gateway:8443/api'" in repr(settings) and "alice" not in repr(settings)
