"""A small HTTPS server on loopback that answers like the Wazuh indexer (OpenSearch) for the calls readiness makes.

It is a server, not a mock of the client: the client under test opens real TLS connections to
127.0.0.1 and sends real requests. It speaks the documented shapes (OpenSearch docs: "Point in
Time API", "Paginate results", composite aggregation; the error body ``{"error": {"root_cause",
"type", "reason"}, "status"}``; the security plugin's 401) over an in-memory list of documents:

- ``POST /<index>/_search/point_in_time?keep_alive=`` -> ``{"pit_id", "_shards", "creation_time"}``
  (a frozen copy of the matching documents), ``DELETE /_search/point_in_time`` -> ``{"pits": [...]}``;
- ``POST /_search`` with ``pit`` and ``POST /<index>/_search`` without: ``query`` (bool ``filter`` and
  ``must_not`` of ``range``, ``term``, ``terms``), ``sort`` (with the sort values in each hit),
  ``search_after``, ``size``, ``_source`` includes; ``aggs`` with one ``composite`` terms source,
  ``after``, ``size`` and ``min``/``max`` sub-aggregations;
- sorting on a field a document lacks is refused as OpenSearch refuses an unmapped sort field.

``faults`` scripts failures: a list of ``{"path": regex, "status": int, "body": ..., "headers":
{...}, "times": n}`` tried in order before a request is served.
"""

from __future__ import annotations

import base64
import datetime
import fnmatch
import ipaddress
import json
import re
import secrets
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

DATE_FIELDS = ("timestamp", "@timestamp")
OK_SHARDS = {"total": 1, "successful": 1, "skipped": 0, "failed": 0}


def make_ca_and_server_cert(directory) -> tuple[str, str, str]:
    """A throwaway CA and a server certificate for 127.0.0.1/localhost; returns (ca.pem, cert.pem, key.pem)."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "m1038 test indexer CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "wazuh-indexer")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = (directory / "ca.pem", directory / "server.pem", directory / "server-key.pem")
    paths[0].write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return tuple(str(p) for p in paths)


def _field(source: dict, path: str):
    value = source
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _millis(text: str) -> float:
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00").replace("+0000", "+00:00")).timestamp() * 1000


def _matches(source: dict, query: dict | None) -> bool:
    if not query:
        return True
    if "bool" in query:
        spec = query["bool"]
        return all(_matches(source, q) for q in spec.get("filter", [])) and not any(
            _matches(source, q) for q in spec.get("must_not", [])
        )
    if "range" in query:
        ((name, bounds),) = query["range"].items()
        value = _field(source, name)
        if value is None:
            return False
        value = _millis(value)
        return (("gte" not in bounds) or value >= _millis(bounds["gte"])) and (
            ("lt" not in bounds) or value < _millis(bounds["lt"])
        )
    if "term" in query:
        ((name, wanted),) = query["term"].items()
        return _field(source, name) == wanted
    if "terms" in query:
        ((name, wanted),) = query["terms"].items()
        return _field(source, name) in wanted
    raise ValueError(f"query not supported by the test server: {query}")


def _filtered_source(source: dict, includes: list[str] | None) -> dict:
    if includes is None:
        return source
    result: dict = {}
    for path in includes:
        value = _field(source, path)
        if value is None:
            continue
        target = result
        parts = path.split(".")
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        target[parts[-1]] = value
    return result


class SearchError(Exception):
    def __init__(self, status: int, kind: str, reason: str):
        super().__init__(reason)
        self.status, self.kind, self.reason = status, kind, reason


class Indexer:
    """The indexer's state: documents, open points in time, credentials, scripted faults, a request log."""

    def __init__(self, documents: list[dict], username="readiness", password="s3cret pass"):  # noqa: S107
        self.documents = documents
        self.username, self.password = username, password
        self.pits: dict[str, list[dict]] = {}
        self.faults: list[dict] = []
        self.log: list[tuple[str, str, dict | None]] = []
        self.lock = threading.Lock()
        self._sorted: dict[tuple, list] = {}  # sorted matches per documents, query and sort: pages reuse them

    # --- searches -----------------------------------------------------------------------------

    def _index_docs(self, pattern: str) -> list[dict]:
        patterns = pattern.split(",")
        return [d for d in self.documents if any(fnmatch.fnmatchcase(d["_index"], p) for p in patterns)]

    def search(self, documents: list[dict], body: dict) -> dict:
        answer = {"took": 1, "timed_out": False, "_shards": dict(OK_SHARDS)}
        cache_key = (id(documents), len(documents), json.dumps(body.get("query")), json.dumps(body.get("sort")))
        if "aggs" not in body and cache_key in self._sorted:
            return self._page(self._sorted[cache_key], body, answer)
        matching = [d for d in documents if _matches(d["_source"], body.get("query"))]
        if "aggs" in body:
            answer["aggregations"] = self._aggregate(matching, body["aggs"])
            answer["hits"] = {"total": {"value": len(matching), "relation": "eq"}, "max_score": None, "hits": []}
            return answer
        sort = [(name, spec.get("order", "asc")) for item in body.get("sort", []) for name, spec in item.items()]
        keyed = []
        for doc in matching:
            # A date field's sort value is epoch milliseconds (a long), as OpenSearch returns it.
            values = [_field(doc["_source"], name) for name, _order in sort]
            values = [
                int(_millis(v)) if name in DATE_FIELDS and v is not None else v
                for (name, _o), v in zip(sort, values, strict=True)
            ]
            for (name, _order), value in zip(sort, values, strict=True):
                if value is None:
                    raise SearchError(
                        400, "search_phase_execution_exception", f"No mapping found for [{name}] in order to sort on"
                    )
            keyed.append((values, doc))
        keyed.sort(key=lambda item: item[0])
        self._sorted[cache_key] = keyed
        return self._page(keyed, body, answer)

    @staticmethod
    def _page(keyed: list, body: dict, answer: dict) -> dict:
        after = body.get("search_after")
        if after is not None:
            keyed = [item for item in keyed if item[0] > after]
        size = body.get("size", 10)
        hits = [
            {
                "_index": doc["_index"],
                "_id": doc["_id"],
                "_score": None,
                "_source": _filtered_source(doc["_source"], body.get("_source")),
                "sort": values,
            }
            for values, doc in keyed[:size]
        ]
        answer["hits"] = {"max_score": None, "hits": hits}
        return answer

    @staticmethod
    def _aggregate(documents: list[dict], aggs: dict) -> dict:
        ((name, spec),) = aggs.items()
        composite = spec["composite"]
        ((source_name, source),) = composite["sources"][0].items()
        field = source["terms"]["field"]
        buckets: dict[str, list[dict]] = {}
        for doc in documents:
            key = _field(doc["_source"], field)
            if key is not None:
                buckets.setdefault(key, []).append(doc)
        keys = sorted(buckets)
        if "after" in composite:
            keys = [k for k in keys if k > composite["after"][source_name]]
        keys = keys[: composite.get("size", 10)]
        result = []
        for key in keys:
            bucket = {"key": {source_name: key}, "doc_count": len(buckets[key])}
            for sub_name, sub in spec.get("aggs", {}).items():
                ((kind, options),) = sub.items()
                values = [_millis(_field(d["_source"], options["field"])) for d in buckets[key]]
                value = min(values) if kind == "min" else max(values)
                stamp = datetime.datetime.fromtimestamp(value / 1000, datetime.UTC)
                bucket[sub_name] = {
                    "value": value,
                    "value_as_string": stamp.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
                }
            result.append(bucket)
        answer = {"buckets": result}
        if result:
            answer["after_key"] = result[-1]["key"]
        return {name: answer}


def _error(status: int, kind: str, reason: str) -> dict:
    return {
        "error": {"root_cause": [{"type": kind, "reason": reason}], "type": kind, "reason": reason},
        "status": status,
    }


class Handler(BaseHTTPRequestHandler):
    server_version = "opensearch-test"
    indexer: Indexer

    def log_message(self, *args):  # keep pytest output clean
        pass

    def _reply(self, status: int, body, headers: dict | None = None) -> None:
        payload = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def _handle(self, method: str) -> None:
        indexer = self.server.indexer  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else None
        url = urlsplit(self.path)
        with indexer.lock:
            indexer.log.append((method, self.path, body))
            for fault in indexer.faults:
                if fault.get("times", 1) > 0 and re.search(fault["path"], f"{method} {url.path}"):
                    fault["times"] = fault.get("times", 1) - 1
                    self._reply(fault["status"], fault.get("body", b""), fault.get("headers"))
                    return
        expected = "Basic " + base64.b64encode(f"{indexer.username}:{indexer.password}".encode()).decode()
        if self.headers.get("Authorization") != expected:
            self._reply(401, b"Unauthorized", {"WWW-Authenticate": 'Basic realm="OpenSearch Security"'})
            return
        try:
            self._reply(200, self._route(indexer, method, url, body))
        except SearchError as exc:
            self._reply(exc.status, _error(exc.status, exc.kind, exc.reason))

    def _route(self, indexer: Indexer, method: str, url, body):
        parts = url.path.strip("/").split("/")
        if method == "POST" and parts[1:] == ["_search", "point_in_time"]:
            if "keep_alive" not in parse_qs(url.query):
                raise SearchError(400, "action_request_validation_exception", "keep_alive is required")
            docs = indexer._index_docs(parts[0])
            if not docs:
                raise SearchError(404, "index_not_found_exception", f"no such index [{parts[0]}]")
            pit = secrets.token_urlsafe(24)
            indexer.pits[pit] = list(docs)
            return {"pit_id": pit, "_shards": dict(OK_SHARDS), "creation_time": 1764547200000}
        if method == "DELETE" and url.path == "/_search/point_in_time":
            deleted = [{"successful": indexer.pits.pop(p, None) is not None, "pit_id": p} for p in body["pit_id"]]
            return {"pits": deleted}
        if method == "POST" and url.path == "/_search":
            pit = (body or {}).get("pit")
            if not pit or pit.get("id") not in indexer.pits:
                raise SearchError(404, "search_context_missing_exception", "No search context found for id")
            return {**indexer.search(indexer.pits[pit["id"]], body), "pit_id": pit["id"]}
        if method == "POST" and parts[1:] == ["_search"]:
            if body and "pit" in body:
                raise SearchError(
                    400, "action_request_validation_exception", "[indices] cannot be used with point in time"
                )
            return indexer.search(indexer._index_docs(parts[0]), body or {})
        raise SearchError(
            400, "illegal_argument_exception", f"no handler found for uri [{url.path}] and method [{method}]"
        )

    def do_POST(self):
        self._handle("POST")

    def do_DELETE(self):
        self._handle("DELETE")


class Server:
    """Run an ``Indexer`` over HTTPS on 127.0.0.1 (a free port) in a thread."""

    def __init__(self, indexer: Indexer, cert: str, key: str):
        self.indexer = indexer
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.indexer = indexer  # type: ignore[attr-defined]
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)
