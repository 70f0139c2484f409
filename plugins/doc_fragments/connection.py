# -*- coding: utf-8 -*-
# Copyright: sigcalcloud.cloud contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# The connection options every plugin of this collection shares. Their types, environment
# variables and defaults live in plugins/module_utils/_settings.py; a unit test checks
# that this text and that table agree.

from __future__ import annotations


class ModuleDocFragment:

    # For modules: environment variables are read as fallbacks.
    DOCUMENTATION = r"""
options:
  public_key:
    description:
      - Required; set it with this option, the environment variable E(SIGCALCLOUD_PUBLIC_KEY), or the
        C(public_key) of a profile in the credential file (see O(profile)); the first of these that is set, in
        that order, is used. When none is set, the module fails before any request, with a message that names
        the option and these three ways.
      - The API public key of the sigcalcloud account.
    type: str
  private_key:
    description:
      - Required; set it with this option, the environment variable E(SIGCALCLOUD_PRIVATE_KEY), or the
        C(private_key) of a profile in the credential file (see O(profile)); the first of these that is set, in
        that order, is used. When none is set, the module fails before any request, with a message that names
        the option and these three ways.
      - The API private key that signs every request. It is never sent, logged or returned.
    type: str
  region:
    description:
      - Required; set it with this option, the environment variable E(SIGCALCLOUD_REGION), or the C(region) of a
        profile in the config file (see O(profile)); the first of these that is set, in that order, is used.
        When none is set, the module fails before any request, with a message that names the option and these
        three ways.
      - The region to query, for example V(cn-bj2).
    type: str
  project_id:
    description:
      - The project to query. The account's default project when not set.
      - If not set, the environment variable E(SIGCALCLOUD_PROJECT_ID) is used, else the C(project_id) of the profile
        (see O(profile)).
    type: str
  base_url:
    description:
      - The API endpoint. Point it at the emulator (see
        R(the emulator guide,ansible_collections.sigcalcloud.cloud.docsite.emulator)) in tests.
      - A user name and password in the URL (V(https://user:password@gateway/)) are hidden wherever
        the URL is shown.
      - If not set, the environment variable E(SIGCALCLOUD_BASE_URL) is used, else the C(base_url) of the profile
        (see O(profile)), else V(https://api.sigcalcloud.com).
    type: str
  validate_certs:
    description:
      - Whether to verify the endpoint's TLS certificate. Turn off only for a test endpoint.
      - If not set, the environment variable E(SIGCALCLOUD_VALIDATE_CERTS) is used, else V(true).
    type: bool
  ca_path:
    description:
      - A CA bundle file (or a directory of CA certificates) to verify the endpoint's certificate with,
        instead of the system's. Not used when O(validate_certs=false), which turns verification off.
      - If not set, the environment variable E(SIGCALCLOUD_CA_PATH) is used.
    type: path
  timeout:
    description:
      - The wall-clock seconds one attempt of a request may take, connecting, sending, waiting and reading
        the whole answer included, before it counts as failed (and is retried). A server that sends its
        answer slowly cannot stretch it.
      - One request therefore ends within (O(max_retries) + 1) x O(timeout) seconds plus at most 60 seconds
        of waits between attempts.
      - If not set, the environment variable E(SIGCALCLOUD_TIMEOUT) is used, else the C(timeout_sec) of the profile
        (see O(profile)), else V(30).
    type: int
  max_retries:
    description:
      - How many times to retry a request that failed for a transient reason
        (network error, timeout, HTTP 429/500/502/503/504, a garbled answer,
        RetCode 110/130/150/153 or 2000 and above but the final 20004, 20013 and 20208), with exponential
        backoff and jitter.
      - Requests the API refused as wrong (bad signature, bad parameter) are never retried.
      - If not set, the environment variable E(SIGCALCLOUD_MAX_RETRIES) is used, else V(3).
    type: int
  max_concurrency:
    description:
      - The most requests in flight at once while reading the pages of a listing.
      - If not set, the environment variable E(SIGCALCLOUD_MAX_CONCURRENCY) is used, else V(16).
    type: int
  max_rows:
    description:
      - The most rows (backups or groups) one listing may hold, V(1) to V(1000000). A listing whose
        C(TotalCount) claims more, or whose pages hold more, fails with an error naming this option, before
        the rows fill memory. The default, V(100000), is far above any real account; raise it only for one
        that really lists more (reading 100,000 backups takes about 160 MB of memory).
      - If not set, the environment variable E(SIGCALCLOUD_MAX_ROWS) is used, else V(100000).
    type: int
  profile:
    description:
      - A profile of the shared files C(~/.sigcalcloud/credential.json) (keys) and C(~/.sigcalcloud/config.json)
        (C(project_id), C(region), C(base_url), C(timeout_sec)) that the cloud's command-line tools use.
        Their paths can be moved with E(SIGCALCLOUD_SHARED_CREDENTIAL_FILE) and E(SIGCALCLOUD_SHARED_CONFIG_FILE).
      - A profile fills only options that are set neither in the task nor by their environment variable.
      - If not set, the environment variable E(SIGCALCLOUD_PROFILE) is used, else the profile marked C(active)
        in the config file, else the one named C(default) if there is one.
    type: str
notes:
  - The connection options can be set once per play with
    C(module_defaults) and the action group C(group/sigcalcloud.cloud.sigcalcloud).
requirements:
  - requests >= 2.25 (on the host that runs the module)
"""

    # For inventory (and other non-module) plugins: the same options through the config system.
    PLUGIN_OPTIONS = r"""
options:
  public_key:
    description:
      - Required to read the API, and to use the cache (whose entries are kept per account); set it with this
        option, the environment variable E(SIGCALCLOUD_PUBLIC_KEY), or the C(public_key) of a profile in the
        credential file (see O(profile)); the first of these that is set, in that order, is used. When none is
        set, the inventory fails before any request, with a message that names the option and these three ways.
      - The API public key of the sigcalcloud account. May be a template, for example a vaulted string or a lookup.
    type: str
    env:
      - name: SIGCALCLOUD_PUBLIC_KEY
  private_key:
    description:
      - Required to read the API (a cache hit does not need it); set it with this option, the environment
        variable E(SIGCALCLOUD_PRIVATE_KEY), or the C(private_key) of a profile in the credential file (see
        O(profile)); the first of these that is set, in that order, is used. When none is set, the inventory
        fails before any request, with a message that names the option and these three ways.
      - The API private key that signs every request. It is never sent, logged, cached or shown.
      - May be a template, for example a vaulted string or a lookup.
    type: str
    env:
      - name: SIGCALCLOUD_PRIVATE_KEY
  project_id:
    description:
      - The default project for O(project_ids). The account's default project when not set.
    type: str
    env:
      - name: SIGCALCLOUD_PROJECT_ID
  base_url:
    description:
      - The API endpoint. Point it at the emulator (see
        R(the emulator guide,ansible_collections.sigcalcloud.cloud.docsite.emulator)) in tests.
      - A user name and password in the URL (V(https://user:password@gateway/)) are hidden wherever
        the URL is shown.
      - Defaults to V(https://api.sigcalcloud.com) when set nowhere (option, environment variable, profile).
    type: str
    env:
      - name: SIGCALCLOUD_BASE_URL
  validate_certs:
    description:
      - Whether to verify the endpoint's TLS certificate. Turn off only for a test endpoint.
      - Defaults to V(true) when set nowhere (option, environment variable, profile).
    type: bool
    env:
      - name: SIGCALCLOUD_VALIDATE_CERTS
  ca_path:
    description:
      - A CA bundle file (or a directory of CA certificates) to verify the endpoint's certificate with,
        instead of the system's. Not used when O(validate_certs=false), which turns verification off.
    type: path
    env:
      - name: SIGCALCLOUD_CA_PATH
  timeout:
    description:
      - The wall-clock seconds one attempt of a request may take, connecting, sending, waiting and reading
        the whole answer included, before it counts as failed (and is retried). A server that sends its
        answer slowly cannot stretch it.
      - One request therefore ends within (O(max_retries) + 1) x O(timeout) seconds plus at most 60 seconds
        of waits between attempts.
      - Defaults to V(30) when set nowhere (option, environment variable, profile).
    type: int
    env:
      - name: SIGCALCLOUD_TIMEOUT
  max_retries:
    description:
      - How many times to retry a request that failed for a transient reason
        (network error, timeout, HTTP 429/500/502/503/504, a garbled answer,
        RetCode 110/130/150/153 or 2000 and above but the final 20004, 20013 and 20208), with exponential
        backoff and jitter.
      - Requests the API refused as wrong (bad signature, bad parameter) are never retried.
      - Defaults to V(3) when set nowhere (option, environment variable, profile).
    type: int
    env:
      - name: SIGCALCLOUD_MAX_RETRIES
  max_concurrency:
    description:
      - The most requests in flight at once, across all regions, projects and pages.
      - Defaults to V(16) when set nowhere (option, environment variable, profile).
    type: int
    env:
      - name: SIGCALCLOUD_MAX_CONCURRENCY
  max_rows:
    description:
      - The most rows (backups or groups) one listing may hold, V(1) to V(1000000). A listing whose
        C(TotalCount) claims more, or whose pages hold more, fails with an error naming this option, before
        the rows fill memory. The default is far above any real account; raise it only for one that really
        lists more (reading 100,000 backups takes about 160 MB of memory).
      - Defaults to V(100000) when set nowhere (option, environment variable).
    type: int
    env:
      - name: SIGCALCLOUD_MAX_ROWS
  profile:
    description:
      - A profile of the shared files C(~/.sigcalcloud/credential.json) (keys) and C(~/.sigcalcloud/config.json)
        (C(project_id), C(region), C(base_url), C(timeout_sec)) that the cloud's command-line tools use.
        Their paths can be moved with E(SIGCALCLOUD_SHARED_CREDENTIAL_FILE) and E(SIGCALCLOUD_SHARED_CONFIG_FILE).
      - A profile fills only options that are set neither in the file nor by their environment variable.
      - When not set, the profile marked C(active) in the config file is used, else the one named C(default) if any.
    type: str
    env:
      - name: SIGCALCLOUD_PROFILE
"""
