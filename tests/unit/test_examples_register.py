# -*- coding: utf-8 -*-
# Copyright: sigcalcloud.cloud contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""No example, guide, playbook or test play registers a result under a name Ansible keeps for itself.

``register: groups`` shadows the magic variable ``groups`` (every inventory group): a later
``groups['web']`` in the same play then reads the module's result. Users copy examples.
"""

from __future__ import annotations

import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# Ansible's special (magic) variables, from its "Special Variables" reference.
MAGIC = {"ansible_check_mode", "ansible_config_file", "ansible_dependent_role_names", "ansible_diff_mode",
         "ansible_forks", "ansible_inventory_sources", "ansible_limit", "ansible_loop", "ansible_loop_var",
         "ansible_index_var", "ansible_parent_role_names", "ansible_parent_role_paths", "ansible_play_batch",
         "ansible_play_hosts", "ansible_play_hosts_all", "ansible_play_role_names", "ansible_play_name",
         "ansible_playbook_python", "ansible_role_names", "ansible_role_name", "ansible_collection_name",
         "ansible_run_tags", "ansible_search_path", "ansible_skip_tags", "ansible_verbosity", "ansible_version",
         "group_names", "groups", "hostvars", "inventory_dir", "inventory_file", "inventory_hostname",
         "inventory_hostname_short", "omit", "play_hosts", "playbook_dir", "role_name", "role_names", "role_path",
         "environment", "vars", "ansible_facts", "ansible_local"}
REGISTER_RE = re.compile(r"\bregister:\s*([A-Za-z_][A-Za-z0-9_]*)")
FOLDERS = ("plugins", "docs", "playbooks", "roles", "extensions", "tests/e2e", "tests/integration")


def registered_names():
    for folder in FOLDERS:
        for top, _dirs, files in os.walk(os.path.join(ROOT, folder)):
            for name in files:
                if name.endswith((".py", ".yml", ".yaml", ".rst", ".md")):
                    path = os.path.join(top, name)
                    with open(path, encoding="utf-8") as handle:
                        for number, line in enumerate(handle, 1):
                            for match in REGISTER_RE.finditer(line):
                                yield os.path.relpath(path, ROOT), number, match.group(1)


def test_no_register_shadows_a_magic_variable():
    found = list(registered_names())
    assert len(found) > 20  # the scan sees the examples
    shadowing = ["%s:%d registers %r" % entry for entry in found if entry[2] in MAGIC]
    assert not shadowing, "variables Ansible keeps for itself: %s" % "; ".join(shadowing)
