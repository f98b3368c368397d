"""The Wazuh API client against the Wazuh API TEST DOUBLE over real HTTP(S) on loopback, not a mock object.

tests/doubles/wazuh-api/wazuh_api_double.py serves the documented shapes (login, agents, syscollector
packages), expires and revokes tokens, counts requests in a fixed rate window and injects faults.
"""

from __future__ import annotations

import socket
import threading
import time

import pytest

from ansible_collections.m1038.appcontrol.plugins.module_utils._software_inventory_api import (
    ApiError,
    ApiFatalError,
    ApiSettings,
    RateGate,
    WazuhApi,
    parse_base_url,
    token_lifetime,
)

from .helpers import load_double

double = load_double()
USER, PASSWORD = "wazuh-reader", "reader-pass"


@pytest.fixture
def serve():
    servers = []

    def start(fleet=None, tls=None, **state_args):
        state = double.DoubleState(fleet or double.Fleet.generated(5, 10), **state_args)
        server, url = double.start(state, tls=tls)
        servers.append(server)
        return state, url

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def client(url, sleeps=None, **settings):
    options = {"retries": 3, "backoff": 1.0, **settings}
    return WazuhApi(
        ApiSettings(url, options.pop("user", USER), options.pop("password", PASSWORD), **options),
        sleep=(sleeps.append if sleeps is not None else lambda _s: None),
        jitter=lambda: 1.0,
    )


def test_one_login_serves_every_request(serve):
    state, url = serve()
    api = client(url)
    for _attempt in range(3):
        assert api.get_json("/agents", {"limit": 2})["data"]["total_affected_items"] == 6
    assert state.count("logins") == 1 and api.stats["authentications"] == 1
    api.close()


def test_a_token_is_renewed_before_it_expires(serve):
    state, url = serve(token_lifetime=120)
    clock = {"now": None}
    api = WazuhApi(ApiSettings(url, USER, PASSWORD), wall=lambda: clock["now"] or time.time())
    api.get_json("/agents")
    clock["now"] = time.time() + 200  # past the token's exp minus the margin
    api.get_json("/agents")
    assert state.count("logins") == 2 and state.count("401") == 0


def test_an_expired_or_revoked_token_is_renewed_once_after_a_401(serve):
    state, url = serve()
    api = client(url)
    api.get_json("/agents")
    state.revoke_tokens()
    assert api.get_json("/agents")["error"] == 0
    assert state.count("401") == 1 and state.count("logins") == 2


def test_threads_share_one_renewal(serve):
    state, url = serve()
    api = client(url)
    api.get_json("/agents")
    state.revoke_tokens()
    errors = []

    def work():
        try:
            for _attempt in range(5):
                api.get_json("/syscollector/001/packages", {"limit": 5})
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work) for _attempt in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert state.count("logins") == 2  # one login, one renewal for all eight threads


def test_really_expiring_tokens(serve):
    state, url = serve(token_lifetime=0.3)
    api = client(url)
    for _attempt in range(4):
        api.get_json("/agents")
        time.sleep(0.15)
    assert state.count("logins") >= 2  # renewed on the way (before exp or after a 401), never failed


def test_refused_credentials_are_not_retried(serve):
    state, url = serve()
    api = client(url, password="wrong")  # noqa: S106 - the test double's wrong password
    with pytest.raises(ApiFatalError, match=r"refused the credentials of user 'wazuh-reader'.*not retried"):
        api.get_json("/agents")
    assert state.failed_logins == 1


def test_a_blocked_address_is_reported(serve):
    _state, url = serve(max_login_attempts=0)
    with pytest.raises(ApiFatalError, match="refuses logins from this address"):
        client(url).get_json("/agents")


def test_429_is_retried_with_growing_backoff_and_pauses_every_thread(serve):
    state, url = serve()
    sleeps = []
    api = client(url, sleeps)
    state.fail_next("/agents", 429, 2)
    assert api.get_json("/agents")["error"] == 0
    assert sleeps == pytest.approx([1.0, 2.0], abs=0.05)  # slept in the rate gate
    assert api.gate._paused_until > 0
    assert api.stats["retries"] == 2


def test_500_then_success(serve):
    state, url = serve()
    sleeps = []
    state.fail_next("/syscollector", 503, 1)
    assert client(url, sleeps).get_json("/syscollector/002/packages")["data"]["total_affected_items"] > 0
    assert sleeps == [1.0]


def test_a_5xx_that_does_not_end_gives_up_without_stopping_the_run(serve):
    state, url = serve()
    state.fail_next("/syscollector", 500, 100)
    with pytest.raises(ApiError, match="gave up after 3 retries") as caught:
        client(url, []).get_json("/syscollector/002/packages")
    assert not isinstance(caught.value, ApiFatalError) and caught.value.status == 500


def test_the_real_rate_window_is_outlasted(serve):
    """A fixed window as the API counts it (0.4 s here, 60 s in Wazuh): 429 beyond it, then served again."""
    state, url = serve(max_request_per_minute=3, rate_window=0.4)
    api = WazuhApi(ApiSettings(url, USER, PASSWORD, retries=6, backoff=0.1, max_backoff=0.5), sleep=time.sleep)
    for _attempt in range(6):
        api.get_json("/agents")
    assert state.count("429") > 0 and api.stats["retries"] > 0


def test_a_second_401_after_renewal_is_a_permission_problem(serve):
    state, url = serve()
    state.fail_next("/agents", 401, 2)
    with pytest.raises(ApiFatalError, match="agent:read and syscollector:read"):
        client(url).get_json("/agents")


def test_403_names_the_rbac_actions(serve):
    state, url = serve()
    state.fail_next("/syscollector", 403, 1)
    with pytest.raises(ApiFatalError, match=r"HTTP 403.*syscollector:read"):
        client(url).get_json("/syscollector/001/packages")


def test_a_bad_request_is_fatal_with_the_apis_detail(serve):
    _state, url = serve()
    with pytest.raises(ApiFatalError, match=r"HTTP 400: Bad Request: Unknown parameter\(s\) \['nonsense'\]"):
        client(url).get_json("/agents", {"nonsense": 1})


def test_connection_refused_is_retried_then_reported(serve):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    sleeps = []
    with pytest.raises(ApiError, match=r"login to http://127.0.0.1.*ConnectionRefusedError.*gave up after 3"):
        client(f"http://127.0.0.1:{port}", sleeps).get_json("/agents")
    assert sleeps == [1.0, 2.0, 4.0]


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory):
    return double.make_tls(tmp_path_factory.mktemp("tls"))


def test_tls_verified_with_the_ca_path(serve, tls_files):
    ca, cert, key = tls_files
    _state, url = serve(tls=(cert, key))
    assert url.startswith("https://")
    assert client(url, ca_path=str(ca)).get_json("/agents")["error"] == 0


def test_tls_with_an_unknown_ca_is_refused_by_default(serve, tls_files):
    _ca, cert, key = tls_files
    _state, url = serve(tls=(cert, key))
    with pytest.raises(ApiFatalError, match=r"TLS certificate of https://127.0.0.1:[0-9]+ is not trusted.*set ca_path"):
        client(url).get_json("/agents")


def test_tls_unverified_only_when_asked(serve, tls_files):
    _ca, cert, key = tls_files
    _state, url = serve(tls=(cert, key))
    assert client(url, validate_certs=False).get_json("/agents")["error"] == 0


def test_a_ca_path_that_is_no_ca_bundle_is_named(tmp_path):
    bad = tmp_path / "ca.pem"
    bad.write_text("not a certificate")
    with pytest.raises(ApiFatalError, match=r"ca_path .* cannot be loaded as a CA bundle"):
        client("https://wazuh.example.com:55000", ca_path=str(bad))


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://wazuh.example.com:55000", "plain http to wazuh.example.com"),
        ("ftp://wazuh.example.com", "not an https:// URL"),
        ("https://user:pw@wazuh.example.com", "must not carry credentials"),
        ("https://wazuh.example.com:55000/?x=1", "must not carry credentials, a query"),
        ("https://wazuh.example.com:99999", "invalid port"),
        ("wazuh.example.com", "not an https:// URL"),
    ],
)
def test_bad_urls_are_named(url, message):
    with pytest.raises(ValueError, match=message):
        parse_base_url(url)


def test_url_defaults_and_loopback_http():
    assert str(parse_base_url("https://wazuh.example.com")) == "https://wazuh.example.com:55000"
    assert parse_base_url("https://h:8443/wazuh/").prefix == "/wazuh"
    for loopback in ("http://127.0.0.1:8080", "http://localhost:1", "http://[::1]:2"):
        assert parse_base_url(loopback).scheme == "http"


def test_token_lifetime_reads_the_jwt_and_shrinks_the_margin_for_short_tokens():
    state = double.DoubleState(double.Fleet.generated(1), token_lifetime=900)
    now = time.time()
    expires, margin = token_lifetime(state.token("u"), now)
    assert abs(expires - (now + 900)) < 5 and margin == 30.0
    state.token_lifetime = 8
    assert token_lifetime(state.token("u"), now)[1] == pytest.approx(2.0, abs=0.01)
    assert token_lifetime("opaque", now) == (None, 30.0)


def test_rate_gate_spaces_requests_and_honours_a_pause():
    now, sleeps = [100.0], []

    def sleep(seconds):
        sleeps.append(seconds)
        now[0] += seconds

    gate = RateGate(120, clock=lambda: now[0], sleep=sleep)
    for _attempt in range(3):
        gate.wait()
    assert sleeps == [0.5, 0.5]
    gate.pause(10)
    gate.wait()
    assert sleeps[-1] == pytest.approx(10.0)
    free = RateGate(0, clock=lambda: now[0], sleep=sleep)
    free.wait()
    free.wait()
    assert len(sleeps) == 3


def test_retry_after_is_honoured_up_to_the_cap():
    api = client("http://127.0.0.1:9")
    assert api._delay(0, "5") == 5.0
    assert api._delay(0, "3600") == 60.0
    assert api._delay(0, "not a date") == 1.0
