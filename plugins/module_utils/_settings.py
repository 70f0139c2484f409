# -*- coding: utf-8 -*-
# Copyright: sigcalcloud.cloud contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Connection settings: the options every plugin shares, their environment
variables, the shared profile files, defaults and checks, resolved the same way
for every face.

Precedence, highest first: the option as given (task, inventory file, rulebook),
its environment variable, the profile in ~/.sigcalcloud/, the built-in default.
(The cloud's own tools let the profile file win over the environment; Ansible
users expect the explicit value to win, as amazon.aws does.)

The doc fragment ``sigcalcloud.cloud.connection`` documents exactly these options;
a unit test keeps the two in step.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from typing import Any, Iterable, Mapping

from ansible_collections.sigcalcloud.cloud.plugins.module_utils import _files
from ansible_collections.sigcalcloud.cloud.plugins.module_utils._client import Client, DEFAULT_BASE_URL, DEFAULT_MAX_ROWS
from ansible_collections.sigcalcloud.cloud.plugins.module_utils._options import OptionError, as_bool
from ansible_collections.sigcalcloud.cloud.plugins.module_utils._text import redact_url

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
    "max_rows": ("int", "SIGCALCLOUD_MAX_ROWS", DEFAULT_MAX_ROWS),
    "profile": ("str", "SIGCALCLOUD_PROFILE", None),
}
SECRET_OPTIONS = ("private_key",)
# Salt of Settings.account(): cache keys (Settings.cache_key) and state scopes carry that hash, never the key.
ACCOUNT_SALT = "sigcalcloud.cloud/account/v1\x00"

CREDENTIAL_FILE_ENV = "SIGCALCLOUD_SHARED_CREDENTIAL_FILE"
CONFIG_FILE_ENV = "SIGCALCLOUD_SHARED_CONFIG_FILE"
DEFAULT_CREDENTIAL_FILE = "~/.sigcalcloud/credential.json"
DEFAULT_CONFIG_FILE = "~/.sigcalcloud/config.json"
# File field -> option, and the JSON types a field may hold.
CREDENTIAL_FIELDS = {"public_key": ("public_key", str), "private_key": ("private_key", str)}
CONFIG_FIELDS = {"project_id": ("project_id", str), "region": ("region", str), "base_url": ("base_url", str),
                 "timeout_sec": ("timeout", int)}
# A profile file holds a few profiles: a few hundred bytes each. Anything larger than this
# is not one (a log, an image, /dev/zero behind a link) and is refused before it fills memory.
PROFILE_FILE_MAX_BYTES = 1024 * 1024

# Inclusive bounds for the numeric options, so a typo fails early and clearly.
BOUNDS = {
    "timeout": (1, 3600),
    "max_retries": (0, 10),
    "max_concurrency": (1, 64),
    "max_rows": (1, 1000000),
}


def module_argument_spec() -> dict[str, dict[str, Any]]:
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
    """Resolved connection settings. ``repr`` never shows the private key.

    One attribute for each of CONNECTION_OPTIONS (a unit test keeps the two in step), and
    ``warnings``: what the face should tell the user (e.g. a credential file others can read).
    """

    def __init__(self, values: Mapping[str, Any], warnings: Iterable[str] = ()) -> None:
        self.public_key: str | None = values["public_key"]
        self.private_key: str | None = values["private_key"]
        self.region: str | None = values["region"]
        self.project_id: str | None = values["project_id"]
        self.base_url: str = values["base_url"]
        self.validate_certs: bool = values["validate_certs"]
        self.ca_path: str | None = values["ca_path"]
        self.timeout: int = values["timeout"]
        self.max_retries: int = values["max_retries"]
        self.max_concurrency: int = values["max_concurrency"]
        self.max_rows: int = values["max_rows"]
        self.profile: str | None = values["profile"]
        self.warnings: list[str] = list(warnings)

    def require(self, *names: str) -> None:
        """Raise OptionError naming every option of ``names`` that has no value."""
        missing = [name for name in names if _blank(getattr(self, name))]
        if missing:
            raise OptionError(
                "missing or empty %s: set %s, the environment variable%s %s, or a profile in %s" % (
                    ", ".join(missing), "it" if len(missing) == 1 else "them",
                    "" if len(missing) == 1 else "s",
                    ", ".join(CONNECTION_OPTIONS[name][1] for name in missing), DEFAULT_CREDENTIAL_FILE
                    if any(name in CREDENTIAL_FIELDS for name in missing) else DEFAULT_CONFIG_FILE))

    def __repr__(self) -> str:
        shown = ", ".join("%s=%r" % (k, _shown_url(v) if k == "base_url" else v)
                          for k, v in sorted(self.__dict__.items())
                          if k not in SECRET_OPTIONS and k != "warnings")
        return "Settings(%s)" % shown

    def account(self) -> str | None:
        """Which account these settings speak for, as a salted hash of the public key.

        It keys caches and state files, so that another account (another key or profile)
        never reads what this one stored. The key itself is never stored; the fixed salt
        keeps the hash from matching a plain SHA-256 of the key found elsewhere.
        """
        if _blank(self.public_key):
            return None
        return hashlib.sha256((ACCOUNT_SALT + self.public_key).encode("utf-8")).hexdigest()[:32]

    def cache_key(self, asked: Any) -> str:
        """A short key (12 hex digits) for a cache of the answers to ``asked``, of this endpoint
        by this account: another account, or another base_url, is a miss.

        ``asked`` is JSON-encoded (``str`` of anything JSON has no form for) with the base_url
        and ``account()`` (the salted hash of the public key, hashed again here), never the
        credentials. The value must not change between releases: it names existing cache entries.
        """
        text = json.dumps([self.base_url, self.account(), asked], default=str)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]

    def client(self) -> Client:
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
            max_rows=self.max_rows,
        )


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _shown_url(url: Any) -> Any:
    """``url`` fit to show: no password, even in a URL too broken for ``redact_url``.

    ``redact_url`` hides the userinfo of a well-formed URL. A base_url is shown when it is
    wrong, though (no scheme: ``alice:secret@gateway``; an ``@`` or ``/`` in the password),
    so everything from the start of the authority up to the last ``@`` is hidden.
    """
    if not isinstance(url, str):
        return url
    if "@" in url:
        head, sep, rest = url.partition("://")
        if not sep:
            head, rest = "", url
        url = head + sep + "<redacted>@" + rest.rpartition("@")[2]
    return redact_url(url)


def resolve(options: Mapping[str, Any], require_region: bool = True, require_keys: bool = True,
            environ: Mapping[str, str] | None = None) -> Settings:
    """Resolve the connection settings, check them, return Settings.

    ``options`` is what the user gave the task, inventory file or rulebook. The
    module and the inventory plugin have Ansible merge the environment already; the
    event source passes its arguments straight: either way unset options are looked
    up in the environment, then in the profile files, then take their default.
    Raises OptionError naming the problem.
    """
    environ = os.environ if environ is None else environ
    given = {}
    for name, (_kind, env, _default) in CONNECTION_OPTIONS.items():
        value = options.get(name)
        if _blank(value):
            value = environ.get(env)
        given[name] = value.strip() if isinstance(value, str) else value

    profile_values, warnings = {}, []
    wanted_from_profile = set(CREDENTIAL_FIELDS) | set(option for option, _t in CONFIG_FIELDS.values())
    if not _blank(given["profile"]) or any(_blank(given[name]) for name in wanted_from_profile):
        profile_values, warnings = load_profile(given["profile"], environ)

    values = {}
    for name, (_kind, _env, default) in CONNECTION_OPTIONS.items():
        value = given[name]
        if _blank(value):
            value = profile_values.get(name)
        values[name] = default if _blank(value) else value
    settings = Settings(_checked(values), warnings)
    settings.require(*((["public_key", "private_key"] if require_keys else []) + (["region"] if require_region else [])))
    return settings


def _checked(values: dict[str, Any]) -> dict[str, Any]:
    base_url = values["base_url"]
    if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
        raise OptionError("base_url=%r must start with https:// (or http:// for a local emulator)"
                          % (_shown_url(base_url),))
    for name, (low, high) in BOUNDS.items():
        value = values[name]
        if isinstance(value, bool) or not isinstance(value, int):
            try:
                value = int(str(value).strip())
            except ValueError:
                raise OptionError("%s=%r is not an integer" % (name, values[name]))
        if not low <= value <= high:
            raise OptionError("%s=%s is out of range: use %d to %d" % (name, value, low, high))
        values[name] = value
    values["validate_certs"] = as_bool("validate_certs", values["validate_certs"])
    if values["ca_path"]:
        values["ca_path"] = _checked_ca_path(os.path.expanduser(values["ca_path"]))
    return values


def _checked_ca_path(path: str) -> str:
    """``path`` if it is a CA bundle file or a folder of CA certificates (requests takes either).

    Anything else (a FIFO that would block the TLS set-up, a device) is refused here,
    before any request.
    """
    try:
        mode = os.stat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        raise OptionError("ca_path %s does not exist" % path)
    except OSError as exc:
        raise OptionError("cannot read ca_path %s: %s" % (path, exc.strerror))
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        raise OptionError("ca_path %s is %s, not a CA bundle file or a directory of CA certificates"
                          % (path, _files.file_kind(mode)))
    return path


# --- the shared profile files -------------------------------------------------------

def _read_regular_file(path: str) -> tuple[str | None, int | None]:
    """The text of the regular file ``path`` and its mode, or (None, None) when it does not exist.

    A FIFO, a device, a folder, or a file over PROFILE_FILE_MAX_BYTES is a OptionError
    (see ``_files.read_regular_file``).
    """
    try:
        data, mode = _files.read_regular_file(path, PROFILE_FILE_MAX_BYTES)
    except _files.FileRefused as exc:
        raise OptionError("%s %s%s" % (path, exc, ", too large for a profile file" if exc.too_large else ""))
    except OSError as exc:
        raise OptionError("cannot read %s: %s" % (path, exc.strerror))
    if data is None:
        return None, None
    try:
        return data.decode("utf-8"), mode
    except UnicodeDecodeError as exc:
        raise OptionError("%s is not UTF-8 text: %s" % (path, exc))


def _load_profile_file(path: str) -> tuple[list[dict[str, Any]], int | None]:
    """The entries of a profile file as a list of dicts ([] when it does not exist), and its mode."""
    text, mode = _read_regular_file(path)
    if text is None:
        return [], None
    try:
        entries = json.loads(text)
    except RecursionError:
        raise OptionError("%s is not valid JSON: nested too deeply" % path)
    except ValueError as exc:
        raise OptionError("%s is not valid JSON: %s" % (path, exc))
    if not isinstance(entries, list):
        raise OptionError("%s must hold a JSON array of profiles, not %s" % (path, type(entries).__name__))
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise OptionError("%s: entry %d must be an object, not %s" % (path, index, type(entry).__name__))
        if not isinstance(entry.get("profile"), str) or not entry["profile"].strip():
            raise OptionError("%s: entry %d has no profile name (a string field \"profile\")" % (path, index))
    return entries, mode


def _read_profile_file(path: str) -> list[dict[str, Any]]:
    """The entries of a profile file as a list of dicts, or [] when it does not exist."""
    return _load_profile_file(path)[0]


def _profile_fields(path: str, entry: dict[str, Any], index: int,
                    fields: dict[str, tuple[str, type]]) -> dict[str, Any]:
    values = {}
    for field, (option, kind) in fields.items():
        value = entry.get(field)
        if value is None:
            continue
        if not isinstance(value, kind) or isinstance(value, bool):
            raise OptionError("%s: entry %d (profile %r): %s must be %s" % (
                path, index, entry["profile"], field, "an integer" if kind is int else "a string"))
        values[option] = value
    return values


def load_profile(name: str | None, environ: Mapping[str, str] | None = None) -> tuple[dict[str, Any], list[str]]:
    """The options a profile sets, and warnings, from the credential and config files.

    With no ``name``: the config entry marked ``active``, else the profile named
    ``default``; a missing default is no error. A named profile must exist.
    """
    environ = os.environ if environ is None else environ
    credential_path = os.path.expanduser(environ.get(CREDENTIAL_FILE_ENV) or DEFAULT_CREDENTIAL_FILE)
    config_path = os.path.expanduser(environ.get(CONFIG_FILE_ENV) or DEFAULT_CONFIG_FILE)
    credentials, credential_mode = _load_profile_file(credential_path)
    configs, _config_mode = _load_profile_file(config_path)

    if _blank(name):
        active = [entry["profile"] for entry in configs if entry.get("active") is True]
        if len(active) > 1:
            raise OptionError("%s: more than one profile is marked active (%s)" % (config_path, ", ".join(active)))
        name, required = (active[0], True) if active else ("default", False)
    else:
        required = True

    values = {}
    found = False
    for path, entries, fields in ((config_path, configs, CONFIG_FIELDS), (credential_path, credentials, CREDENTIAL_FIELDS)):
        for index, entry in enumerate(entries):
            if entry["profile"] == name:
                values.update(_profile_fields(path, entry, index, fields))
                found = True
    if required and not found:
        raise OptionError("profile %r is not in %s or %s" % (name, credential_path, config_path))

    warnings = []
    # The mode of the file as it was read (fstat of the open file), not of a later stat.
    if credentials and os.name == "posix" and credential_mode & (stat.S_IRWXG | stat.S_IRWXO):
        warnings.append("%s can be read by other users (mode %s): run chmod 600 %s" % (
            credential_path, oct(stat.S_IMODE(credential_mode)), credential_path))
    return values, warnings
