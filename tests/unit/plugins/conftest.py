# -*- coding: utf-8 -*-
# Copyright: sigcalcloud.cloud contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Fixtures the plugins' unit tests share."""

from __future__ import annotations

import os

import pytest


@pytest.fixture
def no_sigcalcloud_environment(monkeypatch, tmp_path):
    """The developer's own SIGCALCLOUD_* variables and profile files must not leak in."""
    for name in list(os.environ):
        if name.startswith("SIGCALCLOUD_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path))
