# -*- coding: utf-8 -*-
# Copyright: sigcalcloud.cloud contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The small base every module of the collection stands on.

It adds the connection options to the module's own, resolves them once (options,
environment, profile files), keeps every secret out of the output, and turns a
SigcalcloudError into a failure that carries the API's RetCode, HTTP status and request
id. A module only describes its options and does its one job in ``run``.
"""

from __future__ import annotations

from typing import Any, Dict, NoReturn

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.sigcalcloud.cloud.plugins.module_utils import _transport
from ansible_collections.sigcalcloud.cloud.plugins.module_utils import _text
from ansible_collections.sigcalcloud.cloud.plugins.module_utils import _settings
from ansible_collections.sigcalcloud.cloud.plugins.module_utils._client import SigcalcloudError
from ansible_collections.sigcalcloud.cloud.plugins.module_utils._options import OptionError


class SigcalcloudModule:
    """An AnsibleModule with the connection options, resolved settings and one client.

    Subclasses set ``argument_spec`` (their own options) and implement ``run()``, which
    returns the result dict (``changed`` included) or raises SigcalcloudError.
    """

    argument_spec = {}
    module_kwargs = {}

    def __init__(self) -> None:
        spec = _settings.module_argument_spec()
        spec.update(self.argument_spec)
        self.module = AnsibleModule(argument_spec=spec, supports_check_mode=True, **self.module_kwargs)
        self.params = self.module.params
        if not _transport.HAS_REQUESTS:
            self.module.fail_json(msg=missing_required_lib("requests"), exception=_transport.REQUESTS_IMPORT_ERROR)
        # A password in base_url is as secret as the private key: the invocation shown at -v,
        # and a failure's, would print it.
        self.module.no_log_values.update(_text.url_secrets(self.params["base_url"]))
        try:
            self.settings = _settings.resolve(self.params)
        except OptionError as exc:
            self.module.fail_json(msg=str(exc))
        # A key read from a profile file is as secret as one passed as an option.
        self.module.no_log_values.add(self.settings.private_key)
        self.module.no_log_values.update(_text.url_secrets(self.settings.base_url))
        for warning in self.settings.warnings:
            self.module.warn(warning)
        self.client = self.settings.client()

    @property
    def check_mode(self) -> bool:
        return self.module.check_mode

    def fail(self, msg: str, **result: Any) -> NoReturn:
        self.module.fail_json(msg=msg, **result)

    def fail_from(self, error: SigcalcloudError, **result: Any) -> NoReturn:
        """Fail with ``error``'s message and what the API told of it, for support tickets."""
        details = dict(ret_code=error.ret_code, request_id=error.request_id, http_status=error.http_status)
        result.update((key, value) for key, value in details.items() if value is not None)
        self.module.fail_json(msg=str(error), **result)

    def run(self) -> Dict[str, Any]:
        raise NotImplementedError

    def main(self) -> NoReturn:
        try:
            result = self.run()
        except SigcalcloudError as error:
            self.fail_from(error)
        except OptionError as exc:  # an option value the checks refuse; any other error is a bug, and shows as one
            self.fail(str(exc))
        self.module.exit_json(**result)
