"""The Elements API client against the FAKE API on loopback (real HTTP): token, paging, retries, refusals."""

from __future__ import annotations

import base64
import json
import urllib.request
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.m1038.appcontrol.plugins.module_utils._withsecure_api import (
    ApiError,
    AuthError,
    ElementsClient,
    MalformedPage,
    check_api_url,
    check_event,
    format_timestamp,
    parse_page,
    retry_after_seconds,
    timestamp_key,
)

from .conftest import CLIENT_ID, SECRET, fake_api


class Clock:
    """A monotonic clock the test moves, and a sleep that records what it was asked to wait."""

    def __init__(self):
        self.now = 1000.0
        self.waits = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.waits.append(seconds)
        self.now += seconds


def client(fake, clock=None, secret=SECRET, **kwargs):
    clock = clock or Clock()
    kwargs.setdefault("max_attempts", 4)
    return ElementsClient(
        fake.url, CLIENT_ID, secret, user_agent="m1038-test/1", sleep=clock.sleep, clock=clock, **kwargs
    )


def query(limit=50, start="2000-01-01T00:00:00.000Z", engine="applicationControl"):
    return [
        ("engine", engine),
        ("persistenceTimestampStart", start),
        ("exclusiveStart", "false"),
        ("order", "asc"),
        ("limit", str(limit)),
    ]


def test_pages_follow_next_anchor_to_the_last_page_in_order(fake):
    events = fake.generate(120)
    c = client(fake)
    got, anchor, pages = [], None, 0
    while True:
        page = c.events_page([*query(), ("anchor", anchor)] if anchor else query())
        pages += 1
        got += page.items
        anchor = page.next_anchor
        if not anchor:
            break
    assert pages == 3
    assert [e["id"] for e in got] == [e["id"] for e in events]
    assert c.stats.token_requests == 1, "one token serves the whole run"


def test_the_token_request_is_the_documented_client_credentials_call(fake):
    fake.generate(1)
    c = client(fake)
    c.events_page(query())
    assert fake.state.tokens_issued == 1
    # The fake only answers a token for Basic base64(id:secret), grant_type=client_credentials,
    # scope=connect.api.read; and every request needs a User-Agent.
    with pytest.raises(ValueError, match="user_agent"):
        ElementsClient(fake.url, CLIENT_ID, SECRET, user_agent="")


def test_wrong_credentials_are_an_auth_error_without_the_secret(fake):
    c = client(fake, secret="not-the-secret")  # noqa: S106 - a wrong test credential on purpose
    with pytest.raises(AuthError, match=r"HTTP 401: invalid_client") as caught:
        c.events_page(query())
    assert "not-the-secret" not in str(caught.value)
    assert base64.b64encode(f"{CLIENT_ID}:not-the-secret".encode()).decode() not in str(caught.value)
    assert "not-the-secret" not in repr(c)
    assert fake.state.requests["token"] == 1, "a refused credential is not retried"


def test_a_token_about_to_expire_is_fetched_again(fake):
    fake.generate(3)
    clock = Clock()
    c = client(fake, clock)
    c.events_page(query())
    clock.now += 3600 - 60 - 1
    c.events_page(query())
    assert c.stats.token_requests == 1
    clock.now += 2
    c.events_page(query())
    assert c.stats.token_requests == 2


def test_a_token_the_api_no_longer_accepts_is_renewed_once(fake):
    fake.generate(3)
    c = client(fake)
    c.events_page(query())
    fake.faults({"expire_tokens": True})
    page = c.events_page(query())
    assert len(page.items) == 3
    assert (c.stats.token_requests, c.stats.token_renewals) == (2, 1)


def test_a_token_refused_twice_in_a_row_is_an_auth_error(fake):
    fake.generate(1)
    c = client(fake)
    fake.faults({"expire_tokens": True}, {"expire_tokens": True})
    with pytest.raises(AuthError, match="refused the token"):
        c.events_page(query())


def test_429_waits_for_retry_after_then_succeeds(fake):
    fake.generate(2)
    clock = Clock()
    c = client(fake, clock)
    fake.faults({"status": 429, "retry_after": "7"}, {"status": 429, "retry_after": "9999"})
    page = c.events_page(query())
    assert len(page.items) == 2
    assert clock.waits == [7.0, 300.0], "Retry-After is honoured and capped at retry_after_max"
    assert (c.stats.throttled, c.stats.retries) == (2, 2)


def test_429_on_the_token_endpoint_is_retried_too(fake):
    fake.generate(1)
    clock = Clock()
    c = client(fake, clock)
    fake.faults({"status": 429, "retry_after": "2", "path": "token"})
    assert len(c.events_page(query()).items) == 1
    assert clock.waits == [2.0]


def test_5xx_and_dropped_connections_back_off_exponentially_then_succeed(fake):
    fake.generate(2)
    clock = Clock()
    c = client(fake, clock, backoff_base=1.0, backoff_max=60.0)
    fake.faults({"status": 500}, {"drop": True}, {"status": 503})
    assert len(c.events_page(query()).items) == 2
    assert len(clock.waits) == 3
    for attempt, wait in enumerate(clock.waits, start=1):
        assert 2 ** (attempt - 1) * 0.5 <= wait <= 2 ** (attempt - 1), "exponential with jitter"
    assert (c.stats.server_errors, c.stats.network_errors) == (2, 1)


def test_5xx_that_never_ends_gives_up_after_max_attempts(fake):
    fake.faults(*[{"status": 502}] * 10)
    c = client(fake, max_attempts=3)
    fake.generate(1)
    with pytest.raises(ApiError, match=r"gave up after 3 attempts; last: HTTP 502"):
        c.events_page(query())


def test_a_client_error_is_reported_not_retried(fake):
    c = client(fake)
    with pytest.raises(ApiError, match=r"HTTP 400: .*limit must be 1..200"):
        c.events_page(query(limit=201))
    assert fake.state.requests["events"] == 1


def test_no_server_listening_is_a_network_error_retried_then_given_up(fake):
    url = fake.url
    fake.stop()
    clock = Clock()
    c = ElementsClient(url, CLIENT_ID, SECRET, user_agent="t", sleep=clock.sleep, clock=clock, max_attempts=2)
    with pytest.raises(ApiError, match="gave up after 2 attempts; last: ConnectionRefusedError"):
        c.token()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"items": [{"id": "tr', "not JSON"),
        (b"[1, 2]", "JSON list, not an object"),
        (b'{"nextAnchor": 5}', "nextAnchor '5' is not a non-empty string"),
        (b'{"items": "x"}', "items is a str, not a list and no nextAnchor"),
        (b"{}", "has no items and no nextAnchor"),
    ],
)
def test_malformed_answers_are_refused_with_the_reason(body, message):
    with pytest.raises(MalformedPage, match=message):
        parse_page(body)


def test_a_page_with_unusable_items_but_an_anchor_can_be_skipped():
    page = parse_page(b'{"items": {"a": 1}, "nextAnchor": "abc"}')
    assert (page.items, page.next_anchor, page.skipped) == ([], "abc", "the page items is a dict, not a list")


def test_bad_items_are_rejected_one_by_one_and_good_ones_kept_in_order():
    good = [{"id": f"e{i}", "persistenceTimestamp": "2026-01-15T09:30:00.000Z"} for i in range(2)]
    body = {"items": [good[0], 7, {"id": ""}, {"id": "x", "persistenceTimestamp": "soon"}, good[1]]}
    page = parse_page(__import__("json").dumps(body).encode())
    assert page.items == good
    assert page.rejected == [
        "item 1 is a int, not an object",
        "item 2 has no usable id ('')",
        "item 3 x: persistenceTimestamp 'soon' is not RFC 3339",
    ]


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("12", 12.0), (" 0 ", 0.0), ("soon", None), (None, None), ("Wed, 02 Dec 2026 10:00:30 GMT", 30.0)],
)
def test_retry_after_reads_seconds_and_http_dates(value, seconds):
    now = datetime(2026, 12, 2, 10, 0, 0, tzinfo=UTC)
    assert retry_after_seconds(value, now=now) == seconds


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://api.connect.withsecure.com", "plain http is only allowed to a loopback address"),
        ("ftp://127.0.0.1", "is not an http"),
        ("https://user:pw@api.example", "must not carry"),
        ("https://api.example/?x=1", "must not carry"),
        (None, "is not an http"),
    ],
)
def test_api_urls_must_be_https_except_to_loopback(url, message):
    with pytest.raises(ValueError, match=message):
        check_api_url(url)


@pytest.mark.parametrize("url", ["https://api.connect.withsecure.com", "http://127.0.0.1:8080", "http://[::1]:80"])
def test_accepted_api_urls(url):
    check_api_url(url)


def test_timestamps_order_across_precisions_and_offsets():
    assert timestamp_key("2023-12-18T11:28:16.809Z") < timestamp_key("2023-12-18T11:28:16.8091Z")
    assert timestamp_key("2023-12-18T12:28:16.809+01:00") == timestamp_key("2023-12-18T11:28:16.809Z")
    assert timestamp_key("2023-12-18T11:28:16Z") == timestamp_key("2023-12-18T11:28:16.000000000Z")
    for bad in ("2023-12-18 11:28:16Z", "2023-12-18T11:28:16", "", 17, None):
        with pytest.raises(ValueError):
            timestamp_key(bad)


@given(st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)))
def test_property_format_and_key_agree_with_datetime_order(moment):
    text = format_timestamp(moment)
    later = format_timestamp(moment + timedelta(milliseconds=1))
    assert timestamp_key(text) < timestamp_key(later)
    epoch_ms = (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)
    assert timestamp_key(text) // 1_000_000 == epoch_ms


_values = st.none() | st.booleans() | st.integers() | st.text(max_size=40) | st.lists(st.integers(), max_size=2)
_stamps = st.datetimes(timezones=st.just(UTC)).map(format_timestamp)


@given(
    st.dictionaries(st.sampled_from(["id", "persistenceTimestamp", "engine"]), _values | _stamps, max_size=3) | _values
)
def test_property_check_event_never_raises_and_accepts_only_id_and_timestamp(item):
    reason = check_event(item)
    assert isinstance(reason, str)
    if not reason:
        assert isinstance(item["id"], str) and item["id"]
        timestamp_key(item["persistenceTimestamp"])


def test_the_fakes_control_endpoints_work_over_http(fake):
    """Molecule drives the fake through these (tests/doubles/withsecure-api/README.md)."""

    def call(path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{fake.url}/_fake/{path}", data=data)  # noqa: S310 - http to loopback
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 - the fake on loopback
            return json.loads(answer.read())

    assert call("events", {"generate": 3, "first": 7, "start": "2026-01-15T09:30:00.000Z"}) == {"events": 3}
    assert call("events", [fake_api.make_event(1, datetime(2026, 1, 15, 10, tzinfo=UTC))]) == {"events": 4}
    assert call("faults", [{"status": 503}]) == {"faults": 1}
    state = call("state")
    assert (state["events"], state["faults_left"]) == (4, 1)
    assert fake.state.events[0][2]["id"] == "fake-00000007"
    assert call("reset", {}) == {}
    assert call("state")["events"] == 0
