# -*- coding: utf-8 -*-
# Copyright: sigcalcloud.cloud contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""An Event-Driven Ansible source: events when URedis backups appear, change state,
disappear, or when a Redis group has gone too long without a good backup.

It polls ``DescribeURedisBackup`` through the collection's shared client (the same
signing, retries, paging and facts as the ``uredis_backup_info`` module) and hands
what changed to ``ansible-rulebook``. What changed is decided by the pure functions
of ``plugins/module_utils/_events.py``; this file is the face: arguments, the polling
loop, the state file.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime
import json
import logging
import os
import pathlib
import sys
import tempfile
import time
from typing import Any

DOCUMENTATION = r"""
---
short_description: Events when URedis backups appear, change state, disappear or go stale
description:
  - An ansible-rulebook event source plugin that polls the sigcalcloud API
    (C(DescribeURedisBackup), and C(DescribeURedisGroup) with O(watch_groups)) every O(interval)
    seconds and sends an event for each backup
    that is new, has changed state, or has gone, and for each Redis group whose newest
    C(Success) backup has become older than O(stale_after) (and again when it recovers).
  - Every backup event holds the backup's facts exactly as the
    M(sigcalcloud.cloud.uredis_backup_info) module returns them (C(backup_id), C(state),
    C(group_id), C(backup_time_iso), ..., C(region), C(project_id)) and a C(type), one of
    C(backup_new), C(backup_state_changed) (with C(previous_state)) or C(backup_removed).
  - Group events have the C(type) C(group_stale), C(group_recovered), C(group_auto_backup_disabled)
    or C(group_auto_backup_enabled), and C(region), C(project_id), C(group_id), C(group_name),
    C(stale_after) (seconds), C(last_success) (the newest C(Success) backup's facts, or null),
    C(last_success_age) (seconds, or null) and C(group) (the group's facts as
    M(sigcalcloud.cloud.uredis_group_info) returns them, or null for a group known only by its backups).
  - With O(watch_groups) (the default), each poll also lists the Redis groups (C(DescribeURedisGroup)),
    so that a group that has never been backed up goes C(group_stale) too, and a group whose automatic
    backups are switched off sends C(group_auto_backup_disabled) (C(group_auto_backup_enabled) when they
    are switched back on).
  - A listing that fails sends an event of C(type) C(api_error) with C(message), C(region),
    C(action), C(ret_code), C(http_status) and C(request_id) (never the private key), and
    polling goes on. A poll with a failed listing announces no removal and no change of
    staleness, since what it could not see may still be there; a poll whose group listing
    failed announces no change of automatic backups either (the next one that answers does).
  - A removal is confirmed before it is announced, so that one listing that misses backups (an
    empty or a short answer) sets nothing off. A backup is announced C(backup_removed) only when two
    complete polls in a row (polls where no listing failed) do not list it, one poll after it went.
    A poll with a failed listing in between neither confirms nor cancels that removal. A backup that
    one poll misses and the next one lists again sends no event at all, and meanwhile counts for its
    group's staleness as before. Such a poll is reported in the log with a warning (how many backups
    of those remembered are missing, their regions and ids), and so is the poll that lists them
    again. Likewise a group that one complete group listing misses keeps its automatic backup policy
    and its staleness until the next one misses it too.
  - The first poll announces nothing but remembers what exists, unless O(announce_existing).
    With O(state_file), what was seen is kept across restarts, so a restart announces
    only what changed meanwhile.
  - The requests run in a worker thread, off the event loop, with the client's timeout and
    retries. Cancelling the source stops it at once.
  - Needs the Python library C(requests) where ansible-rulebook runs.
  - See R(the Event-Driven Ansible guide,ansible_collections.sigcalcloud.cloud.docsite.eda) for a complete rulebook.
author:
  - sigcalcloud.cloud developers (@sigcalcloud)
version_added: 0.1.0
options:
  public_key:
    description:
      - Required. The API public key. Default from the environment variable E(SIGCALCLOUD_PUBLIC_KEY),
        else the profile; the source fails at start when none is set.
    type: str
  private_key:
    description:
      - Required. The API private key. Default from the environment variable E(SIGCALCLOUD_PRIVATE_KEY),
        else the profile; the source fails at start when none is set.
    type: str
  profile:
    description:
      - The profile of the cloud's shared files C(~/.sigcalcloud/credential.json) and
        C(~/.sigcalcloud/config.json) that fills the connection arguments left unset.
        Default from E(SIGCALCLOUD_PROFILE), else the active or V(default) profile.
    type: str
  region:
    description:
      - The region to watch when O(regions) is not set (one of the two is required).
        Default from the environment variable E(SIGCALCLOUD_REGION), else the profile.
    type: str
  regions:
    description:
      - The regions to watch. Default O(region).
    type: list
    elements: str
  project_id:
    description:
      - The project to watch. Default from E(SIGCALCLOUD_PROJECT_ID), else the profile, else the
        account's default project.
    type: str
  base_url:
    description:
      - The API endpoint. Default from E(SIGCALCLOUD_BASE_URL), else the profile,
        else V(https://api.sigcalcloud.com).
    type: str
  validate_certs:
    description: Verify the endpoint's TLS certificate. Default from E(SIGCALCLOUD_VALIDATE_CERTS), else V(true).
    type: bool
  ca_path:
    description: A CA bundle to verify the endpoint with. Default from E(SIGCALCLOUD_CA_PATH).
    type: path
  timeout:
    description:
      - Seconds to wait for one answer. Default from E(SIGCALCLOUD_TIMEOUT), else the profile, else V(30).
    type: int
  max_retries:
    description: Retries of a transient failure. Default from E(SIGCALCLOUD_MAX_RETRIES), else V(3).
    type: int
  max_concurrency:
    description: Pages read at once. Default from E(SIGCALCLOUD_MAX_CONCURRENCY), else V(16).
    type: int
  max_rows:
    description:
      - The most rows (backups or groups) one listing may hold; a listing that claims or serves more fails
        (an C(api_error) event naming this argument) before it fills memory. Default from
        E(SIGCALCLOUD_MAX_ROWS), else V(100000), far above any real account.
    type: int
  group_ids:
    description:
      - Only the backups of these Redis groups. All groups when empty.
    type: list
    elements: str
    default: []
  region_types:
    description:
      - V(normal) watches ordinary backups; V(source) and V(target) watch cross-region backups
        whose source or target is the region. A backup listed from both sides is one backup.
    type: list
    elements: str
    choices: [normal, source, target]
    default: [normal]
  interval:
    description:
      - Seconds from the start of one poll to the start of the next. Also an age such as V(5m).
    type: int
    default: 60
  stale_after:
    description:
      - An age such as V(26h), V(90m) or V(1d12h) (or a number of seconds). A Redis group whose
        newest C(Success) backup is older than this, or that has none, is announced once with
        C(group_stale), and with C(group_recovered) when it has a fresh one again.
      - A group that has no C(Success) backup at all is stale once it has existed longer than this (its
        C(create_time)); a group known only by its backups (O(watch_groups=false)) as soon as it has none.
      - Without it, no C(group_stale) or C(group_recovered) events are sent.
    type: str
  watch_groups:
    description:
      - List the Redis groups at each poll too (one more request per region, or per group of
        O(group_ids)), so that groups without any backup are watched for staleness and every group's
        automatic backup policy is watched (C(group_auto_backup_disabled), C(group_auto_backup_enabled)).
      - With V(false), groups are known only by their backups, and no policy events are sent.
        Set it to V(false) for an account that may not list groups, since a failing group listing sends
        an C(api_error) at every poll and holds back every change of staleness.
    type: bool
    default: true
    version_added: 1.0.0
  state_file:
    description:
      - A JSON file where the source remembers what it has seen, written after each poll's
        events are on the queue. Its folder must exist.
      - A state file written for other regions, region types, groups, project, endpoint or
        account (another public key or profile) is not used (the source then starts as on a
        first poll). The account is kept as a salted hash of the public key, never the key.
      - The state file is version 3 (it also remembers the backups and groups pending removal). A state
        file of version 2 (written by 1.0.0) is used, and rewritten as version 3, with nothing pending
        removal.
      - A state file of version 1 (written before groups were listed) is used, and rewritten as
        version 3; the first poll that then lists the groups learns their automatic backups
        without announcing them (unless O(announce_existing)).
      - A state file that is not one the source writes (not JSON, not a regular file, larger
        than 64 MiB, or a value of the wrong type inside) is set aside, renamed to
        C(<state_file>.invalid-<UTC time>), with a warning that says why, and the source starts
        afresh.
    type: path
  announce_existing:
    description:
      - Send C(backup_new) (and C(group_stale), and C(group_auto_backup_disabled) for groups whose
        automatic backups are off) for what already exists at the first poll, instead of only
        remembering it.
    type: bool
    default: false
"""

EXAMPLES = r"""
- sigcalcloud.cloud.uredis_backup_events:
    regions: [cn-bj2, cn-sh2]
    interval: 60
    stale_after: 26h
    state_file: /var/lib/eda/uredis-backups.json

- sigcalcloud.cloud.uredis_backup_events:
    public_key: "{{ sigcalcloud_public_key }}"
    private_key: "{{ sigcalcloud_private_key }}"
    region: cn-bj2
    group_ids: [uredis-abc123]
    region_types: [normal, source]
    interval: 5m
"""


def _put_collections_on_path() -> None:
    """Make ``ansible_collections.sigcalcloud.cloud`` importable.

    ansible-rulebook runs a source by its file path, not as part of a package, so the
    folder that holds ``ansible_collections`` is not on sys.path. It is seven levels above
    this file's folder. The path is taken as found, not resolved: the collection is often a
    symlink (to a checkout) inside an ``ansible_collections`` tree. The folder goes first,
    so that the shared code is from the same copy of the collection as this file.
    """
    here = pathlib.PurePath(os.path.abspath(__file__))
    # .../ansible_collections/sigcalcloud/cloud/extensions/eda/plugins/event_source/this.py
    if here.parents[6].name == "ansible_collections" and str(here.parents[7]) not in sys.path:
        sys.path.insert(0, str(here.parents[7]))


_put_collections_on_path()

from ansible_collections.sigcalcloud.cloud.plugins.module_utils import _client
from ansible_collections.sigcalcloud.cloud.plugins.module_utils import _transport
from ansible_collections.sigcalcloud.cloud.plugins.module_utils import _text
from ansible_collections.sigcalcloud.cloud.plugins.module_utils import _events
from ansible_collections.sigcalcloud.cloud.plugins.module_utils import _files
from ansible_collections.sigcalcloud.cloud.plugins.module_utils import _groups
from ansible_collections.sigcalcloud.cloud.plugins.module_utils import _listings
from ansible_collections.sigcalcloud.cloud.plugins.module_utils import _options
from ansible_collections.sigcalcloud.cloud.plugins.module_utils import _settings
from ansible_collections.sigcalcloud.cloud.plugins.module_utils import _backups

NAME = "sigcalcloud.cloud.uredis_backup_events"
# A state file holds the facts of every backup watched (some 600 bytes each): this is
# room for some 100,000, and a bound on what a wrong path (a log, a disk image) costs.
STATE_FILE_MAX_BYTES = 64 << 20
SOURCE_ARGS = ("regions", "group_ids", "region_types", "interval", "stale_after", "state_file",
               "announce_existing", "watch_groups")
DEFAULT_INTERVAL = 60

logger = logging.getLogger(NAME)


# --- arguments ----------------------------------------------------------------------


class Config:
    """The source's checked arguments. ``repr`` never shows the private key (Settings hides it)."""

    def __init__(self, *, settings: _settings.Settings, regions: list[str], region_types: list[str],
                 group_ids: list[str], interval: float, stale_after: int | None, state_file: str | None,
                 announce_existing: bool, watch_groups: bool) -> None:
        self.settings = settings
        self.regions = regions
        self.region_types = region_types
        self.group_ids = group_ids
        self.interval = interval  # seconds between the starts of two polls
        self.stale_after = stale_after  # seconds; None: no group staleness events
        self.state_file = state_file  # an absolute path, or None: nothing remembered
        self.announce_existing = announce_existing
        self.watch_groups = watch_groups

    def __repr__(self) -> str:
        return "Config(%s)" % ", ".join("%s=%r" % item for item in sorted(self.__dict__.items()))


def _names(name: str, value: Any) -> list[str]:
    """A list of non-empty strings from a list, or from one comma-separated string."""
    if value is None:
        return []
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, (list, tuple)) or not all(isinstance(item, str) for item in value):
        raise ValueError("%s must be a list of strings, not %r" % (name, value))
    return [item.strip() for item in value if item.strip()]


def _seconds(name: str, value: Any) -> float:
    """Positive seconds from a number, a string of digits, or an age such as 26h."""
    if isinstance(value, int) and not isinstance(value, bool):
        seconds = value if abs(value) <= _options.AGE_MAX_SECONDS else float("inf")  # float() of a huge int raises
    elif isinstance(value, float):
        seconds = value
    elif isinstance(value, str) and value.strip().replace(".", "", 1).isdigit() and len(value.strip()) <= 20:
        seconds = float(value)
    else:
        seconds = _options.parse_age(value, name=name)
        if seconds is None:
            raise ValueError("%s=%s is not a number of seconds or an age such as 90m, 26h or 1d12h"
                             % (name, _options.shown_value(value)))
    if not 0 < seconds <= _options.AGE_MAX_SECONDS:  # also NaN and infinity
        raise ValueError("%s=%s must be more than 0 seconds and at most %dd (100 years)"
                         % (name, _options.shown_value(value), _options.AGE_MAX_DAYS))
    return seconds


def parse_args(args: dict[str, Any], environ: dict[str, str] | None = None) -> Config:
    """Check the rulebook's arguments; raises ValueError naming the argument at fault."""
    try:
        return _parse_args(args, environ)
    except ValueError as exc:
        raise ValueError("%s: %s" % (NAME, exc)) from None


def _parse_args(args: dict[str, Any], environ: dict[str, str] | None) -> Config:
    if not isinstance(args, dict):
        raise ValueError("the arguments must be a mapping")
    known = set(_settings.CONNECTION_OPTIONS) | set(SOURCE_ARGS)
    # ansible-rulebook may add its own arguments (eda_feedback_queue); they start with eda_.
    unknown = sorted(name for name in args if name not in known and not name.startswith("eda_"))
    if unknown:
        raise ValueError("unknown argument%s %s; valid arguments are: %s" % (
            "s" if len(unknown) > 1 else "", ", ".join(unknown), ", ".join(sorted(known))))

    settings = _settings.resolve(dict((name, args.get(name)) for name in _settings.CONNECTION_OPTIONS),
                                 require_region=False, environ=environ)
    regions = _names("regions", args.get("regions")) or ([settings.region] if settings.region else [])
    if not regions:
        raise ValueError("no region to watch: set regions (or region), or the environment variable "
                         "SIGCALCLOUD_REGION")
    region_types = _names("region_types", args.get("region_types")) or ["normal"]
    wrong = [kind for kind in region_types if kind not in _backups.REGION_TYPES]
    if wrong:
        raise ValueError("region_types has %s; use %s" % (", ".join(wrong), ", ".join(_backups.REGION_TYPES)))
    group_ids = _names("group_ids", args.get("group_ids"))

    interval = args.get("interval")
    stale_after = args.get("stale_after")
    state_file = args.get("state_file")
    if state_file is not None:
        if not isinstance(state_file, str) or not state_file.strip():
            raise ValueError("state_file must be a file path, not %r" % (state_file,))
        state_file = os.path.abspath(os.path.expanduser(state_file.strip()))
        if not os.path.isdir(os.path.dirname(state_file)):
            raise ValueError("state_file %s: its folder does not exist" % state_file)
    announce = args.get("announce_existing")
    watch_groups = args.get("watch_groups")

    return Config(
        settings=settings,
        regions=list(dict.fromkeys(regions)),
        region_types=list(dict.fromkeys(region_types)),
        group_ids=list(dict.fromkeys(group_ids)),
        interval=DEFAULT_INTERVAL if interval is None else _seconds("interval", interval),
        stale_after=None if stale_after in (None, "") else int(_seconds("stale_after", stale_after)),
        state_file=state_file,
        announce_existing=False if announce is None else _options.as_bool("announce_existing", announce),
        watch_groups=True if watch_groups is None else _options.as_bool("watch_groups", watch_groups),
    )


def scope(config: Config) -> dict[str, Any]:
    """What is watched: a state file remembered for another scope is not used.

    The account is a salted hash of the public key: a switch of account starts afresh,
    and the state file never holds the key.
    """
    return {
        "account": config.settings.account(),
        "base_url": config.settings.base_url,
        "project_id": config.settings.project_id,
        "regions": sorted(config.regions),
        "region_types": sorted(config.region_types),
        "group_ids": sorted(config.group_ids),
    }


# --- the state file -----------------------------------------------------------------


class UnusableStateFile(ValueError):
    """The state file's content (or the file itself) is not a state the source wrote."""


def load_state(config: Config) -> dict[str, Any]:
    """The remembered state, or a fresh one. A file that is not a state is set aside."""
    watched = scope(config)
    path = config.state_file
    if not path or not os.path.lexists(path):
        return _events.new_state(watched)
    try:
        return _events.restore_state(read_state_file(path), watched)
    except _events.OtherScope as exc:  # sound, only not ours: the next save replaces it
        logger.warning("not using state_file %s: %s; starting afresh", path, _text.printable(exc))
    except OSError as exc:  # unreadable, not wrong: left where it is
        logger.warning("not using state_file %s: %s; starting afresh", path, exc)
    except ValueError as exc:  # not a state we wrote: kept aside for a look, never tripped over again
        logger.warning("state_file %s is not usable: %s; %s, and the source starts afresh",
                       path, _text.printable(exc), set_aside(path))
    return _events.new_state(watched)


def read_state_file(path: str) -> Any:
    """The JSON in ``path``. Only a regular file is read, at most STATE_FILE_MAX_BYTES of it:
    a FIFO would hang the source, a link to a device would read without end."""
    try:
        data, _mode = _files.read_regular_file(path, STATE_FILE_MAX_BYTES)
    except _files.FileRefused as exc:
        raise UnusableStateFile("it %s" % exc)
    if data is None:
        raise FileNotFoundError(2, "No such file or directory", path)  # gone since load_state looked
    try:
        return json.loads(data.decode("utf-8"))
    except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError both are
        raise UnusableStateFile("it is not JSON (%s)" % exc)
    except RecursionError:
        raise UnusableStateFile("it is not JSON the source writes (nested too deeply)")


def set_aside(path: str) -> str:
    """Rename the unusable ``path`` out of the way, keeping it for a look; say what was done."""
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    target = "%s.invalid-%s" % (path, stamp)
    number = 1
    while os.path.lexists(target):  # two in one second: keep both
        number += 1
        target = "%s.invalid-%s-%d" % (path, stamp, number)
    try:
        os.rename(path, target)
    except OSError as exc:
        return "it could not be set aside (%s)" % exc
    return "it was set aside as %s" % target


def save_state(path: str, state: dict[str, Any]) -> None:
    """Write the state so that a crash leaves the old file or the new one, never half of one."""
    temporary = None
    try:
        with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=os.path.dirname(path),
                                         prefix=".%s." % os.path.basename(path), delete=False) as handle:
            temporary = handle.name
            json.dump(state, handle, sort_keys=True)
        os.replace(temporary, path)
    except OSError as exc:
        logger.warning("could not write state_file %s: %s", path, exc)
        if temporary and os.path.exists(temporary):
            os.unlink(temporary)


# --- polling ------------------------------------------------------------------------


def api_error(error: Exception, private_key: str | None) -> dict[str, Any]:
    """An api_error event. The client's errors never hold the private key; the message is
    cleaned of it all the same, since an unexpected error could quote anything."""
    if isinstance(error, _client.SigcalcloudError):
        message = str(error)  # already printable, its URLs redacted
    else:  # could quote the server: no raw control characters either
        message = _text.printable("unexpected error: %s: %s" % (type(error).__name__, error))
    if private_key:
        message = message.replace(private_key, "********")
    event = {"type": "api_error", "message": message}
    for name in ("region", "action", "ret_code", "http_status", "request_id"):
        event[name] = getattr(error, name, None)
    return event


def _listing(config: Config, lister: Any, client: _client.Client, queries: list) -> tuple[dict, list]:
    """``(results, api_error events)`` of one kind of listing; the events in query order."""
    private_key = config.settings.private_key
    try:
        results, errors = lister(client, queries, max_concurrency=config.settings.max_concurrency, fail_fast=False)
    except Exception as exc:  # pylint: disable=broad-exception-caught  # keep polling; report it
        return {}, [api_error(exc, private_key)]
    return results, [api_error(errors[query], private_key) for query in queries if query in errors]


def read_poll(config: Config, client: _client.Client, queries: list,
              group_queries: list | None = None) -> tuple[list, list, list | None, list]:
    """One poll's backups and their api_error events, then its groups (None when not watched:
    no ``group_queries``) and theirs. Runs in the worker thread."""
    results, failures = _listing(config, _backups.list_backups, client, queries)
    backups = _listings.merge_listings(queries, results)
    if not group_queries:
        return backups, failures, None, []
    results, group_failures = _listing(config, _groups.list_groups, client, group_queries)
    return backups, failures, _listings.merge_groups(group_queries, results), group_failures


async def main(queue: asyncio.Queue, args: dict[str, Any]) -> None:
    """Poll every ``interval`` seconds and put what changed on ``queue``, until cancelled."""
    config = parse_args(args)
    if not _transport.HAS_REQUESTS:
        raise RuntimeError("%s needs the Python library 'requests' where ansible-rulebook runs: "
                           "pip install requests" % NAME)
    client = config.settings.client()
    queries = _listings.build_queries(config.regions, [config.settings.project_id],
                                      config.region_types, config.group_ids)
    group_queries = (_listings.group_queries(config.regions, [config.settings.project_id], config.group_ids)
                     if config.watch_groups else [])
    for warning in config.settings.warnings:
        logger.warning("%s", warning)
    state = load_state(config)
    loop = asyncio.get_running_loop()
    # Our own worker, not the loop's default executor: on cancellation a request still in
    # flight is left to finish (or time out) on its own, and nothing waits for it.
    worker = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="uredis_backup_events")
    logger.info("watching %s every %ss", "; ".join(q.describe() for q in queries + group_queries), config.interval)
    try:
        while True:
            started = loop.time()
            backups, failures, groups, group_failures = await loop.run_in_executor(
                worker, read_poll, config, client, queries, group_queries)
            events, after = _events.poll_events(
                state, backups, time.time(), complete=not failures,
                stale_after=config.stale_after, announce_existing=config.announce_existing,
                groups=groups, groups_complete=not group_failures)
            failures = failures + group_failures
            for failure in failures:
                logger.warning("%s", failure["message"])
            for warning in _events.missing_report(state, after):  # a listing that missed what was there?
                logger.warning("%s", _text.printable(warning))  # it names ids the server sent
            # put() does not suspend on an unbounded queue (ansible-rulebook's is one), so a
            # cancellation cannot fall between these events and the save that remembers them.
            for event in failures + events:
                await queue.put(event)
            if config.state_file and after != state:
                save_state(config.state_file, after)
            state = after
            await asyncio.sleep(max(0.0, started + config.interval - loop.time()))
    finally:
        worker.shutdown(wait=False, cancel_futures=True)


if __name__ == "__main__":
    # Try it without a rulebook: SIGCALCLOUD_* in the environment, events printed.
    class MockQueue:
        async def put(self, event: dict[str, Any]) -> None:
            print(json.dumps(event, ensure_ascii=False), flush=True)

    logging.basicConfig(level=logging.INFO)
    asyncio.run(main(MockQueue(), {"announce_existing": True, "interval": 30}))
