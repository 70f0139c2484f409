# -*- coding: utf-8 -*-
# Copyright: sigcalcloud.cloud contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Connection settings: the options every plugin shares, their environment
variables, defaults and checks, resolved the same way for every face.

The doc fragment ``sigcalcloud.cloud.connection`` documents exactly these options;
a unit test keeps the two in step.
"""

from __future__ import annotations

import os

from ansible_collections.sigcalcloud.cloud.plugins.module_utils._client import Client, DEFAULT_BASE_URL

# name -> (type, environment variable, built-in default)
CONNECTION_OPTIONS = {
    "public_key": ("str", "SIGCALCLOUD_PUBLIC_KEY", None),
    "private_key": ("str", "SIGCALCLOUD_PRIVATE_KEY", None),
    "region": ("str", "SIGCALCLOUD_REGION", None),
    "project_id": ("str", "SIGCALCLOUD_PROJECT_ID", None),
    "base_url": ("str", "SIGCALCLOUD_BASE_URL", DEFAULT_BASE_URL),
    "validate_certs": ("bool", "SIGCALCLOUD_VALIDATE_CERTS", True),
    "ca_path": ("path", "SIGCALCLOUD_CA_PATH", None),
    "timeout": ("int", "SIGCALCLOUD_TIMEOUT", 30),
    "max_retries": ("int", "SIGCALCLOUD_MAX_RETRIES", 3),
    "max_concurrency": ("int", "SIGCALCLOUD_MAX_CONCURRENCY", 16),
}
SECRET_OPTIONS = ("private_key",)

# Inclusive bounds for the numeric options, so a typo fails early and clearly.
BOUNDS = {
    "timeout": (1, 3600),
    "max_retries": (0, 10),
    "max_concurrency": (1, 64),
}


class SettingsError(ValueError):
    """A connection option is missing or has a value we cannot use."""


def module_argument_spec():
    """AnsibleModule argument spec for the connection options.

    Environment variables are read as fallbacks; built-in defaults are applied
    later by ``resolve`` so that a value's source can be told apart.
    """
    from ansible.module_utils.basic import env_fallback

    spec = {}
    for name, (kind, env, _default) in CONNECTION_OPTIONS.items():
        spec[name] = {"type": kind, "fallback": (env_fallback, [env])}
        if name in SECRET_OPTIONS:
            spec[name]["no_log"] = True
    return spec


class Settings:
    """Resolved connection settings. ``repr`` never shows the private key."""

    def __init__(self, values):
        self.__dict__.update(values)

    def __repr__(self):
        shown = ", ".join("%s=%r" % (k, v) for k, v in sorted(self.__dict__.items()) if k not in SECRET_OPTIONS)
        return "Settings(%s)" % shown

    def client(self):
        return Client(
            public_key=self.public_key,
            private_key=self.private_key,
            base_url=self.base_url,
            project_id=self.project_id,
            timeout=self.timeout,
            max_retries=self.max_retries,
            validate_certs=self.validate_certs,
            ca_path=self.ca_path,
            pool_size=self.max_concurrency,
        )


def _blank(value):
    return value is None or (isinstance(value, str) and not value.strip())


def _as_bool(name, value):
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on", "y"):
        return True
    if text in ("0", "false", "no", "off", "n"):
        return False
    raise SettingsError("%s=%r is not a boolean: use true or false" % (name, value))


def resolve(options, require_region=True, environ=None):
    """Resolve the connection settings, check them, return Settings.

    Precedence: ``options`` (what the user gave the task, inventory file or rulebook)
    > the option's environment variable > the built-in default. The module and the
    inventory plugin have Ansible merge the environment already; the event source
    passes its arguments straight. Raises SettingsError naming the problem.
    """
    environ = os.environ if environ is None else environ
    values = {}
    for name, (_kind, env, default) in CONNECTION_OPTIONS.items():
        value = options.get(name)
        if _blank(value):
            value = environ.get(env)
        if isinstance(value, str):
            value = value.strip()
        values[name] = default if _blank(value) else value

    required = ["public_key", "private_key"] + (["region"] if require_region else [])
    missing = [name for name in required if _blank(values[name])]
    if missing:
        raise SettingsError(
            "missing or empty %s: set %s, or the environment variable%s %s" % (
                ", ".join(missing), "it" if len(missing) == 1 else "them",
                "" if len(missing) == 1 else "s",
                ", ".join(CONNECTION_OPTIONS[name][1] for name in missing)))

    if not values["base_url"].startswith(("http://", "https://")):
        raise SettingsError("base_url=%r must start with https:// (or http:// for a local emulator)"
                            % values["base_url"])
    for name, (low, high) in BOUNDS.items():
        value = values[name]
        if isinstance(value, bool) or not isinstance(value, int):
            try:
                value = int(str(value).strip())
            except ValueError:
                raise SettingsError("%s=%r is not an integer" % (name, values[name]))
        if not low <= value <= high:
            raise SettingsError("%s=%s is out of range: use %d to %d" % (name, value, low, high))
        values[name] = value
    values["validate_certs"] = _as_bool("validate_certs", values["validate_certs"])
    if values["ca_path"]:
        values["ca_path"] = os.path.expanduser(values["ca_path"])
        if not os.path.exists(values["ca_path"]):
            raise SettingsError("ca_path %s does not exist" % values["ca_path"])
    return Settings(values)
