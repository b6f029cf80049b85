"""A connection's reply steps (schema/replies.py, installed by schema/connect.py): each gives what
shotgun_api3's own gives (the decoded body, the datetimes as the same instants, the finished records), on
generated replies, whichever fast path the body allows."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import pytest
import shotgun_api3
from hypothesis import given, settings
from hypothesis import strategies as st

from sg2dbt.schema.connect import Credentials, connect

SG_DATETIMES = st.datetimes(min_value=dt.datetime(1971, 1, 2), max_value=dt.datetime(2999, 12, 31)).map(
    lambda d: d.strftime("%Y-%m-%dT%H:%M:%SZ"))
LOOKALIKES = st.sampled_from(["2024-13-01T00:00:00Z", "2024-02-30T10:00:00Z", "9999-99-99T99:99:99Z",
                              "2024-01-01 00:00:00Z", "2024-01-01T00:00:00", "2024-03-04t05:06:07z",
                              "2024-03-04T05:06:07z"])
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


def test_the_lean_http_request_returns_what_shotgun_api3_returns(real_schema_pickles: Any, caplog: Any) -> None:
    """Same status, headers and body as shotgun_api3's own ``_http_request``, without formatting the body into
    debug messages nobody reads; with shotgun_api3's logger open (``-vv``) its own runs and logs."""
    import logging

    from shotgun_api3.lib.mockgun import Shotgun

    from tests.support.sgserver import StandInSite, serve

    Shotgun.set_schema_paths(*(str(p) for p in real_schema_pickles))
    with serve(StandInSite(Shotgun("https://mock.example.com", "s", "k"), script="s", key="k-123456")) as url:
        sg = connect(Credentials(url=url, script="s", api_key="k-123456"))
        args = ("POST", "/api3/json", b'{"method_name": "info", "params": []}', {"content-type": "application/json"})
        status, headers, body = sg._http_request(*args)
        assert (status, body) == (shotgun_api3.Shotgun._http_request(sg, *args)[0::2])
        assert status == (200, "OK") and headers["content-type"] == "application/json"
        assert sg.info()["version"] == [9, 0, 0]
        with caplog.at_level(logging.DEBUG, logger="shotgun_api3"):
            sg._http_request(*args)
        assert any("Response body is" in r.getMessage() for r in caplog.records)



PAGE_VALUES = st.one_of(
    st.none(), st.integers(), st.booleans(), SG_DATETIMES, LOOKALIKES, st.text(max_size=12),
    st.sampled_from(["a &lt; b", "&amp;lt;", "x\u0026lt;", "endsZ", "2024-03-01T12:00:00Z ", "\u005a"]),
    st.fixed_dictionaries({"type": st.just("Shot"), "id": st.integers(1, 9)},
                          optional={"name": st.one_of(st.text(max_size=5), SG_DATETIMES)}),
    st.fixed_dictionaries({"link_type": st.sampled_from(["local", "web"]), "name": st.text(max_size=5)},
                          optional={"local_path": st.one_of(st.none(), st.text(max_size=8))}),
    st.lists(st.one_of(SG_DATETIMES, st.text(max_size=4)), max_size=3))
RECORD = st.dictionaries(st.sampled_from(["code", "created_at", "updated_at", "image", "sg_file", "project",
                                          "tags", "description", "sg_due"]), PAGE_VALUES, max_size=7)
PAGES = st.builds(lambda records, paging: {"results": {"entities": records, "paging_info": paging}},
                  st.lists(st.one_of(RECORD.map(lambda r: {"type": "Shot", "id": 1, **r}),
                                     st.just({"type": "Shot", "id": 2, "created_at": "2024-03-01T12:00:00Z",
                                              "updated_at": "2024-03-02T12:00:00Z"})), max_size=5),
                  st.fixed_dictionaries({"has_next_page": st.booleans()},
                                        optional={"note": st.one_of(SG_DATETIMES, st.text(max_size=4))}))


def _page_sg(version: list[int]) -> Any:
    sg = _connection()
    sg._server_caps = shotgun_api3.shotgun.ServerCapabilities(sg.config.server, {"version": version})
    sg._build_thumb_url = lambda entity, rid: f"/thumbs/{entity}/{rid}.jpg"   # a request to the server, else
    return sg


@settings(max_examples=400, deadline=None)
@given(page=PAGES, ascii_only=st.booleans(), version=st.sampled_from([[9, 0, 0], [3, 2, 0]]))
def test_a_page_decoded_transformed_and_finished_is_what_shotgun_api3_makes_of_it(
        page: Any, ascii_only: bool, version: list[int]) -> None:
    """The body's strings ending in Z counted, its "&lt;" and local links looked for: whatever the fast
    paths skip, the records come out as shotgun_api3's three steps make them."""
    import json

    body = json.dumps(page, ensure_ascii=ascii_only).encode()
    ours = _page_sg(version)
    records = ours._transform_inbound(ours._json_loads(body))["results"]["entities"]
    theirs = _page_sg(version)
    expected = shotgun_api3.Shotgun._transform_inbound(theirs, json.loads(body))["results"]["entities"]
    assert _instants(ours._parse_records(records)) == _instants(
        shotgun_api3.Shotgun._parse_records(theirs, expected))


def test_a_page_with_datetimes_only_where_the_first_record_has_them_is_not_walked_whole() -> None:
    """The fast path is taken (a nested value is left as it is: it cannot hold a datetime when the counts
    agree), and a datetime elsewhere sends the page through the whole walk."""
    import json

    sg = _connection()
    page = {"results": {"entities": [{"type": "Shot", "id": i, "updated_at": "2024-03-01T12:00:00Z",
                                      "sg_sequence": {"type": "Sequence", "id": 2, "name": "seq"}}
                                     for i in range(3)], "paging_info": {}}}
    walked: list[Any] = []
    walk = sg._transform_inbound.__self__._walk
    sg._transform_inbound.__self__._walk = lambda value: walked.append(value) or walk(value)
    records = sg._transform_inbound(sg._json_loads(json.dumps(page).encode()))["results"]["entities"]
    assert all(r["updated_at"] == dt.datetime(2024, 3, 1, 12, tzinfo=dt.timezone.utc) for r in records)
    assert walked == []
    page["results"]["entities"][2]["sg_sequence"]["name"] = "2024-03-01T12:00:00Z"
    records = sg._transform_inbound(sg._json_loads(json.dumps(page).encode()))["results"]["entities"]
    assert records[2]["sg_sequence"]["name"] == dt.datetime(2024, 3, 1, 12, tzinfo=dt.timezone.utc)
    assert walked


_LOWER_Z = "2024-03-04t05:06:07z"


@pytest.mark.parametrize("first, second", [
    ({"code": "a"}, {"code": _LOWER_Z}),                                          # a field the count must see
    ({"code": _LOWER_Z}, {"code": "a", "sg_data": {"t": "2024-06-01T00:00:00Z"}}),   # converted, not counted, it
])                                                                                # would hide the nested one
def test_a_datetime_ending_in_a_lowercase_z_is_converted_as_shotgun_api3_converts_it(
        first: dict[str, Any], second: dict[str, Any]) -> None:
    """shotgun_api3's parse ignores case: "...t05:06:07z" is a datetime to it; the body's count of datetimes
    includes it, so the fast path neither leaves it a string nor lets it stand in for another datetime."""
    import json

    page = {"results": {"entities": [
        {"type": "Shot", "id": 1, "updated_at": "2024-03-01T12:00:00Z", **first},
        {"type": "Shot", "id": 2, "updated_at": "2024-03-01T12:00:00Z", **second}], "paging_info": {}}}
    body = json.dumps(page).encode()
    ours = _connection()
    records = ours._transform_inbound(ours._json_loads(body))["results"]["entities"]
    expected = shotgun_api3.Shotgun._transform_inbound(_connection(), json.loads(body))["results"]["entities"]
    assert _instants(records) == _instants(expected)
    assert all(r["code"] == "a" or isinstance(r["code"], dt.datetime) for r in records)
    assert "sg_data" not in records[1] or isinstance(records[1]["sg_data"]["t"], dt.datetime)


@pytest.mark.parametrize("text", ["a \\u0026lt; b", "&\\u006Ct;", "&l\\u0074;", "&lt\\u003b",
                                  "2024-03-01T12:00:00\\u005a", "2024-03-01T12:00:00\\u005A",
                                  "2024-03-01T12:00:00\\u007a"])
@pytest.mark.parametrize("link", ['"\\u006cocal"', '"l\\u006fcal"', '"lo\\u0063al"', '"loc\\u0061l"'])
def test_escaped_characters_are_decoded_before_anything_is_skipped(text: str, link: str) -> None:
    """A body can spell "&lt;", a local link or a datetime's Z with \\u escapes: what it decodes to is what
    shotgun_api3's steps see, so those escapes turn the fast paths off."""
    import json

    body = ('{"results": {"entities": [{"type": "Shot", "id": 1, "created_at": "2024-03-01T12:00:00Z", '
            f'"code": "{text}", "sg_file": {{"link_type": {link}, "local_path": "/p", "name": "f"}}}}]}}}}').encode()
    ours = _page_sg([9, 0, 0])
    records = ours._parse_records(ours._transform_inbound(ours._json_loads(body))["results"]["entities"])
    theirs = _page_sg([9, 0, 0])
    expected = shotgun_api3.Shotgun._transform_inbound(theirs, json.loads(body))["results"]["entities"]
    assert _instants(records) == _instants(shotgun_api3.Shotgun._parse_records(theirs, expected))
