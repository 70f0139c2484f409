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
  - Regions, projects and pages are read concurrently, bounded by O(max_concurrency).
  - Every host gets the backup's facts in snake_case, exactly as M(sigcalcloud.cloud.uredis_backup_info)
    returns them, plus C(ansible_connection=local), and joins the group C(uredis_backups)
    (C(uredis_groups) with O(hosts_from=redis_group)).
  - Data from the API is never templated.
  - The configuration file's name must end in C(uredis_backup.yml) or C(uredis_backup.yaml).
author:
  - sigcalcloud.cloud developers (@sigcalcloud)
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
      - Defaults to the region in the environment variable E(SIGCALCLOUD_REGION).
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
      - Only the backups of these Redis groups. When empty, all backups of each region.
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
      - V(redis_group) adds one host per Redis group with the facts C(group_id), C(group_name), C(region),
        C(project_id), C(zone), C(memory_size), C(redis_version) of its newest backup,
        C(uredis_backups) (its backups, newest first), C(uredis_latest_backup) and
        C(uredis_latest_successful_backup) (V(null) when there is none).
    type: str
    choices: [backup, redis_group]
    default: backup
  hostnames:
    description:
      - How to name each host, tried in order until one gives a non-empty name.
      - An entry is a fact name or Jinja2 expression, for example V(backup_name) or V(backup_name | lower),
        or a template, for example V({{ group_name }}-{{ backup_id }}).
      - A backup that gets no name, or a name another backup already has, is left out with a
        warning that names it.
      - Defaults to V([backup_id]), or V([group_id]) with O(hosts_from=redis_group).
    type: list
    elements: str
  hostvars_prefix:
    description: A prefix for the name of every fact from the API (not C(ansible_connection)).
    type: str
    default: ''
  hostvars_suffix:
    description: A suffix for the name of every fact from the API (not C(ansible_connection)).
    type: str
    default: ''
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
"""

EXAMPLES = r"""
# demo.uredis_backup.yml: every backup of two regions, grouped by state
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

# One host per Redis group, with "is my latest backup good?" as a group
# ---
# plugin: sigcalcloud.cloud.uredis_backup
# hosts_from: redis_group
# regions: [cn-bj2]
# groups:
#   uredis_needs_backup: >-
#     uredis_latest_successful_backup is none
#     or uredis_latest_successful_backup.backup_time < now(utc=true).timestamp() - 86400
#   uredis_last_backup_failed: uredis_latest_backup.state == 'Error'

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

import hashlib
import json

from ansible.errors import AnsibleError, AnsibleParserError
from ansible.plugins.inventory import BaseInventoryPlugin, Cacheable, Constructable

from ansible_collections.sigcalcloud.cloud.plugins.module_utils import _client
from ansible_collections.sigcalcloud.cloud.plugins.module_utils import _settings
from ansible_collections.sigcalcloud.cloud.plugins.module_utils import _uredis
from ansible_collections.sigcalcloud.cloud.plugins.plugin_utils import _inventory

CACHE_FORMAT = 1


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
        queries = _inventory.build_queries(
            self._regions(settings), self.get_option("project_ids") or [settings.project_id],
            self.get_option("region_types"), self.get_option("group_ids"))
        cache_key = self._cache_key(path, queries, settings)
        use_cache = self.get_option("cache")
        backups = None
        if use_cache and cache:
            backups = self._from_cache(cache_key)
        if backups is None:
            backups, complete = self._fetch(queries, settings)
            if use_cache and complete:  # a listing skipped with fail_on_errors: false is not cached
                self._cache[cache_key] = {"format": CACHE_FORMAT, "backups": backups}
        self._populate(backups)

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
        except _settings.SettingsError as exc:
            raise AnsibleParserError(str(exc))
        for warning in settings.warnings:
            self.display.warning("sigcalcloud.cloud.uredis_backup: %s" % warning)
        return settings

    # --- API and cache ---------------------------------------------------------------

    def _cache_key(self, path, queries, settings):
        # What was asked, and of which endpoint, but never the credentials.
        asked = json.dumps([settings.base_url, sorted(queries, key=repr)], default=str)
        return "%s_%s" % (self.get_cache_key(path), hashlib.sha256(asked.encode("utf-8")).hexdigest()[:12])

    def _from_cache(self, cache_key):
        try:
            cached = self._cache[cache_key]
        except KeyError:
            return None
        if not isinstance(cached, dict) or cached.get("format") != CACHE_FORMAT:
            return None
        self.display.vvv("sigcalcloud.cloud.uredis_backup: %d backups from the cache" % len(cached["backups"]))
        return cached["backups"]

    def _fetch(self, queries, settings):
        if not _client.HAS_REQUESTS:
            raise AnsibleError("the sigcalcloud.cloud.uredis_backup inventory plugin needs the Python library "
                               "'requests' on the controller: pip install requests")
        try:
            settings.require("public_key", "private_key")
        except _settings.SettingsError as exc:
            raise AnsibleParserError(str(exc))
        fail_on_errors = self.get_option("fail_on_errors")
        try:
            results, errors = _uredis.list_backups(
                settings.client(), queries, max_concurrency=settings.max_concurrency, fail_fast=fail_on_errors)
        except _client.SigcalcloudError as exc:
            raise AnsibleError("sigcalcloud.cloud.uredis_backup: %s" % exc)
        for query, error in errors.items():
            self.display.warning("sigcalcloud.cloud.uredis_backup: skipped %s: %s" % (query.describe(), error))
        return _inventory.merge_listings(queries, results), not errors

    # --- hosts -------------------------------------------------------------------------

    def _populate(self, backups):
        backups = _uredis.filter_backups(backups, self.get_option("states"), self.get_option("backup_types"))
        filters = self._filters()
        if filters:
            backups = [b for b in backups if self._passes_filters(b, filters)]
        hosts_from = self.get_option("hosts_from")
        entries = _inventory.redis_groups(backups) if hosts_from == "redis_group" else backups
        hostnames = self.get_option("hostnames") or (["group_id"] if hosts_from == "redis_group" else ["backup_id"])
        all_group = self.inventory.add_group(_inventory.ALL_GROUP[hosts_from])
        prefix, suffix = self.get_option("hostvars_prefix"), self.get_option("hostvars_suffix")
        strict = self.get_option("strict")
        compose, groups, keyed_groups = (self.get_option(n) for n in ("compose", "groups", "keyed_groups"))
        owners = {}

        for facts in entries:
            name = self._hostname(facts, hostnames)
            if name is None:
                self.display.warning("sigcalcloud.cloud.uredis_backup: %s has no usable name from hostnames %s; "
                                     "it is left out" % (_inventory.describe_host(facts), hostnames))
                continue
            if name in owners:
                self.display.warning("sigcalcloud.cloud.uredis_backup: %s and %s both get the host name %r; "
                                     "the second is left out (add an entry to hostnames that tells them apart)"
                                     % (owners[name], _inventory.describe_host(facts), name))
                continue
            owners[name] = _inventory.describe_host(facts)

            self.inventory.add_host(name, group=all_group)
            host_vars = dict((prefix + key + suffix, value) for key, value in facts.items())
            host_vars["ansible_connection"] = "local"
            for key, value in host_vars.items():
                self.inventory.set_variable(name, key, value)
            if compose or groups or keyed_groups:
                self._set_composite_vars(compose, host_vars, name, strict=strict)
                self._add_host_to_composed_groups(groups, host_vars, name, strict=strict)
                self._add_host_to_keyed_groups(keyed_groups, host_vars, name, strict=strict)

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
                    raise AnsibleParserError("hostnames[%d] %r failed for %s: %s" % (
                        index, entry, _inventory.describe_host(facts), exc))
            name = _inventory.usable_name(value)
            if name is not None:
                return name
        return None

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
                self.templar.available_variables = facts
                matched = self.templar.evaluate_conditional(condition)
            except Exception as exc:
                raise AnsibleParserError("filters[%d] %s %r failed for %s: %s" % (
                    index, kind, condition, _inventory.describe_host(facts), exc))
            if matched:
                return kind == "include"
        return True


def _redact(exc, secret):
    text = str(exc)
    return text.replace(secret, "<redacted>") if secret else text
