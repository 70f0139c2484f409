# -*- coding: utf-8 -*-
# Copyright: sigcalcloud.cloud contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""A callback of the benchmark (tests/benchmark/drill.py): when each task started and ended on each host.

Enabled with ANSIBLE_CALLBACK_PLUGINS=tests/benchmark/callback_plugins and
ANSIBLE_CALLBACKS_ENABLED=task_times; writes one JSON line per host and task to the file named by
BENCH_TASK_TIMES: {"host", "task", "path", "start", "end", "status", "elapsed"} (times: time.time();
elapsed: the module's own "elapsed" result, when it returns one).
"""

from __future__ import annotations

DOCUMENTATION = r"""
name: task_times
type: aggregate
short_description: when each task started and ended on each host (benchmark only)
description: Writes one JSON line per host and task to the file named by the BENCH_TASK_TIMES environment variable.
"""

import json
import os
import time

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "task_times"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super(CallbackModule, self).__init__(*args, **kwargs)
        self._path = os.environ.get("BENCH_TASK_TIMES")
        self._started = {}

    def v2_runner_on_start(self, host, task):
        self._started[(host.get_name(), task._uuid)] = time.time()

    def _done(self, result, status):
        end = time.time()
        host, task = result._host.get_name(), result._task
        answer = result._result if isinstance(result._result, dict) else {}
        elapsed = answer.get("elapsed")
        row = {"host": host, "task": task.get_name(), "path": task.get_path(),
               "start": self._started.pop((host, task._uuid), None), "end": end, "status": status,
               "elapsed": elapsed if isinstance(elapsed, (int, float)) else None}
        if self._path:
            with open(self._path, "a") as handle:
                handle.write(json.dumps(row) + "\n")

    def v2_runner_on_ok(self, result, **kwargs):
        self._done(result, "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._done(result, "failed")

    def v2_runner_on_skipped(self, result):
        self._done(result, "skipped")

    def v2_runner_on_unreachable(self, result):
        self._done(result, "unreachable")
