# -*- coding: utf-8 -*-
# Copyright: sigcalcloud.cloud contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The inventory's cache: its key stays the same release after release, so that an entry
written by an earlier version is still found; an entry it did not write is a miss that says why."""

from __future__ import annotations

import hashlib

import pytest

from ansible_collections.sigcalcloud.cloud.plugins.inventory.uredis_backup import InventoryModule, _cached_listings
from ansible_collections.sigcalcloud.cloud.plugins.module_utils import _listings
from ansible_collections.sigcalcloud.cloud.plugins.module_utils import _settings


# The developer's own SIGCALCLOUD_* variables and profile files must not leak in (conftest.py).
pytestmark = pytest.mark.usefixtures("no_sigcalcloud_environment")


def test_the_cache_key_is_the_one_earlier_releases_wrote():
    settings = _settings.resolve({"public_key": "pub-0815", "private_key": "secret"}, require_region=False)
    queries = (_listings.build_queries(["hk", "cn-bj2"], ["org-1"], ["normal"], None)
               + _listings.group_queries(["hk", "cn-bj2"], ["org-1"], None))
    plugin = InventoryModule()
    path = "/srv/inventory/uredis_backup.yml"

    # As the key was computed up to 1.x: the salted hash of the public key, and what was
    # asked (the queries sorted by repr) as JSON, hashed again, 12 hex digits of it.
    account = hashlib.sha256(b"sigcalcloud.cloud/account/v1\x00pub-0815").hexdigest()[:32]
    asked = ('["https://api.sigcalcloud.com", "%s", [["cn-bj2", "org-1", null, null], '
             '["cn-bj2", "org-1", "normal", null, null, null], ["hk", "org-1", null, null], '
             '["hk", "org-1", "normal", null, null, null]]]' % account)
    expected = "%s_%s" % (plugin.get_cache_key(path), hashlib.sha256(asked.encode("utf-8")).hexdigest()[:12])

    assert plugin._cache_key(path, queries, settings) == expected
    assert plugin._cache_key(path, list(reversed(queries)), settings) == expected  # the order asked does not count
    assert "pub-0815" not in expected and "secret" not in expected


def test_another_account_or_endpoint_is_another_key():
    def key(**options):
        settings = _settings.resolve(dict({"public_key": "pub-0815", "private_key": "secret"}, **options),
                                     require_region=False)
        return settings.cache_key(["cn-bj2"])

    assert len({key(), key(public_key="pub-4711"), key(base_url="http://127.0.0.1:8080")}) == 3
    assert key() == key(private_key="another-secret")  # the private key is not the account


@pytest.mark.parametrize("entry, want_groups, message", [
    ({"format": 2, "backups": []}, False, "it is not a format 3 entry"),
    ({"format": 3, "backups": {}}, False, "its backups are dict, not a list"),
    ({"format": 3, "backups": [[]]}, False, "backups[0]: a backup is list, not a mapping"),
    ({"format": 3, "backups": [], "groups": None}, True, "its groups are NoneType, not a list"),
    ({"format": 3, "backups": [], "groups": [{}, 1]}, True, "groups[0]: a group has the facts , expected "),
])
def test_a_cache_entry_not_written_by_the_plugin_says_why(entry, want_groups, message):
    with pytest.raises(ValueError) as caught:
        _cached_listings(entry, want_groups)
    assert str(caught.value).startswith(message)


def test_a_cache_entry_without_groups_serves_a_backup_inventory():
    assert _cached_listings({"format": 3, "backups": [], "groups": None}, False) == ([], [])
    assert _cached_listings({"format": 3, "backups": [], "groups": []}, True) == ([], [])
