"""The indexer reader against a local HTTPS server on loopback that answers like OpenSearch (opensearch_server.py)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_readiness import Evidence, make_window
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_readiness_events import EvidenceError
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_readiness_indexer import (
    IndexerClient,
    read_indexer,
    settings_from,
)
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_readiness_sources import read_alerts
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_readiness_thresholds import parse_thresholds

from .opensearch_server import Indexer, Server, make_ca_and_server_cert

ALERTS = Path(__file__).resolve().parents[3] / "fixtures" / "applocker" / "readiness" / "alerts.json"
WINDOW = make_window(start="2026-11-01T00:00:00Z", end="2026-12-01T00:00:00Z")
HOSTS = [f"WS-{n:02d}" for n in range(1, 14)]
PASSWORD = "s3cret pass"  # noqa: S105 - the test server's


def documents(alerts: list[dict]) -> list[dict]:
    """Alerts as the indexer stores them: one document each, in the day's wazuh-alerts index."""
    return [
        {"_index": f"wazuh-alerts-4.x-{a['timestamp'][:10].replace('-', '.')}", "_id": f"doc{n:06d}", "_source": a}
        for n, a in enumerate(alerts)
    ]


def fixture_alerts() -> list[dict]:
    return [json.loads(line) for line in ALERTS.read_text(encoding="utf-8").splitlines()]


def many_alerts(count: int) -> list[dict]:
    """``count`` AppLocker alerts on three hosts, seven at each timestamp (ties across page boundaries)."""
    template = next(a for a in fixture_alerts() if a["agent"]["name"] == "WS-07")
    alerts = []
    for n in range(count):
        alert = copy.deepcopy(template)
        host = f"WS-{20 + n % 3}"
        alert["agent"] = {"id": f"{20 + n % 3:03d}", "name": host, "ip": "10.0.1.1"}
        step = n // 7
        alert["timestamp"] = f"2026-11-{10 + step // 1000:02d}T{step % 24:02d}:{step % 60:02d}:00.000+0000"
        alert["id"] = f"1763600000.{n}"
        alert["data"]["win"]["ruleAndFileData"]["fileHash"] = f"{n % 7:064X}"
        alerts.append(alert)
    return alerts


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    return make_ca_and_server_cert(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def server(tls):
    indexer = Indexer(documents(fixture_alerts()))
    with Server(indexer, tls[1], tls[2]) as running:
        yield running


def settings(server, tls, **overrides):
    value = {"url": server.url, "username": "readiness", "password": PASSWORD, "ca_path": tls[0], **overrides}
    return settings_from(value)


def run(server, tls, hosts=HOSTS, sleeps=None, **overrides):
    evidence = Evidence(WINDOW, parse_thresholds({}), hosts)
    client = IndexerClient(settings(server, tls, **overrides), sleep=(sleeps if sleeps is not None else []).append)
    stats = read_indexer(client.settings, evidence, WINDOW, client=client)
    return evidence.report([stats]), stats


def comparable(report: dict) -> dict:
    hosts = {name: {k: v for k, v in host.items() if k != "reported"} for name, host in report["hosts"].items()}
    return {"hosts": hosts, "binaries": report["binaries"], "statuses": {n: h["status"] for n, h in hosts.items()}}


def test_the_indexer_gives_the_same_judgement_as_alerts_json(server, tls):
    from_indexer, stats = run(server, tls)
    evidence = Evidence(WINDOW, parse_thresholds({}), HOSTS)
    from_file = evidence.report(read_alerts([str(ALERTS)], evidence))
    assert comparable(from_indexer) == comparable(from_file)
    assert from_indexer["summary"]["no_evidence"] == 2
    assert stats["documents"] == 13  # the AppLocker alerts of the window, the other providers' not fetched
    assert stats["hosts_reporting"] == 12  # WS-01..09, WS-12, WS-13, lnx-01; not WS-10 (October), not agent 000
    assert server.indexer.pits == {}  # the point in time was deleted


def test_paging_with_search_after_within_a_point_in_time_reads_every_document_once(server, tls):
    alerts = many_alerts(1203)
    stamps = sorted(a["timestamp"] for a in alerts)
    assert any(stamps[i - 1] == stamps[i] for i in range(100, 1203, 100))  # a page boundary splits a tie
    server.indexer.documents = documents(alerts)
    report, stats = run(server, tls, hosts=["WS-20", "WS-21", "WS-22"], page_size=100)
    assert report["summary"]["would_be_blocked_events"] == 1203
    assert stats["documents"] == 1203
    assert stats["pages"] == 13 + 1  # 13 pages of documents, one of hosts (3 buckets, fewer than a page)
    searches = [body for method, path, body in server.indexer.log if path == "/_search"]
    assert all(body["pit"]["keep_alive"] == "5m" for body in searches)
    assert "search_after" not in searches[1] and len(searches[2]["search_after"]) == 3  # timestamp, agent.id, id
    assert [b["sort"] for b in searches[1:2]] == [
        [{"timestamp": {"order": "asc"}}, {"agent.id": {"order": "asc"}}, {"id": {"order": "asc"}}]
    ]
    by_hash = {b["sha256"]: b["events"] for b in report["binaries"]}
    assert sum(by_hash.values()) == 1203 and len(by_hash) == 7
    assert server.indexer.pits == {}


def test_without_a_point_in_time_the_live_index_is_paged(server, tls):
    server.indexer.documents = documents(many_alerts(250))
    report, _stats = run(server, tls, hosts=["WS-20", "WS-21", "WS-22"], page_size=100, point_in_time=False)
    assert report["summary"]["would_be_blocked_events"] == 250
    paths = {path for _method, path, _body in server.indexer.log}
    assert paths == {"/wazuh-alerts-4.x-*/_search"}


def test_hosts_are_paged_with_a_composite_aggregation(server, tls):
    report, _stats = run(server, tls, page_size=4)
    aggregations = [b for _m, path, b in server.indexer.log if path == "/_search" and b and "aggs" in b]
    assert len(aggregations) == 4  # 12 agents in pages of 4, then an empty page
    assert "after" in aggregations[1]["aggs"]["hosts"]["composite"]
    assert report["hosts"]["WS-01"]["status"] == "ready"
    assert report["hosts"]["WS-01"]["reported"]["events"] == 2  # its two alerts of November, each once
    assert report["summary"]["other_hosts"] == 1  # lnx-01; the manager (agent 000) is left out by the query


def test_tls_is_verified_by_default(server, tls):
    with pytest.raises(EvidenceError, match=r"TLS failed .*CERTIFICATE_VERIFY_FAILED.*give indexer.ca_path"):
        run(server, tls, ca_path=None)
    report, _stats = run(server, tls, ca_path=None, validate_certs=False)  # only for a throwaway lab
    assert report["summary"]["hosts"] == 13


def test_wrong_credentials_fail_without_showing_them(server, tls):
    with pytest.raises(EvidenceError) as failure:
        run(server, tls, password="wrong password")  # noqa: S106
    assert "HTTP 401: Unauthorized" in str(failure.value)
    assert "wrong password" not in str(failure.value) and PASSWORD not in str(failure.value)


def test_busy_answers_are_retried_with_backoff(server, tls):
    server.indexer.faults = [
        {"path": r"POST /_search$", "status": 503, "body": b"", "times": 1},
        {"path": r"POST /_search$", "status": 429, "headers": {"Retry-After": "7"}, "times": 1},
    ]
    sleeps: list[float] = []
    report, stats = run(server, tls, sleeps=sleeps)
    assert sleeps == [1.0, 7.0]
    assert report["summary"]["not_ready"] == 9
    assert stats["requests"] == 1 + 3 + 1 + 1  # open; hosts after 503 and 429; documents; close


def test_retries_run_out(server, tls):
    server.indexer.faults = [{"path": r"POST /_search$", "status": 503, "body": b"busy", "times": 10}]
    with pytest.raises(EvidenceError, match=r"POST /_search: HTTP 503: busy"):
        run(server, tls, retries=2)
    assert server.indexer.pits == {}  # deleted even so


def test_an_opensearch_error_body_is_reported(server, tls):
    server.indexer.faults = [
        {
            "path": r"/_search/point_in_time$",
            "status": 404,
            "body": json.dumps(
                {
                    "error": {
                        "root_cause": [{"type": "index_not_found_exception", "reason": "no such index [x]"}],
                        "type": "index_not_found_exception",
                        "reason": "no such index [x]",
                    },
                    "status": 404,
                }
            ).encode(),
        }
    ]
    with pytest.raises(EvidenceError, match=r"HTTP 404: index_not_found_exception: no such index \[x\]"):
        run(server, tls)


def test_the_servers_own_refusal_of_a_bad_sort_is_reported(server, tls):
    server.indexer.documents[3]["_source"].pop("id")  # an AppLocker alert without the tiebreaker field
    with pytest.raises(EvidenceError, match=r"search_phase_execution_exception: No mapping found for \[id\]"):
        run(server, tls)


def test_failed_shards_and_timeouts_are_errors_not_partial_evidence(server, tls):
    partial = {
        "took": 1,
        "timed_out": False,
        "_shards": {
            "total": 2,
            "successful": 1,
            "skipped": 0,
            "failed": 1,
            "failures": [{"reason": {"reason": "disk"}}],
        },
        "hits": {"hits": []},
    }
    server.indexer.faults = [{"path": r"POST /_search$", "status": 200, "body": json.dumps(partial).encode()}]
    with pytest.raises(EvidenceError, match=r"1 of 2 shards failed \(disk\); the evidence would be incomplete"):
        run(server, tls)
    timed_out = dict(partial, timed_out=True, _shards={"total": 1, "successful": 1, "failed": 0})
    server.indexer.faults = [{"path": r"POST /_search$", "status": 200, "body": json.dumps(timed_out).encode()}]
    with pytest.raises(EvidenceError, match="timed out"):
        run(server, tls)


def test_an_answer_that_is_not_json(server, tls):
    server.indexer.faults = [{"path": r"POST /_search$", "status": 200, "body": b"<html>proxy</html>"}]
    with pytest.raises(EvidenceError, match="the answer is not JSON"):
        run(server, tls)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"url": "http://indexer:9200"}, r"must be an https:// URL"),
        ({"url": "https://admin:pw@indexer:9200"}, r"must not carry credentials"),
        ({"url": "https://indexer:9200/?pretty"}, r"without \?query"),
        ({"url": "https://indexer:9200", "page_size": 20000}, r"page_size: 20000"),
        ({"url": "https://indexer:9200", "username": "u"}, r"both username and password"),
        ({"url": "https://indexer:9200", "index": "a/b"}, r"index: 'a/b'"),
        ({"url": "https://indexer:9200", "verify": False}, r"unknown key 'verify'"),
    ],
)
def test_settings_errors(value, message):
    with pytest.raises(EvidenceError, match=message) as failure:
        settings_from(value)
    assert "pw" not in str(failure.value)
