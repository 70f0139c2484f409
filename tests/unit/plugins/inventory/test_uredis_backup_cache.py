# -*- coding: utf-8 -*-
# Copyright: sigcalcloud.cloud contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The inventory's cache key: the same value release after release, so that an entry
written by an earlier version is still found."""

from __future__ import annotations

import hashlib
import os

import pytest

from ansible_collections.sigcalcloud.cloud.plugins.inventory.uredis_backup import InventoryModule
from ansible_collections.sigcalcloud.cloud.plugins.module_utils import _listings
from ansible_collections.sigcalcloud.cloud.plugins.module_utils import _settings


@pytest.fixture(autouse=True)
def no_sigcalcloud_environment(monkeypatch, tmp_path):
    """The developer's own SIGCALCLOUD_* variables and profile files must not leak in."""
    for name in list(os.environ):
        if name.startswith("SIGCALCLOUD_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path))


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

