# -*- coding: utf-8 -*-
# Copyright: contributors to m1038.appcontrol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Readiness evidence from the Wazuh indexer (OpenSearch): the alerts index, paged, over TLS.

Two questions, asked of one point in time (PIT) so that both see the same data:

1. which hosts reported at all in the window: a ``composite`` aggregation on ``agent.name``
   (paged with ``after_key``), with the first and last alert time per host;
2. the AppLocker events: documents whose ``data.win.system.providerName`` is the AppLocker
   provider and whose ``eventID`` is in the table, sorted by ``timestamp``, ``agent.id``, ``id``
   and paged with ``search_after`` (OpenSearch before 3.3 has no ``_shard_doc`` tiebreaker;
   the Wazuh alert ``id`` is unique per manager), ``size`` documents a page.

The PIT is created with ``POST /<index>/_search/point_in_time?keep_alive=...`` (OpenSearch 2.4
and later, Wazuh indexer 4.6 and later) and deleted at the end; ``point_in_time: false`` pages
the same searches on the live index for an older indexer (then documents indexed meanwhile
may be missed or seen twice). Documented API shapes: docs/applocker-readiness.md, "The indexer".

TLS is verified by default (``ca_path`` names the indexer's CA); credentials go in an
``Authorization`` header built here, never on a command line or in the URL, and never in a
message. A page that reports failed shards or a timeout is an error: partial evidence could
make a host look ready.
"""

from __future__ import annotations

import base64
import json
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_readiness import Evidence, Window
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_readiness_events import (
    EVENTS,
    PROVIDER,
    EvidenceError,
    alert_facts,
)

DEFAULT_INDEX = "wazuh-alerts-4.x-*"
SORT_FIELDS = ("timestamp", "agent.id", "id")
SOURCE_FIELDS = (
    "timestamp",
    "id",
    "agent",
    "data.win.system.providerName",
    "data.win.system.eventID",
    "data.win.ruleAndFileData",
)
RETRY_STATUSES = (429, 502, 503, 504)
MAX_BACKOFF = 30.0
MAX_EXAMPLES = 5


@dataclass
class IndexerSettings:
    url: str
    index: str = DEFAULT_INDEX
    username: str | None = None
    password: str | None = None
    ca_path: str | None = None
    client_cert: str | None = None
    client_key: str | None = None
    validate_certs: bool = True
    page_size: int = 1000
    point_in_time: bool = True
    keep_alive: str = "5m"
    timeout: float = 60.0
    retries: int = 3


def settings_from(value: dict) -> IndexerSettings:
    """The module's ``indexer`` option -> settings; errors name the bad value (never the password)."""
    known = set(IndexerSettings.__dataclass_fields__)
    unknown = sorted(set(value) - known)
    if unknown:
        raise EvidenceError(f"indexer: unknown key {unknown[0]!r}; known keys: {', '.join(sorted(known))}")
    settings = IndexerSettings(**{k: v for k, v in value.items() if v is not None})
    parsed = urllib.parse.urlsplit(settings.url or "")
    if parsed.scheme != "https" or not parsed.hostname:
        raise EvidenceError(f"indexer.url: {settings.url!r} must be an https:// URL of the indexer (port 9200)")
    if parsed.username or parsed.password:
        raise EvidenceError("indexer.url: must not carry credentials; give indexer.username and indexer.password")
    if parsed.query or parsed.fragment:
        raise EvidenceError(f"indexer.url: {settings.url!r} must be the indexer's base URL, without ?query or #")
    if not isinstance(settings.page_size, int) or not 1 <= settings.page_size <= 10000:
        raise EvidenceError(f"indexer.page_size: {settings.page_size!r} must be 1 .. 10000")
    if (settings.username is None) != (settings.password is None):
        raise EvidenceError("indexer: give both username and password, or neither")
    if not settings.index or any(c in settings.index for c in "/?#& "):
        raise EvidenceError(f"indexer.index: {settings.index!r} is not an index name or pattern")
    return settings


class IndexerClient:
    """A small OpenSearch client for exactly the calls readiness makes."""

    def __init__(self, settings: IndexerSettings, sleep: Callable[[float], None] = time.sleep):
        self.settings = settings
        self.base = settings.url.rstrip("/")
        self.sleep = sleep
        self.requests = 0
        context = ssl.create_default_context(cafile=settings.ca_path)
        if not settings.validate_certs:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        if settings.client_cert:
            context.load_cert_chain(settings.client_cert, settings.client_key)
        self.opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=context))
        self.headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if settings.username is not None:
            token = base64.b64encode(f"{settings.username}:{settings.password}".encode()).decode("ascii")
            self.headers["Authorization"] = "Basic " + token

    # --- transport ------------------------------------------------------------------------------

    def request(self, method: str, path: str, body: dict | None = None) -> dict:
        """One call; retried on 429/502/503/504 and on broken connections; EvidenceError otherwise."""
        url = self.base + path
        data = None if body is None else json.dumps(body).encode("utf-8")
        for attempt in range(self.settings.retries + 1):
            self.requests += 1
            request = urllib.request.Request(url, data=data, method=method, headers=self.headers)  # noqa: S310
            try:
                with self.opener.open(request, timeout=self.settings.timeout) as response:
                    return self._json(response.read(), method, path)
            except urllib.error.HTTPError as exc:
                payload = exc.read()
                if exc.code in RETRY_STATUSES and attempt < self.settings.retries:
                    self.sleep(self._backoff(attempt, exc.headers.get("Retry-After")))
                    continue
                raise EvidenceError(f"indexer {method} {path}: HTTP {exc.code}: {self._reason(payload)}") from None
            except urllib.error.URLError as exc:
                reason = exc.reason
                if isinstance(reason, ssl.SSLError):
                    raise EvidenceError(
                        f"indexer {self.base}: TLS failed ({reason}); give indexer.ca_path the CA that signed the "
                        "indexer's certificate (validate_certs: false only for a throwaway lab)"
                    ) from None
                if attempt < self.settings.retries:
                    self.sleep(self._backoff(attempt, None))
                    continue
                raise EvidenceError(f"indexer {self.base}: cannot connect ({reason})") from None
            except (ConnectionError, TimeoutError) as exc:
                if attempt < self.settings.retries:
                    self.sleep(self._backoff(attempt, None))
                    continue
                raise EvidenceError(f"indexer {method} {path}: {exc}") from None
        raise EvidenceError(f"indexer {method} {path}: no answer after {self.settings.retries} retries")

    @staticmethod
    def _backoff(attempt: int, retry_after: str | None) -> float:
        if retry_after and retry_after.strip().isdigit():
            return min(float(retry_after.strip()), MAX_BACKOFF * 2)
        return min(2.0**attempt, MAX_BACKOFF)

    @staticmethod
    def _json(payload: bytes, method: str, path: str) -> dict:
        try:
            value = json.loads(payload.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise EvidenceError(f"indexer {method} {path}: the answer is not JSON ({exc})") from None
        if not isinstance(value, dict):
            raise EvidenceError(f"indexer {method} {path}: the answer is not a JSON object")
        return value

    @staticmethod
    def _reason(payload: bytes) -> str:
        """OpenSearch's error body (``{"error": {"type", "reason", "root_cause"}, "status"}``) or its text."""
        text = payload.decode("utf-8", "replace").strip()
        try:
            value = json.loads(text)
        except ValueError:
            return text[:300] or "(no body)"
        error = value.get("error") if isinstance(value, dict) else None
        if isinstance(error, dict):
            causes = error.get("root_cause") or []
            cause = causes[0] if causes and isinstance(causes[0], dict) else {}
            parts = [error.get("type"), error.get("reason")]
            if cause.get("reason") and cause.get("reason") != error.get("reason"):
                parts.append(f"root cause: {cause.get('type')}: {cause.get('reason')}")
            return ": ".join(str(p) for p in parts if p)[:500]
        if isinstance(error, str):
            return error[:300]
        return text[:300]

    @staticmethod
    def _complete(answer: dict, what: str) -> dict:
        shards = answer.get("_shards") or {}
        if answer.get("timed_out"):
            raise EvidenceError(f"indexer {what}: the search timed out; the evidence would be incomplete")
        if shards.get("failed"):
            failures = shards.get("failures") or [{}]
            reason = failures[0].get("reason") if isinstance(failures[0], dict) else None
            detail = reason.get("reason") if isinstance(reason, dict) else reason
            raise EvidenceError(
                f"indexer {what}: {shards.get('failed')} of {shards.get('total')} shards failed ({detail}); "
                "the evidence would be incomplete"
            )
        return answer

    # --- searches -------------------------------------------------------------------------------

    def open_pit(self) -> str:
        index = urllib.parse.quote(self.settings.index, safe="*,-_.")
        keep = urllib.parse.quote(self.settings.keep_alive)
        answer = self.request("POST", f"/{index}/_search/point_in_time?keep_alive={keep}")
        pit = answer.get("pit_id")
        if not isinstance(pit, str) or not pit:
            raise EvidenceError(f"indexer: creating a point in time on {self.settings.index} returned no pit_id")
        return pit

    def close_pit(self, pit: str) -> None:
        self.request("DELETE", "/_search/point_in_time", {"pit_id": [pit]})

    def search(self, body: dict, pit: str | None, what: str) -> tuple[dict, str | None]:
        if pit:
            body = {**body, "pit": {"id": pit, "keep_alive": self.settings.keep_alive}}
            answer = self._complete(self.request("POST", "/_search", body), what)
            return answer, answer.get("pit_id") or pit
        index = urllib.parse.quote(self.settings.index, safe="*,-_.")
        return self._complete(self.request("POST", f"/{index}/_search", body), what), None


def time_filter(window: Window) -> dict:
    def iso(seconds: float) -> str:
        whole = int(seconds)
        millis = round((seconds - whole) * 1000)
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + f".{min(millis, 999):03d}Z"

    return {
        "range": {"timestamp": {"gte": iso(window.start), "lt": iso(window.end), "format": "strict_date_optional_time"}}
    }


def applocker_query(window: Window) -> dict:
    return {
        "bool": {
            "filter": [
                time_filter(window),
                {"term": {"data.win.system.providerName": PROVIDER}},
                {"terms": {"data.win.system.eventID": [str(i) for i in sorted(EVENTS)]}},
            ]
        }
    }


def reporting_query(window: Window) -> dict:
    return {"bool": {"filter": [time_filter(window)], "must_not": [{"term": {"agent.id": "000"}}]}}


def applocker_documents(client: IndexerClient, window: Window, pit: str | None, stats: dict) -> Iterator[dict]:
    """Every AppLocker alert of the window, one page of ``page_size`` at a time (``search_after``)."""
    size = client.settings.page_size
    body = {
        "size": size,
        "query": applocker_query(window),
        "sort": [{name: {"order": "asc"}} for name in SORT_FIELDS],
        "_source": list(SOURCE_FIELDS),
        "track_total_hits": False,
    }
    after = None
    while True:
        page = dict(body, search_after=after) if after is not None else body
        answer, pit = client.search(page, pit, "AppLocker alerts")
        stats["pages"] += 1
        hits = (answer.get("hits") or {}).get("hits")
        if not isinstance(hits, list):
            raise EvidenceError("indexer: a search answer without hits.hits")
        yield from hits
        if len(hits) < size:
            return
        after = hits[-1].get("sort")
        if not isinstance(after, list) or not after:
            raise EvidenceError("indexer: a hit without sort values; search_after cannot page on")


def reporting_hosts(client: IndexerClient, window: Window, pit: str | None, stats: dict) -> Iterator[tuple]:
    """``(host, alerts, first, last)`` per agent that raised any alert in the window (composite aggregation)."""
    composite = {"size": client.settings.page_size, "sources": [{"host": {"terms": {"field": "agent.name"}}}]}
    aggs = {"first": {"min": {"field": "timestamp"}}, "last": {"max": {"field": "timestamp"}}}
    after = None
    while True:
        spec = dict(composite, after=after) if after is not None else composite
        body = {"size": 0, "query": reporting_query(window), "aggs": {"hosts": {"composite": spec, "aggs": aggs}}}
        answer, pit = client.search(body, pit, "reporting hosts")
        stats["pages"] += 1
        result = (answer.get("aggregations") or {}).get("hosts")
        if not isinstance(result, dict) or not isinstance(result.get("buckets"), list):
            raise EvidenceError("indexer: the answer has no aggregations.hosts.buckets")
        for bucket in result["buckets"]:
            host = (bucket.get("key") or {}).get("host")
            first = (bucket.get("first") or {}).get("value")
            last = (bucket.get("last") or {}).get("value")
            if isinstance(host, str) and isinstance(first, (int, float)) and isinstance(last, (int, float)):
                yield host, int(bucket.get("doc_count") or 0), first / 1000.0, last / 1000.0
        after = result.get("after_key")
        if len(result["buckets"]) < client.settings.page_size or not after:
            return


def read_indexer(settings: IndexerSettings, evidence: Evidence, window: Window, client: IndexerClient | None = None):
    """Both questions into ``evidence``; the source's statistics (the URL, never the credentials)."""
    client = client or IndexerClient(settings)
    stats = {"kind": "indexer", "url": client.base, "index": settings.index, "point_in_time": settings.point_in_time}
    stats.update(pages=0, documents=0, applocker_events=0, hosts_reporting=0, unreadable=0, examples=[])
    pit = client.open_pit() if settings.point_in_time else None
    try:
        for host, count, first, last in reporting_hosts(client, window, pit, stats):
            stats["hosts_reporting"] += 1
            evidence.reported(host, first, last, count)
        for hit in applocker_documents(client, window, pit, stats):
            stats["documents"] += 1
            where = f"indexer document {hit.get('_index')}/{hit.get('_id')}"
            try:
                facts = alert_facts(hit.get("_source"), where)
            except EvidenceError as exc:
                stats["unreadable"] += 1
                if len(stats["examples"]) < MAX_EXAMPLES:
                    stats["examples"].append(str(exc)[:300])
                continue
            if facts is not None and facts.event is not None:
                stats["applocker_events"] += 1
                evidence.add(facts.event, reported=False)
    finally:
        if pit:
            try:
                client.close_pit(pit)
            except EvidenceError as exc:
                stats["examples"].append(f"the point in time was not deleted (it expires by itself): {exc}")
    stats["requests"] = client.requests
    return stats
