# -*- coding: utf-8 -*-
# Copyright: sigcalcloud.cloud contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The benchmark's "CPU floor": the least an inventory plugin can do to hold the same hosts.

It reads a JSON list of fact dictionaries (written by tests/benchmark/run.py from the
same listing the uredis_backup plugin returns) and adds one host per entry, named by its
``backup_id``, to the group ``uredis_backups``, with every fact as host variables (an
entry of a Redis group, as ``hosts_from: redis_group`` makes them, is named by its
``group_id`` and goes to ``uredis_groups``):
exactly what the uredis_backup plugin adds with its default options (no
``ansible_connection``: that takes ``local_connection: true``), and nothing else (no
options, no templating, no network).
``ansible-inventory --list`` over it measures what Ansible itself needs to take in, hold
and print those hosts.

Not part of the collection; the benchmark enables it with
ANSIBLE_INVENTORY_PLUGINS=tests/benchmark/inventory_plugins and
ANSIBLE_INVENTORY_ENABLED=floor_inventory. Its source is a file named ``*.floor.json``.
"""

from __future__ import annotations

DOCUMENTATION = r"""
name: floor_inventory
short_description: Benchmark floor, hosts and facts from a JSON file
description:
  - Adds one host per entry of a JSON list of facts, for the benchmark only.
options: {}
"""

import json

from ansible.plugins.inventory import BaseInventoryPlugin


class InventoryModule(BaseInventoryPlugin):

    NAME = "floor_inventory"

    def verify_file(self, path):
        return path.endswith(".floor.json")

    def parse(self, inventory, loader, path, cache=True):
        super(InventoryModule, self).parse(inventory, loader, path, cache)
        with open(path, encoding="utf-8") as handle:
            entries = json.load(handle)
        by_group = bool(entries) and "uredis_backups" in entries[0]
        group = self.inventory.add_group("uredis_groups" if by_group else "uredis_backups")
        name_fact = "group_id" if by_group else "backup_id"
        for facts in entries:
            name = facts[name_fact]
            self.inventory.add_host(name, group=group)
            for key, value in facts.items():
                self.inventory.set_variable(name, key, value)
