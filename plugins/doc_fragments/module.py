# -*- coding: utf-8 -*-
# Copyright: sigcalcloud.cloud contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # What every module of the collection documents alike: the guides a module page links.
    # (ansible-core merges a fragment's seealso and attributes into the module's, from 2.16 on.)
    DOCUMENTATION = r"""
options: {}
seealso:
  - ref: ansible_collections.sigcalcloud.cloud.docsite.module
    description: The modules guide, with recipes for every module, paging and filters, and the failures each module reports.
  - ref: ansible_collections.sigcalcloud.cloud.docsite.credentials
    description: The credentials guide, on the keys, the region and the other connection options, profiles and precedence.
  - ref: ansible_collections.sigcalcloud.cloud.docsite.reliability
    description: The troubleshooting guide, which lists every error the collection reports, what causes it and what is tested.
  - ref: ansible_collections.sigcalcloud.cloud.docsite.remediation
    description: The remediation guide, a playbook that gives every Redis group a fresh good backup, and a rulebook to run it.
"""

    # The attributes of a module that only reads.
    READ_ONLY = r"""
options: {}
attributes:
  check_mode:
    support: full
    description: The module only reads, so it runs unchanged in check mode.
  diff_mode:
    support: none
    description: Nothing changes, so there is no diff.
"""
