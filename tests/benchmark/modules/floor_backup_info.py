# -*- coding: utf-8 -*-
# Copyright: sigcalcloud.cloud contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The benchmark's module floor: the least a module can do to return the same result.

tests/benchmark/run.py runs sigcalcloud.cloud.uredis_backup_info once, keeps what it
returned in a JSON file, and then times ``ansible localhost -m floor_backup_info -a
path=<that file>``: Ansible building, sending and running a module and printing its
result, without a client or any request. With ``import_requests=true`` the module also
imports requests (as the real module's client does), to show what that import costs.

Not part of the collection; the benchmark puts this folder on ANSIBLE_LIBRARY.
"""

from __future__ import annotations

DOCUMENTATION = r"""
module: floor_backup_info
short_description: Benchmark floor, a module result read from a JSON file
description:
  - Returns the result stored in a JSON file, for the benchmark only.
options:
  path:
    description: The JSON file with the result to return.
    type: path
    required: true
  import_requests:
    description: Import requests first, as the client of the real module does.
    type: bool
    default: false
"""

import json

from ansible.module_utils.basic import AnsibleModule


def main():
    module = AnsibleModule(argument_spec={"path": {"type": "path", "required": True},
                                          "import_requests": {"type": "bool", "default": False}})
    if module.params["import_requests"]:
        import requests  # noqa: F401  pylint: disable=import-outside-toplevel,unused-import
    with open(module.params["path"], encoding="utf-8") as handle:
        result = json.load(handle)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
