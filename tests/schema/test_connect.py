"""The connection builder (schema/connect.py): its fast reply transform converts exactly what shotgun_api3's
own does, to the same instants."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import shotgun_api3
from hypothesis import given, settings
from hypothesis import strategies as st

from sg2dbt.schema.connect import Credentials, connect

SG_DATETIMES = st.datetimes(min_value=dt.datetime(1971, 1, 2), max_value=dt.datetime(2999, 12, 31)).map(
    lambda d: d.strftime("%Y-%m-%dT%H:%M:%SZ"))
LOOKALIKES = st.sampled_from(["2024-13-01T00:00:00Z", "2024-02-30T10:00:00Z", "9999-99-99T99:99:99Z",
                              "2024-01-01 00:00:00Z", "2024-01-01T00:00:00"])
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=30),
                    SG_DATETIMES, LOOKALIKES)
REPLIES = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(st.text(max_size=8), inner, max_size=4)),
                       max_leaves=30)


def _instants(value: Any) -> Any:
    """The value with every datetime as its UTC instant, so the two transforms can be compared."""
    if isinstance(value, dt.datetime):
        return ("datetime", value.astimezone(dt.timezone.utc) if value.tzinfo else value)
    if isinstance(value, dict):
        return {k: _instants(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_instants(v) for v in value]
    return value


def _connection(convert_to_utc: bool = True) -> Any:
    sg = connect(Credentials(url="https://site.example.com", script="s", api_key="k-123456"))
    sg.config.convert_datetimes_to_utc = convert_to_utc
    return sg


@settings(max_examples=300, deadline=None)
@given(reply=REPLIES)
def test_the_fast_transform_converts_what_shotgun_api3_converts(reply: Any) -> None:
    sg = _connection()
    original = shotgun_api3.Shotgun._transform_inbound(sg, copy.deepcopy(reply))
    assert _instants(sg._transform_inbound(copy.deepcopy(reply))) == _instants(original)


def test_a_page_of_records_gets_aware_utc_datetimes_in_place() -> None:
    sg = _connection()
    page = {"results": {"entities": [
        {"type": "Shot", "id": 1, "updated_at": "2024-03-01T12:00:00Z", "code": "2024-03-01T12:00:00Z-ish",
         "sg_sequence": {"type": "Sequence", "id": 2, "name": "2024-03-01T12:00:00Z"},
         "assets": [{"type": "Asset", "id": 3, "name": "a"}]}], "paging_info": {"entity_count": 1}}}
    rec = sg._transform_inbound(page)["results"]["entities"][0]
    assert rec["updated_at"] == dt.datetime(2024, 3, 1, 12, tzinfo=dt.timezone.utc)
    assert rec["code"] == "2024-03-01T12:00:00Z-ish"
    assert rec["sg_sequence"]["name"] == dt.datetime(2024, 3, 1, 12, tzinfo=dt.timezone.utc)  # as shotgun_api3
    assert rec["assets"] == [{"type": "Asset", "id": 3, "name": "a"}]


def test_naive_utc_when_the_connection_is_told_not_to_convert() -> None:
    sg = _connection(convert_to_utc=False)
    assert sg._transform_inbound(["2024-03-01T12:00:00Z"]) == [dt.datetime(2024, 3, 1, 12)]
