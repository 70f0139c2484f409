# -*- coding: utf-8 -*-
# Copyright: sigcalcloud.cloud contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: uredis_backup
short_description: URedis backups on sigcalcloud as inventory hosts
version_added: 0.1.0
description:
  - Lists URedis backups with the C(DescribeURedisBackup) API call and adds them to the inventory,
    one host per backup, or one host per Redis group with its backups as facts (O(hosts_from)).
  - With O(hosts_from=redis_group), the Redis groups are listed too (C(DescribeURedisGroup)), so that a group
    that has no backup at all is a host as well, the case that most needs attention.
  - Regions, projects and pages are read concurrently, bounded by O(max_concurrency).
  - Every host gets the backup's facts in snake_case, exactly as M(sigcalcloud.cloud.uredis_backup_info)
    returns them, and joins the group C(uredis_backups) (C(uredis_groups) with O(hosts_from=redis_group)).
  - A backup is not a machine, and C(ansible_connection) is not set by default. Plays that target
    these hosts set the play keyword C(connection) to V(local), or the inventory sets O(local_connection).
  - The plugin never changes a host it did not add. A backup whose host name is already in the
    inventory (from a source parsed before this one), or is C(localhost), is left out with a
    warning that names both.
  - Data from the API is never templated.
  - The configuration file's name must end in C(uredis_backup.yml) or C(uredis_backup.yaml).
author:
  - sigcalcloud.cloud developers (@sigcalcloud)
requirements:
  - requests >= 2.25 (on the Ansible controller)
extends_documentation_fragment:
  - constructed
  - inventory_cache
  - sigcalcloud.cloud.connection.plugin_options
options:
  plugin:
    description: Marks this file as a configuration of this plugin.
    required: true
    type: str
    choices: [sigcalcloud.cloud.uredis_backup]
  regions:
    description:
      - The regions to list backups from.
      - Defaults to the region in the environment variable E(SIGCALCLOUD_REGION), else the C(region) of the
        profile (O(profile)). The inventory fails, naming where a region can be set, when there is none.
    type: list
    elements: str
    env:
      - name: SIGCALCLOUD_REGION
  project_ids:
    description:
      - The projects to list backups from.
      - Defaults to O(project_id), else the account's default project.
    type: list
    elements: str
    default: []
  group_ids:
    description:
      - Only the backups of these Redis groups (and, with O(hosts_from=redis_group), only these groups).
        When empty, all backups (and groups) of each region.
    type: list
    elements: str
    default: []
  region_types:
    description:
      - V(normal) lists ordinary backups; V(source) and V(target) list cross-region backups
        whose source or target is the region. A cross-region backup listed from both sides is one host.
    type: list
    elements: str
    choices: [normal, source, target]
    default: [normal]
  states:
    description:
      - Only backups in one of these states. All states when empty.
      - With O(hosts_from=redis_group), only these backups count for a group's facts.
    type: list
    elements: str
    choices: [Backuping, Success, Error, Expired]
    default: []
  backup_types:
    description:
      - Only backups of one of these types. All types when empty.
    type: list
    elements: str
    choices: [Manual, Auto]
    default: []
  filters:
    description:
      - Conditions over a backup's facts (Jinja2 expressions, as in C(when)), tried in order;
        the first that matches decides. An entry is a mapping with one key, C(include) or C(exclude),
        whose value is the condition.
      - A backup that matches no entry is included.
    type: list
    elements: dict
    default: []
  hosts_from:
    description:
      - V(backup) adds one host per backup.
      - V(redis_group) adds one host per Redis group of the listed regions and projects (C(DescribeURedisGroup)),
        also one that has no backup, with the group's facts as M(sigcalcloud.cloud.uredis_group_info) returns
        them (C(state), C(auto_backup), C(backup_time) (the hour of the automatic backup), C(zone), ...), but for
        two names Ansible reserves (the group's name is C(group_name), its port C(redis_port)),
        C(redis_version) of its newest backup, C(uredis_backups) (its backups, newest first, V([]) when it has
        none), C(uredis_latest_backup) and C(uredis_latest_successful_backup) (V(null) when there is none), and
        C(uredis_group_listed).
      - A group whose backups are listed but which the group listing does not hold (a deleted group, or one
        outside O(group_ids)) is a host too, with C(uredis_group_listed=false), the group's own facts V(null),
        and C(group_id), C(group_name), C(region), C(project_id), C(zone), C(memory_size) from its newest backup.
    type: str
    choices: [backup, redis_group]
    default: backup
  hostnames:
    description:
      - How to name each host, tried in order until one gives a usable name, one that is not empty and
        has no control or bidi characters (such as an escape sequence).
      - An entry is a fact name or Jinja2 expression, for example V(backup_name) or V(backup_name | lower),
        or a template, for example V({{ group_name }}-{{ backup_id }}).
      - A backup that gets no usable name, or a name another backup already has, is left out with a
        warning that names it.
      - A backup whose name is already a host of the inventory, added by a source parsed before this
        one, or one of the names of the implicit C(localhost), is left out with a warning that names
        both; that host is not changed. A source parsed after this one cannot be seen, and its host of
        the same name gets this backup's facts (but no C(ansible_connection), unless O(local_connection)).
        Names the API chooses (V(backup_name), V(group_name)) can clash; ids cannot clash with a
        real host's name in practice.
      - Defaults to V([backup_id]), or V([group_id]) with O(hosts_from=redis_group).
    type: list
    elements: str
  hostvars_prefix:
    description: A prefix for the name of every fact from the API (not C(ansible_connection) of O(local_connection)).
    type: str
    default: ''
  hostvars_suffix:
    description: A suffix for the name of every fact from the API (not C(ansible_connection) of O(local_connection)).
    type: str
    default: ''
  local_connection:
    description:
      - V(true) sets C(ansible_connection=local) on every host this plugin adds, so that plays on them
        run on the controller without the play keyword C(connection) set to V(local).
      - Off by default, because a host name can come from the API (O(hostnames)), and a connection variable
        on such a name is what would move a play meant for a real host of the same name, defined by an
        inventory source parsed after this one, onto the controller. With it off, such a clash can at
        worst add facts to that host, never change where a play runs.
      - Turn it on only when no later inventory source can have a host of the same name, for example
        with host names made of ids (the default O(hostnames)).
    type: bool
    default: false
    version_added: 1.0.0
  fail_on_errors:
    description:
      - V(true) fails the inventory when a region (or project) cannot be read, naming it and the cause.
      - V(false) leaves that listing out with a warning that names it and the cause; the others are kept.
    type: bool
    default: true
notes:
  - The cache holds the API rows only, never credentials; on a cache hit no request is sent
    and O(compose), O(groups) and O(keyed_groups) are applied afresh. An inventory that skipped
    a listing (O(fail_on_errors=false)) is not cached.
  - The cache key holds the endpoint, what is listed and the account (a salted hash of the public
    key, never the key), so another account, by another public key or profile, is a cache miss. A
    cache hit needs the public key, to know the account, but not the private key.
  - A cache entry that is not what this plugin writes (a backup without all its facts, a fact of the
    wrong type) is a miss, and the API is read again (C(-vvv) says why).
  - Plays that target these hosts run their tasks on the controller with the play keyword
    C(connection) set to V(local); see the examples.
seealso:
  - module: sigcalcloud.cloud.uredis_backup_info
    description: The same backups, with the same facts, listed in a task.
  - module: sigcalcloud.cloud.uredis_group_info
    description: The Redis groups that O(hosts_from=redis_group) makes hosts of, listed in a task.
  - ref: ansible_collections.sigcalcloud.cloud.docsite.inventory
    description: The inventory guide, with a first inventory, plays on backup hosts, host names, caching and untrusted data.
  - ref: ansible_collections.sigcalcloud.cloud.docsite.credentials
    description: The credentials guide, on the keys and the other connection options, profiles and precedence.
  - ref: ansible_collections.sigcalcloud.cloud.docsite.awx
    description: The AWX guide, on the execution environment, a credential type for the keys, an inventory source and job templates.
  - ref: ansible_collections.sigcalcloud.cloud.docsite.reliability
    description: The troubleshooting guide, which lists every error the collection reports, what causes it and what is tested.
  - name: DescribeURedisBackup
    description: The API call this plugin runs to list the backups.
    link: https://docs.sigcalcloud.com/api/umem-api/describe_uredis_backup
"""

EXAMPLES = r"""
# demo.uredis_backup.yml: every backup of two regions, grouped by state.
# A play on these hosts runs its tasks on the controller:
#   - hosts: uredis_state_Error
#     connection: local
#     gather_facts: false
plugin: sigcalcloud.cloud.uredis_backup
regions: [cn-bj2, cn-sh2]
keyed_groups:
  - key: state
    prefix: uredis_state
  - key: group_id
    prefix: uredis_group
  - key: region
    prefix: uredis_region
  - key: backup_type
    prefix: uredis_type
  - key: zone
    prefix: uredis_zone
    default_value: none

# One host per Redis group, also those never backed up, with "is my latest backup good?" as a group
# ---
# plugin: sigcalcloud.cloud.uredis_backup
# hosts_from: redis_group
# regions: [cn-bj2]
# groups:
#   uredis_needs_backup: >-
#     uredis_latest_successful_backup is none
#     or uredis_latest_successful_backup.backup_time < now(utc=true).timestamp() - 86400
#   uredis_last_backup_failed: uredis_latest_backup is not none and uredis_latest_backup.state == 'Error'
#   uredis_never_backed_up: uredis_backups | length == 0
#   uredis_auto_backup_off: auto_backup == 'disable'

# Hosts named by backup id, and plays on them without connection: local
# ---
# plugin: sigcalcloud.cloud.uredis_backup
# regions: [cn-bj2]
# local_connection: true

# Credentials from the vault, names from the backups, errors only, cached for 10 minutes
# ---
# plugin: sigcalcloud.cloud.uredis_backup
# public_key: "{{ vault_sigcalcloud_public_key }}"
# private_key: "{{ vault_sigcalcloud_private_key }}"
# regions: [cn-bj2, hk]
# states: [Error, Expired]
# hostnames:
#   - "{{ group_name }}-{{ backup_name }}"
#   - backup_id
# filters:
#   - exclude: group_name is match('scratch-')
# compose:
#   age_hours: ((now(utc=true).timestamp() - backup_time) / 3600) | int
# cache: true
# cache_plugin: ansible.builtin.jsonfile
# cache_connection: ~/.cache/sigcalcloud-inventory
# cache_timeout: 600
"""

from ansible.errors import AnsibleError, AnsibleParserError
from ansible.plugins.inventory import BaseInventoryPlugin, Cacheable, Constructable

from ansible_collections.sigcalcloud.cloud.plugins.module_utils import _client
from ansible_collections.sigcalcloud.cloud.plugins.module_utils import _transport
from ansible_collections.sigcalcloud.cloud.plugins.module_utils import _text
from ansible_collections.sigcalcloud.cloud.plugins.module_utils import _settings
from ansible_collections.sigcalcloud.cloud.plugins.module_utils import _backups
from ansible_collections.sigcalcloud.cloud.plugins.module_utils import _groups
from ansible_collections.sigcalcloud.cloud.plugins.module_utils import _listings
from ansible_collections.sigcalcloud.cloud.plugins.module_utils import _options
from ansible_collections.sigcalcloud.cloud.plugins.plugin_utils import _inventory
from ansible_collections.sigcalcloud.cloud.plugins.plugin_utils import _unsafe

# 2: entries hold the listed Redis groups too (null unless hosts_from is redis_group).
# 3: entries are written only from listings whose every row answered its request (1.1.0): an
# entry of before is a miss, since it may hold rows of a group or region it was not asked for.
CACHE_FORMAT = 3


class InventoryModule(BaseInventoryPlugin, Constructable, Cacheable):

    NAME = "sigcalcloud.cloud.uredis_backup"

    def verify_file(self, path):
        # Quietly decline other files so other inventory plugins can try them.
        return super(InventoryModule, self).verify_file(path) and path.endswith(
            ("uredis_backup.yml", "uredis_backup.yaml"))

    def parse(self, inventory, loader, path, cache=True):
        super(InventoryModule, self).parse(inventory, loader, path, cache)
        config = self._read_config_data(path)
        self._check_keys(config, path)

        # Keys are checked only when the API is called: a cache hit needs none.
        settings = self._settings()
        queries = _listings.build_queries(
            self._regions(settings), self.get_option("project_ids") or [settings.project_id],
            self.get_option("region_types"), self.get_option("group_ids"))
        # Groups are listed too with hosts_from: redis_group, so that a group with no backup is a host.
        group_queries = []
        if self.get_option("hosts_from") == "redis_group":
            group_queries = _listings.group_queries(
                self._regions(settings), self.get_option("project_ids") or [settings.project_id],
                self.get_option("group_ids"))
        cache_key = self._cache_key(path, queries + group_queries, settings)
        use_cache = self.get_option("cache")
        cached = None
        if use_cache and cache:
            cached = self._from_cache(cache_key, bool(group_queries))  # None when missing or not usable
        if cached is None:
            backups, groups, complete = self._fetch(queries, group_queries, settings)
            if use_cache and complete:  # a listing skipped with fail_on_errors: false is not cached
                self._cache[cache_key] = {"format": CACHE_FORMAT, "backups": backups,
                                          "groups": groups if group_queries else None}
        else:
            backups, groups = cached
        self._populate(backups, groups)

    # --- options -----------------------------------------------------------------

    def _check_keys(self, config, path):
        unknown = sorted(set(config) - set(self._options))
        if unknown:
            raise AnsibleParserError("%s: unknown option%s %s; valid options are: %s" % (
                path, "s" if len(unknown) > 1 else "", ", ".join(unknown), ", ".join(sorted(self._options))))

    def _template_option(self, name):
        """An option's value, templated: credentials may be vaulted, lookups or extra vars."""
        value = self.get_option(name)
        if value is not None and not isinstance(value, (str, bool, int)):
            value = str(value)  # a vaulted value decrypts when read as text
        if isinstance(value, str) and self.templar.is_possibly_template(value):
            self.templar.available_variables = self._vars
            try:
                value = self.templar.template(value)
            except Exception as exc:
                # Never echo the template's value: it may hold a secret.
                raise AnsibleParserError("option %s could not be templated: %s" % (name, _redact(exc, value)))
        return value

    def _regions(self, settings):
        regions = self.get_option("regions")
        if regions is None and settings.region:  # not set at all: the profile's region
            regions = [settings.region]
        regions = [r for r in (regions or []) if r and r.strip()]
        if not regions:
            raise AnsibleParserError("no region to list: set regions in the inventory file, the environment "
                                     "variable SIGCALCLOUD_REGION, or region in a profile")
        return regions

    def _settings(self):
        options = dict((name, self._template_option(name)) for name in _settings.CONNECTION_OPTIONS
                       if name != "region")
        try:
            settings = _settings.resolve(options, require_region=False, require_keys=False)
        except _options.OptionError as exc:
            raise AnsibleParserError(str(exc))
        for warning in settings.warnings:
            self._warn(warning)
        return settings

    # --- API and cache ---------------------------------------------------------------

    def _cache_key(self, path, queries, settings):
        # What was asked, of which endpoint, by which account: another account is a miss.
        # Never the credentials (see Settings.cache_key).
        return "%s_%s" % (self.get_cache_key(path), settings.cache_key(sorted(queries, key=repr)))

    def _from_cache(self, cache_key, want_groups):
        """``(backups, groups)`` from the cache, or None: a missing, unreadable or malformed entry is a miss."""
        try:
            cached = self._cache[cache_key]
        except KeyError:
            return None
        except Exception as exc:  # pylint: disable=broad-exception-caught  # a damaged file: the API still answers
            self.display.vvv("sigcalcloud.cloud.uredis_backup: cache entry %s not read (%s: %s); reading the API"
                             % (cache_key, type(exc).__name__, _text.printable(exc)))
            return None
        try:
            backups, groups = _cached_listings(cached, want_groups)
        except ValueError as exc:
            self.display.vvv("sigcalcloud.cloud.uredis_backup: cache entry %s not used: %s; reading the API"
                             % (cache_key, _text.printable(exc)))
            return None
        self.display.vvv("sigcalcloud.cloud.uredis_backup: %d backups and %d groups from the cache"
                         % (len(backups), len(groups)))
        return backups, groups

    def _fetch(self, queries, group_queries, settings):
        """``(backups, groups, complete)`` from the API; ``complete`` is false when a listing was skipped."""
        if not _transport.HAS_REQUESTS:
            raise AnsibleError("the sigcalcloud.cloud.uredis_backup inventory plugin needs the Python library "
                               "'requests' on the controller: pip install requests")
        try:
            settings.require("public_key", "private_key")
        except _options.OptionError as exc:
            raise AnsibleParserError(str(exc))
        fail_on_errors = self.get_option("fail_on_errors")
        client = settings.client()
        try:
            results, errors = _backups.list_backups(
                client, queries, max_concurrency=settings.max_concurrency, fail_fast=fail_on_errors)
            group_results, group_errors = _groups.list_groups(
                client, group_queries, max_concurrency=settings.max_concurrency, fail_fast=fail_on_errors)
        except _client.SigcalcloudError as exc:
            raise AnsibleError("sigcalcloud.cloud.uredis_backup: %s" % exc)
        for query, error in list(errors.items()) + list(group_errors.items()):
            self._warn("skipped %s: %s" % (query.describe(), error))
        return (_listings.merge_listings(queries, results), _listings.merge_groups(group_queries, group_results),
                not errors and not group_errors)

    # --- hosts -------------------------------------------------------------------------

    def _populate(self, backups, groups):
        backups = _backups.filter_backups(backups, self.get_option("states"), self.get_option("backup_types"))
        # From here on every string of the API is data, never a template: filters, host names,
        # host variables, compose, groups and keyed_groups all see the marked values.
        backups = _unsafe.make_unsafe(backups)
        groups = _unsafe.make_unsafe(groups)
        filters = self._filters()
        if filters:
            backups = [b for b in backups if self._passes_filters(b, filters)]
        hosts_from = self.get_option("hosts_from")
        entries = _inventory.redis_groups(backups, groups) if hosts_from == "redis_group" else backups
        hostnames = self.get_option("hostnames") or (["group_id"] if hosts_from == "redis_group" else ["backup_id"])
        all_group = self.inventory.add_group(_inventory.ALL_GROUP[hosts_from])
        prefix, suffix = self.get_option("hostvars_prefix"), self.get_option("hostvars_suffix")
        strict = self.get_option("strict")
        compose, groups, keyed_groups = (self.get_option(n) for n in ("compose", "groups", "keyed_groups"))
        local_connection = self.get_option("local_connection")
        # Hosts of the sources parsed before this one: never ours to change.
        existing = frozenset(self.inventory.hosts)
        owners = {}

        for facts in entries:
            name = self._claim(facts, hostnames, existing, owners)
            if name is None:
                continue
            self.inventory.add_host(name, group=all_group)
            if prefix or suffix or local_connection:
                host_vars = dict((prefix + key + suffix, value) for key, value in facts.items())
                if local_connection:
                    host_vars["ansible_connection"] = "local"
            else:  # the default: the facts as they are, without a copy per host
                host_vars = facts
            for key, value in host_vars.items():
                self.inventory.set_variable(name, key, value)
            if compose or groups or keyed_groups:
                self._set_composite_vars(compose, host_vars, name, strict=strict)
                self._add_host_to_composed_groups(groups, host_vars, name, strict=strict)
                self._add_host_to_keyed_groups(keyed_groups, host_vars, name, strict=strict)

    def _claim(self, facts, hostnames, existing, owners):
        """The host name for ``facts``, or None (with a warning) when it must be left out."""
        name = self._hostname(facts, hostnames)
        if name is None:
            self._warn("%s has no usable name from hostnames %s (each gave none, or one with control characters); "
                       "it is left out" % (_inventory.describe_host(facts), hostnames))
            return None
        if name in owners:
            self._warn("%s and %s both get the host name %r; the second is left out (add an entry to hostnames "
                       "that tells them apart)" % (_inventory.describe_host(owners[name]),
                                                   _inventory.describe_host(facts), name))
            return None
        taken = _inventory.taken_by(name, existing)
        if taken:
            self._warn("%s gets the host name %r, %s; it is left out and host %r is not changed"
                       % (_inventory.describe_host(facts), name, taken, name))
            return None
        owners[name] = facts  # described only if a later backup clashes: this runs per host
        return name

    def _hostname(self, facts, hostnames):
        for index, entry in enumerate(hostnames):
            if entry in facts:  # the common case, a fact name: no templating needed
                value = facts[entry]
            else:
                try:
                    if "{{" in entry or "{%" in entry:
                        self.templar.available_variables = facts
                        value = self.templar.template(entry)
                    else:
                        value = self._compose(entry, facts)
                except Exception as exc:
                    raise AnsibleParserError(_text.printable("hostnames[%d] %r failed for %s: %s" % (
                        index, entry, _inventory.describe_host(facts), exc)))
            name = _inventory.usable_name(value)
            if name is not None:
                return _unsafe.unsafe_name(name)
        return None

    def _warn(self, text):
        # Warnings quote the server's names and errors: never raw control characters.
        self.display.warning("sigcalcloud.cloud.uredis_backup: %s" % _text.printable(text))

    def _filters(self):
        """The filters as (index, kind, condition), checked once rather than per backup."""
        filters = []
        for index, entry in enumerate(self.get_option("filters")):
            if not isinstance(entry, dict) or len(entry) != 1 or not set(entry) <= {"include", "exclude"}:
                raise AnsibleParserError("filters[%d] must be a mapping with one key, include or exclude; got %r"
                                         % (index, entry))
            (kind, condition), = entry.items()
            filters.append((index, kind, condition))
        return filters

    def _passes_filters(self, facts, filters):
        for index, kind, condition in filters:
            try:
                matched = _unsafe.evaluate_conditional(self.templar, self.loader, condition, facts)
            except Exception as exc:
                raise AnsibleParserError(_text.printable("filters[%d] %s %r failed for %s: %s" % (
                    index, kind, condition, _inventory.describe_host(facts), exc)))
            if matched:
                return kind == "include"
        return True


def _cached_listings(cached, want_groups):
    """``(backups, groups)`` of a cache entry; ValueError saying why when it is not one this plugin wrote."""
    if not isinstance(cached, dict) or cached.get("format") != CACHE_FORMAT:
        raise ValueError("it is not a format %d entry" % CACHE_FORMAT)
    backups = cached.get("backups")
    _backups.ROWS.check_list(backups, "backups")
    groups = cached.get("groups")
    if groups is None and not want_groups:
        return backups, []
    _groups.ROWS.check_list(groups, "groups")
    return backups, groups


def _redact(exc, secret):
    text = str(exc)
    return text.replace(secret, "<redacted>") if secret else text
