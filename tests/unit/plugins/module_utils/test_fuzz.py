# -*- coding: utf-8 -*-
# Copyright: sigcalcloud.cloud contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Property tests: any parameters sign and round-trip through the emulator's verifier,
and any answer ends in data or a SigcalcloudError, never another exception."""

from __future__ import annotations

import io
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.sigcalcloud.cloud.plugins.module_utils._client import Backoff, Client, SigcalcloudError
from ansible_collections.sigcalcloud.cloud.plugins.module_utils._backups import BACKUPS, PAGE_SIZE, Query
from ansible_collections.sigcalcloud.cloud.plugins.module_utils._paging import parse_page as _parse_page
from emulator.server import Emulator, generate_dataset

RESERVED = {"Action", "PublicKey", "Signature", "Region", "ProjectId", "GroupId", "RegionType", "Offset",
            "Limit", "BackupId", "SlaveZone"}
names = st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,12}", fullmatch=True).filter(lambda n: n not in RESERVED)
scalars = st.one_of(st.text(max_size=40), st.integers(), st.booleans(),
                    st.floats(allow_nan=False, allow_infinity=False))
values = st.one_of(scalars, st.lists(scalars, max_size=4), st.dictionaries(names, scalars, max_size=3))


@pytest.fixture(scope="module")
def emulator():
    with Emulator(data=generate_dataset(["cn-bj2"], 3, seed=1)) as emu:
        yield emu


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(extra=st.dictionaries(names, values, max_size=6))
def test_any_parameters_are_signed_as_the_server_verifies(emulator, extra):
    account = emulator.data["accounts"][0]
    # Retries only ride out a loaded machine (a lost connection); a bad signature is never retried.
    client = Client(account["public_key"], account["private_key"], base_url=emulator.base_url, timeout=10,
                    backoff=Backoff(max_retries=2))
    params = dict(extra, RegionType="normal")
    answer = client.call("DescribeURedisBackup", params, region="cn-bj2")
    assert answer["RetCode"] == 0 and answer["TotalCount"] == 3


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(group=st.text(min_size=1, max_size=30).filter(lambda t: t.strip()))
def test_any_filter_value_round_trips(emulator, group):
    """A value is matched as sent: no parameter injection, no mangling on the way."""
    account = emulator.data["accounts"][0]
    row = dict(emulator.data["backups"][0], GroupId=group, BackupId="fuzz-row")
    emulator.change(upsert=[row])
    client = Client(account["public_key"], account["private_key"], base_url=emulator.base_url,
                    backoff=Backoff(max_retries=0))
    answer = client.call("DescribeURedisBackup", {"GroupId": group}, region="cn-bj2")
    assert [r["BackupId"] for r in answer["DataSet"]] == ["fuzz-row"]
    emulator.change(delete=["fuzz-row"])


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=10)),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20)
field_names = st.sampled_from(["BackupId", "BackupName", "BackupTime", "BackupSize", "State", "GroupId",
                               "MemorySize", "Zone", "RedisVersion", "SrcRegionName"])
rows = st.dictionaries(field_names, json_values, max_size=6)
answers = st.one_of(
    json_values,
    st.fixed_dictionaries({"RetCode": st.just(0)}, optional={
        "TotalCount": json_values, "DataSet": st.one_of(json_values, st.lists(rows, max_size=4))}),
)


@settings(max_examples=400, deadline=None)
@given(answer=answers)
def test_any_answer_shape_ends_in_data_or_a_clear_error(answer):
    if not isinstance(answer, dict):
        answer = {"DataSet": answer}
    try:
        page = _parse_page(BACKUPS, answer, Query("cn-bj2"), 0, PAGE_SIZE)
    except SigcalcloudError as error:
        assert "unexpected answer for region cn-bj2" in str(error)
        return
    assert isinstance(page.total, int)
    for facts in page.rows:
        assert isinstance(facts["backup_time"], (int, type(None)))
        assert isinstance(facts["backup_id"], (str, type(None)))


class OneAnswer:
    def __init__(self, body):
        self.headers = {}
        self.body = body

    def post(self, url, data, timeout, verify, allow_redirects=True, stream=False):
        body = io.BytesIO(self.body)
        response = type("Response", (), {"close": lambda self: None})()
        response.status_code, response.reason, response.headers = 200, "OK", {}
        response.raw = type("Raw", (), {"read": lambda self, amt, decode_content=True: body.read(amt)})()
        return response


@settings(max_examples=300, deadline=None)
@given(body=st.one_of(st.binary(max_size=60), json_values.map(lambda v: json.dumps(v).encode())))
def test_any_body_ends_in_an_answer_or_a_clear_error(body):
    client = Client("pub", "secret", backoff=Backoff(max_retries=0), session=OneAnswer(body))
    try:
        answer = client.call("DescribeURedisBackup", {})
    except SigcalcloudError as error:
        assert "secret" not in str(error)
        return
    assert isinstance(answer, dict) and int(answer["RetCode"]) == 0
