# -*- coding: utf-8 -*-
# Copyright: sigcalcloud.cloud contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Each module's RETURN documents exactly the facts the code returns.

The backup facts are documented twice (uredis_backup_info's backups, uredis_backup's backup),
since ansible-doc has no fragments for return values; this keeps both, and the group facts, true
to the code that makes them.
"""

from __future__ import annotations

import pytest
import yaml

from ansible_collections.sigcalcloud.cloud.plugins.module_utils import _backups, _groups
from ansible_collections.sigcalcloud.cloud.plugins.modules import (
    uredis_backup,
    uredis_backup_download,
    uredis_backup_info,
    uredis_backup_policy,
    uredis_backup_url_info,
    uredis_group,
    uredis_group_info,
    uredis_restore_check,
)

KINDS = {int: "int", str: "str", bool: "bool"}


def returned(module):
    return yaml.safe_load(module.RETURN)


@pytest.mark.parametrize("module, key, facts", [
    (uredis_backup_info, "backups", _backups.FACT_TYPES),
    (uredis_backup, "backup", _backups.FACT_TYPES),
    (uredis_group_info, "groups", _groups.FACT_TYPES),
    (uredis_group, "group", _groups.FACT_TYPES),
])
def test_documented_facts_are_the_facts_made(module, key, facts):
    contains = returned(module)[key]["contains"]
    assert set(contains) == set(facts)
    for name, kind in facts.items():
        assert contains[name]["type"] == KINDS[kind], name


@pytest.mark.parametrize("module", [uredis_backup, uredis_backup_download, uredis_backup_info, uredis_backup_policy,
                                    uredis_backup_url_info, uredis_group, uredis_group_info, uredis_restore_check])
def test_every_module_documents_the_failure_details_the_base_returns(module):
    docs = returned(module)
    for key in ("ret_code", "request_id", "http_status"):
        assert "failure" in docs[key]["returned"]


def test_documented_options_are_the_options_taken():
    for module in (uredis_backup, uredis_backup_download, uredis_backup_info, uredis_backup_policy, uredis_backup_url_info,
                   uredis_group, uredis_group_info, uredis_restore_check):
        documented = set(yaml.safe_load(module.DOCUMENTATION)["options"])
        spec = [cls for cls in vars(module).values() if isinstance(cls, type) and hasattr(cls, "argument_spec")
                and cls.__module__ == module.__name__][0].argument_spec
        assert documented == set(spec), module.__name__
