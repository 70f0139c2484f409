# -*- coding: utf-8 -*-
# Copyright: sigcalcloud.cloud contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Test helper: records every task result as JSON in the file named by RECORD_RESULTS_FILE.

ansible-core ships no machine-readable stdout callback any more (json moved to
ansible.posix, which is not installable from PyPI alone), so the end-to-end tests
keep the default output for people and read results from this file.
"""

from __future__ import annotations

DOCUMENTATION = r"""
name: record_results
type: aggregate
short_description: Record task results as JSON for the end-to-end tests
description:
  - Writes a JSON list of task results to the file named by E(RECORD_RESULTS_FILE).
requirements:
  - enabled with E(ANSIBLE_CALLBACKS_ENABLED)
"""

import json
import os

from ansible.module_utils.common.json import AnsibleJSONEncoder
from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "record_results"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super(CallbackModule, self).__init__()
        self.results = []

    def _record(self, result, status):
        data = dict(result._result)
        data.setdefault("failed", status == "failed")
        self.results.append({"host": result._host.get_name(), "task": result._task.get_name(),
                             "status": status, "result": data})
        self._write()

    def _write(self):
        path = os.environ.get("RECORD_RESULTS_FILE")
        if path:
            with open(path, "w") as handle:
                json.dump(self.results, handle, cls=AnsibleJSONEncoder)

    def v2_runner_on_ok(self, result):
        self._record(result, "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, "failed")

    def v2_runner_on_unreachable(self, result):
        self._record(result, "unreachable")
