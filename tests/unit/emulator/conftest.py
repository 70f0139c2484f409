# -*- coding: utf-8 -*-
# Copyright: sigcalcloud.cloud contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Fixtures of the emulator's unit tests: emulators started in this process, stopped after
their test (or module). The helpers the tests share are emulator_helpers.py's."""

from __future__ import annotations

import pytest

from emulator.server import Emulator
from emulator_helpers import fresh_data


@pytest.fixture
def make_emulator():
    """make_emulator(**Emulator kwargs): a started emulator (of fresh_data() by default), stopped after the test.

    A test module whose emulators need other defaults overrides this fixture with one of the
    same name that asks for this one and sets them."""
    started = []

    def make(**kwargs):
        kwargs.setdefault("data", fresh_data())
        emu = Emulator(**kwargs).start()
        started.append(emu)
        return emu

    yield make
    for emu in started:
        emu.stop()


@pytest.fixture(scope="module")
def shared():
    """One emulator of the default data set for the tests that only read (one per test module)."""
    with Emulator(data=fresh_data()) as emu:
        yield emu
