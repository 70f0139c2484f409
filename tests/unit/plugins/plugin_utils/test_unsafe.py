# -*- coding: utf-8 -*-
# Copyright: sigcalcloud.cloud contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Untrusted data and conditionals alike on every ansible-core: a real Templar, whichever
core this virtualenv has (the test matrix runs 2.16 to the newest)."""

from __future__ import annotations

import pytest
from ansible import template
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar

from ansible_collections.sigcalcloud.cloud.plugins.plugin_utils import _unsafe

TEMPLATE = "{{ 7 * 7 }}"


def is_marked(value):
    return getattr(value, "__UNSAFE__", False) is True


def trusted(text):
    """A template as the inventory file gives it: trusted (2.19 and later trust only what they are told to)."""
    return template.trust_as_template(text) if _unsafe.HAS_DATA_TAGGING else text


@pytest.fixture
def templar():
    return Templar(loader=DataLoader())


def facts():
    return {"backup_name": TEMPLATE, "backup_size": 7, "zone": None, "ok": True, "tags": ["a{{", ("t", b"{%")],
            "nested": {"group_name": TEMPLATE, "more": [{"x": "{#"}]}, "set": {"s"}}


def test_marked_data_is_never_templated_where_plain_data_is_before_2_19(templar):
    templar.available_variables = _unsafe.make_unsafe(facts())
    assert templar.template(trusted("{{ backup_name }}")) == TEMPLATE
    assert templar.template(trusted("{{ nested.group_name }}-{{ backup_size }}")) == TEMPLATE + "-7"
    templar.available_variables = facts()
    # The reason for the mark: before data tagging, plain data is templated again when used.
    assert templar.template(trusted("{{ backup_name }}")) == (TEMPLATE if _unsafe.HAS_DATA_TAGGING else "49")


def test_make_unsafe_marks_every_string_and_keeps_the_rest_before_2_19():
    original = facts()
    marked = _unsafe.make_unsafe(original)
    assert marked == original
    if _unsafe.HAS_DATA_TAGGING:
        assert marked is original  # nothing to do: no plugin data is trusted as a template
        return
    strings = [marked["backup_name"], marked["nested"]["group_name"], marked["nested"]["more"][0]["x"],
               marked["tags"][0], marked["tags"][1][0], marked["tags"][1][1], next(iter(marked["set"]))]
    strings += list(marked) + list(marked["nested"])
    assert all(is_marked(value) for value in strings)
    assert isinstance(marked["tags"], list) and isinstance(marked["tags"][1], tuple) and isinstance(marked["set"], set)
    assert marked["backup_size"] == 7 and marked["zone"] is None and marked["ok"] is True
    assert not any(is_marked(marked[key]) for key in ("backup_size", "zone", "ok"))
    assert _unsafe.make_unsafe(marked) == marked  # marking twice changes nothing


@pytest.mark.parametrize("name, marked", [
    ("uredis-abc_1.x:y", False),
    ("备份 ünïcode & more", False),
    (TEMPLATE, True),
    ("{% if 1 %}", True),
    ("a{#b", True),
])
def test_a_host_name_is_marked_only_when_it_could_be_a_template(name, marked):
    for value in (name, _unsafe.make_unsafe(name)):  # a template's result can come back marked
        result = _unsafe.unsafe_name(value)
        assert result == name
        # Unmarked, ansible-inventory --list writes it as a string.
        assert is_marked(result) is (marked and not _unsafe.HAS_DATA_TAGGING)


@pytest.mark.parametrize("condition, expected", [
    ("backup_name == nested.group_name and backup_name.startswith('{') and '7 *' in backup_name", True),
    ("backup_size > 5 and zone is none and ok", True),
    ("backup_name is match('49')", False),
    (True, True),
    (False, False),
])
def test_evaluate_conditional_sees_the_marked_text_as_it_is(templar, condition, expected):
    if isinstance(condition, str):
        condition = trusted(condition)
    variables = _unsafe.make_unsafe(facts())
    assert _unsafe.evaluate_conditional(templar, DataLoader(), condition, variables) is expected


def test_evaluate_conditional_fails_on_an_undefined_name(templar):
    with pytest.raises(Exception, match="nosuchfact"):
        _unsafe.evaluate_conditional(templar, DataLoader(), trusted("nosuchfact == 1"), _unsafe.make_unsafe(facts()))
