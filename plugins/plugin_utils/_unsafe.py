# -*- coding: utf-8 -*-
# Copyright: sigcalcloud.cloud contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""What the controller-side plugins need to work alike on ansible-core 2.16 to the newest.

Untrusted data. ansible-core 2.19 and later tag data: a string is templated only when it
is trusted as a template, and nothing an inventory plugin adds is, unless the plugin says
so. Before 2.19, Ansible templates any string that looks like a template, wherever it is
used (a host variable, ``compose``, a play's ``debug``), unless the string is marked unsafe.
There, every string from the API is wrapped before Ansible sees it (``make_unsafe``);
on 2.19 and later nothing is changed, since nothing from the plugin is trusted anyway.

Conditionals. 2.19 gives the templar ``evaluate_conditional``; before 2.19 the same
evaluation (the ``when`` keyword's) is done by ``ansible.playbook.conditional.Conditional``.

Which core this is is found by feature, never by its version string.
"""

from __future__ import annotations

from collections.abc import Mapping, Set

from ansible import template as _template

# is_trusted_as_template is public since 2.19, the first core with data tagging.
HAS_DATA_TAGGING = hasattr(_template, "is_trusted_as_template")
if HAS_DATA_TAGGING:
    _conditional = _unsafe_proxy = None  # not needed (and unsafe_proxy is deprecated there)
else:
    from ansible.playbook import conditional as _conditional
    from ansible.utils import unsafe_proxy as _unsafe_proxy

# Every delimiter Ansible templates data with ({{, {% and {#) starts with it. (The
# template action's own delimiter options apply to the template file only: variables it
# reads are templated with these.)
TEMPLATE_START = "{"


def make_unsafe(value):
    """``value`` with every string in it, mapping keys included, marked unsafe: never templated.

    Mappings become dicts, lists and tuples keep their type, sets become sets; other values
    (numbers, booleans, None) are returned as they are. On a core with data tagging
    (2.19 and later) ``value`` itself is returned.
    """
    if HAS_DATA_TAGGING:
        return value
    return _unsafe(value)


def _unsafe(value):
    if isinstance(value, _unsafe_proxy.AnsibleUnsafe):
        return value
    if isinstance(value, str):
        return _unsafe_proxy.AnsibleUnsafeText(value)
    if isinstance(value, bytes):
        return _unsafe_proxy.AnsibleUnsafeBytes(value)
    if isinstance(value, Mapping):
        return dict((_unsafe(key), _unsafe(item)) for key, item in value.items())
    if isinstance(value, (list, tuple)):
        return type(value)(_unsafe(item) for item in value)
    if isinstance(value, Set):
        return set(_unsafe(item) for item in value)
    return value


def unsafe_name(name):
    """A host name made of API data, marked unsafe only if it could be a template.

    A host name is where the mark would do harm: ``ansible-inventory --list`` writes an
    unsafe name in a group's ``hosts`` as ``{"__ansible_unsafe": name}`` instead of a string,
    where what reads that output (an AWX inventory import, a script) expects a host name.
    So a name without a template delimiter stays a plain string (nothing can template it),
    and one with ``{`` is marked, since before 2.19 ``inventory_hostname`` is templated like
    any other variable. (Group names need nothing: the constructed options replace ``{`` in
    them.) On 2.19 and later ``name`` is returned as it is.
    """
    if HAS_DATA_TAGGING or not isinstance(name, str):
        return name
    if TEMPLATE_START in name:
        return _unsafe(name)
    # A template's result is unsafe when it used unsafe data: make it a plain string again.
    return str.__str__(name)


def evaluate_conditional(templar, loader, condition, variables):
    """Whether ``condition`` (a trusted Jinja2 expression or a boolean) holds for ``variables``, as in ``when``."""
    templar.available_variables = variables
    if hasattr(templar, "evaluate_conditional"):  # 2.19 and later
        return templar.evaluate_conditional(condition)
    conditional = _conditional.Conditional(loader=loader)
    conditional.when = [condition]
    return conditional.evaluate_conditional(templar, variables)
