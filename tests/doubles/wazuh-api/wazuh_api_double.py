# -*- coding: utf-8 -*-
# Copyright: contributors to m1038.appcontrol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""TEST DOUBLE of the Wazuh API: login, the agent list and syscollector packages, over real HTTP.

Not Wazuh. It answers the three requests the manager route of the software_inventory role sends,
in the shapes of Wazuh 4.x's API specification (api/api/spec/spec.yaml, v4.14.7), so that
``WazuhApi`` and ``ApiSource`` are tested through a real socket (HTTP or HTTPS on loopback):

* ``POST /security/user/authenticate`` with Basic credentials -> ``{"data": {"token": JWT}, "error": 0}``;
  wrong credentials -> 401 ``Invalid credentials``; after ``max_login_attempts`` failures -> 403.
* ``GET /agents`` (offset, limit, select, sort, status, os.platform) and
  ``GET /syscollector/{agent_id}/packages`` (offset, limit, select, sort, format): list responses
  ``{"data": {"affected_items", "total_affected_items", "total_failed_items", "failed_items"},
  "message", "error"}``; an unknown agent -> ``failed_items`` with code 1701; a parameter the
  endpoint does not know, or a limit outside 1..100000 -> 400, as the real API validates them.
* Tokens expire after ``token_lifetime`` seconds (401 afterwards); ``revoke_tokens()`` ends them all.
* ``max_request_per_minute`` as the real API counts it: every client together, in a fixed window
  (``rate_window`` seconds here, 60 in Wazuh), 429 beyond it.
* Faults on demand: ``fail_next(path_prefix, status, count)``; ``on_request`` runs before each
  answer (a test changes an agent's packages between two pages with it).

The fleet is either given (``Fleet.from_dict``) or generated on the fly from a seed
(``Fleet.generated``: 10,000 agents cost no memory beyond their names). Used by
tests/unit/plugins/module_utils/software_inventory/ and benchmarks/bench_syscollector.py.

    python tests/doubles/wazuh-api/wazuh_api_double.py --agents 10000 --port-file /tmp/port
"""

from __future__ import annotations

import argparse
import base64
import datetime
import hashlib
import hmac
import ipaddress
import json
import random
import re
import secrets
import ssl
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

AGENTS_PARAMS = frozenset(
    [
        "pretty",
        "wait_for_complete",
        "agents_list",
        "offset",
        "limit",
        "select",
        "sort",
        "search",
        "status",
        "q",
        "older_than",
        "os.platform",
        "os.version",
        "os.name",
        "manager",
        "version",
        "group",
        "node_name",
        "name",
        "ip",
        "registerIP",
        "group_config_status",
        "distinct",
    ]
)
PACKAGES_PARAMS = frozenset(
    [
        "pretty",
        "wait_for_complete",
        "offset",
        "limit",
        "sort",
        "search",
        "select",
        "vendor",
        "name",
        "architecture",
        "format",
        "version",
        "q",
        "distinct",
    ]
)
PACKAGE_FIELDS = frozenset(
    [
        "scan.id",
        "scan.time",
        "format",
        "name",
        "priority",
        "section",
        "size",
        "vendor",
        "install_time",
        "version",
        "architecture",
        "multiarch",
        "source",
        "description",
        "location",
    ]
)
PACKAGES_PATH = re.compile(r"^/syscollector/(?P<agent>[^/]+)/packages$")
VENDORS = (
    "Microsoft Corporation",
    "Google LLC",
    "Mozilla",
    "Igor Pavlov",
    "Notepad++ Team",
    "Oracle Corporation",
    "Adobe Inc.",
    "Zoom Video Communications, Inc.",
    "Python Software Foundation",
    "VideoLAN",
    "Intel Corporation",
    "NVIDIA Corporation",
    "Cisco Systems, Inc.",
    "Citrix Systems, Inc.",
    "Société Générale d'Outils",
    "AT&T",
    " ",
)


def _b64_json(part) -> str:
    """A JWT segment: JSON, base64url without padding."""
    return base64.urlsafe_b64encode(json.dumps(part).encode()).rstrip(b"=").decode()


class Fleet:
    """Agents and their packages: given as data, or generated from a seed."""

    def __init__(self, agents: list[dict], packages) -> None:
        self.agents = agents
        self._packages = packages  # callable(agent_id) -> list | None

    @classmethod
    def from_dict(cls, agents: list[dict], packages: dict[str, list]) -> Fleet:
        return cls(agents, packages.get)

    @classmethod
    def generated(cls, count: int, packages_per_agent: int = 150, seed: int = 11) -> Fleet:
        agents = [{"id": "000", "name": "wazuh-manager", "status": "active", "os": {"platform": "ubuntu"}}]
        agents += [
            {
                "id": f"{i:03d}",
                "name": f"ws-{i:05d}",
                "status": "active" if i % 10 else "disconnected",
                "os": {"platform": "windows"},
            }
            for i in range(1, count + 1)
        ]

        def packages(agent_id: str) -> list | None:
            if not agent_id.isdigit() or not 0 < int(agent_id) <= count:
                return None
            rng = random.Random(seed * 1_000_003 + int(agent_id))  # noqa: S311 - test data, reproducible
            items = []
            for n in range(packages_per_agent - 20 + rng.randrange(40)):
                vendor = VENDORS[rng.randrange(len(VENDORS))] if n % 7 else f"Vendor {rng.randrange(400):03d} Ltd"
                # one package in 25 is a Python package found on disk, as syscollector reports them
                package_format = "pypi" if n % 25 == 24 else "win"
                items.append(
                    {
                        "scan": {"id": 0, "time": "2026-01-10T08:00:00Z"},
                        "name": f"Program {n:03d} of {vendor.strip() or 'unknown'}",
                        "version": f"{rng.randrange(30)}.{rng.randrange(10)}.{rng.randrange(1000)}",
                        "vendor": vendor,
                        "architecture": "x86_64" if n % 3 else "i686",
                        "format": package_format,
                        "location": " ",
                        "install_time": "2026/01/05 10:00:00",
                        "description": " ",
                        "size": 0,
                        "priority": " ",
                        "section": " ",
                        "source": " ",
                        "multiarch": " ",
                    }
                )
            return items

        return cls(agents, packages)

    def packages(self, agent_id: str) -> list | None:
        return self._packages(agent_id)


class DoubleState:
    """Everything the server knows and counts; tests change it while the server runs."""

    def __init__(
        self,
        fleet: Fleet,
        *,
        users: dict[str, str] | None = None,
        token_lifetime: float = 900,
        max_request_per_minute: int = 0,
        rate_window: float = 60.0,
        max_login_attempts: int = 50,
    ) -> None:
        self.fleet = fleet
        self.users = users if users is not None else {"wazuh-reader": "reader-pass"}
        self.token_lifetime = token_lifetime
        self.max_request_per_minute = max_request_per_minute
        self.rate_window = rate_window
        self.max_login_attempts = max_login_attempts
        self.secret = secrets.token_bytes(32)
        self.lock = threading.Lock()
        self.token_epoch = 0  # revoke_tokens() ends every token of an earlier epoch
        self.faults: list[list] = []
        self.on_request = None
        self.failed_logins = 0
        self.window_start = 0.0
        self.window_count = 0
        self.counts: dict[str, int] = {}
        self.log: list[tuple[str, str, int]] = []
        self.keep_log = True

    # --- tests drive these --------------------------------------------------------------------
    def fail_next(self, path_prefix: str, status: int, count: int = 1) -> None:
        with self.lock:
            self.faults.append([path_prefix, status, count])

    def revoke_tokens(self) -> None:
        with self.lock:
            self.token_epoch += 1

    def count(self, key: str) -> int:
        with self.lock:
            return self.counts.get(key, 0)

    # --- the server uses these ----------------------------------------------------------------
    def _bump(self, key: str) -> None:
        self.counts[key] = self.counts.get(key, 0) + 1

    def token(self, user: str) -> str:
        now = time.time()
        header = {"alg": "HS256", "typ": "JWT"}
        claims = {
            "iss": "wazuh-api-double",
            "aud": "Wazuh API REST",
            "nbf": int(now),
            "iat": now,
            "exp": now + self.token_lifetime,
            "sub": user,
            "epoch": self.token_epoch,
        }
        signing = f"{_b64_json(header)}.{_b64_json(claims)}"
        signature = hmac.new(self.secret, signing.encode(), hashlib.sha256).digest()
        return f"{signing}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"

    def token_valid(self, token: str) -> bool:
        try:
            head, body, signature = token.split(".")
            expected = hmac.new(self.secret, f"{head}.{body}".encode(), hashlib.sha256).digest()
            if not hmac.compare_digest(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)), expected):
                return False
            claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        except ValueError:
            return False
        return claims["exp"] > time.time() and claims.get("epoch") == self.token_epoch

    def admit(self, path: str) -> int | None:
        """A fault status or 429 for this request, or None; counts the request."""
        with self.lock:
            self._bump("requests")
            for fault in self.faults:
                if path.startswith(fault[0]) and fault[2] > 0:
                    fault[2] -= 1
                    return fault[1]
            if self.max_request_per_minute:
                now = time.monotonic()
                if now - self.window_start > self.rate_window:
                    self.window_start, self.window_count = now, 0
                self.window_count += 1
                if self.window_count > self.max_request_per_minute:
                    self._bump("429")
                    return 429
        return None


def _select(item: dict, select: list[str] | None) -> dict:
    if not select:
        return item
    out: dict = {}
    for name in select:
        head, _dot, tail = name.partition(".")
        value = item.get(head)
        if tail and isinstance(value, dict) and tail in value:
            out.setdefault(head, {})[tail] = value[tail]
        elif not tail and head in item:
            out[head] = value
    return out


def _sort(items: list[dict], sort: str | None) -> list[dict]:
    if not sort:
        return items
    descending = sort.startswith("-")
    fields = sort.lstrip("+-").split(",")
    return sorted(items, key=lambda item: tuple(str(item.get(f, "")) for f in fields), reverse=descending)


def list_response(items: list, total: int, message: str, failed: list | None = None) -> dict:
    failed = failed or []
    return {
        "data": {
            "affected_items": items,
            "total_affected_items": total,
            "total_failed_items": len(failed),
            "failed_items": failed,
        },
        "message": message,
        "error": 1 if failed and not items else 0,
    }


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "wazuh-api-double"
    disable_nagle_algorithm = True  # headers and body go out as two writes: no 40 ms delayed-ACK stalls
    state: DoubleState

    def log_message(self, *args) -> None:  # quiet
        return

    def _send(self, status: int, document: dict) -> None:
        body = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json" if status == 200 else "application/problem+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        state = self.state
        with state.lock:
            if state.keep_log:
                state.log.append((self.command, self.path.split("?")[0], status))

    def _problem(self, status: int, title: str, detail: str, **extra) -> None:
        self._send(status, {"title": title, "detail": detail, **extra})

    def _gate(self, path: str) -> bool:
        hook = self.state.on_request
        if hook is not None:
            hook(self.command, path, urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query))
        status = self.state.admit(path)
        if status == 429:
            self._problem(429, "Wazuh Error", "Maximum number of requests per minute reached", code=6001)
        elif status is not None:
            self._problem(status, "Internal Server Error" if status >= 500 else "Error", f"injected HTTP {status}")
        return status is None

    def do_POST(self) -> None:
        path = urllib.parse.urlsplit(self.path).path
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        if path != "/security/user/authenticate":
            self._problem(405, "Method Not Allowed", "Specified method is invalid for this resource")
            return
        state = self.state
        with state.lock:
            blocked = state.failed_logins >= state.max_login_attempts
        if blocked:
            self._problem(403, "Permission Denied", "Limit of login attempts reached. The current IP has been blocked")
            return
        if not self._gate(path):
            return
        user, password = self._basic()
        with state.lock:
            state._bump("logins")
            ok = user in state.users and hmac.compare_digest(state.users[user], password)
            if not ok:
                state.failed_logins += 1
        if not ok:
            self._problem(401, "Unauthorized", "Invalid credentials")
            return
        self._send(200, {"data": {"token": state.token(user)}, "error": 0})

    def _basic(self) -> tuple[str, str]:
        header = self.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return "", ""
        try:
            user, _sep, password = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return "", ""
        return user, password

    def do_GET(self) -> None:
        parts = urllib.parse.urlsplit(self.path)
        path = parts.path
        if not self._gate(path):
            return
        header = self.headers.get("Authorization", "")
        if not header.startswith("Bearer ") or not self.state.token_valid(header[7:]):
            with self.state.lock:
                self.state._bump("401")
            self._problem(401, "Unauthorized", "The server could not verify that you are authorized to access the URL")
            return
        query = {k: v[-1] for k, v in urllib.parse.parse_qs(parts.query, keep_blank_values=True).items()}
        match = PACKAGES_PATH.match(path)
        if path == "/agents":
            self._agents(query)
        elif match:
            self._packages(match.group("agent"), query)
        else:
            self._problem(404, "Not Found", f"{path} is not served by the double")

    def _paging(self, query: dict, allowed: frozenset) -> tuple[int, int] | None:
        unknown = sorted(set(query) - allowed)
        if unknown:
            self._problem(400, "Bad Request", f"Unknown parameter(s) {unknown}")
            return None
        try:
            offset, limit = int(query.get("offset", 0)), int(query.get("limit", 500))
        except ValueError:
            self._problem(400, "Bad Request", "offset and limit must be integers")
            return None
        if offset < 0 or not 1 <= limit <= 100000:
            self._problem(400, "Bad Request", f"offset {offset} / limit {limit} out of range")
            return None
        return offset, limit

    def _agents(self, query: dict) -> None:
        paging = self._paging(query, AGENTS_PARAMS)
        if paging is None:
            return
        offset, limit = paging
        agents = self.state.fleet.agents
        if "os.platform" in query:
            agents = [a for a in agents if a.get("os", {}).get("platform") == query["os.platform"]]
        if "status" in query:
            wanted = set(query["status"].split(","))
            agents = [a for a in agents if a.get("status") in wanted]
        agents = _sort(agents, query.get("sort"))
        select = query["select"].split(",") if query.get("select") else None
        page = [_select(a, select) | ({"id": a["id"]} if select else {}) for a in agents[offset : offset + limit]]
        with self.state.lock:
            self.state._bump("agents_pages")
        self._send(200, list_response(page, len(agents), "All selected agents information was returned"))

    def _packages(self, agent_id: str, query: dict) -> None:
        paging = self._paging(query, PACKAGES_PARAMS)
        if paging is None:
            return
        offset, limit = paging
        select = query["select"].split(",") if query.get("select") else None
        if select and set(select) - PACKAGE_FIELDS:
            self._problem(400, "Bad Request", f"Invalid select fields {sorted(set(select) - PACKAGE_FIELDS)}")
            return
        items = self.state.fleet.packages(agent_id)
        with self.state.lock:
            self.state._bump("packages_pages")
        if items is None:
            failed = [
                {
                    "error": {
                        "code": 1701,
                        "message": "Agent does not exist",
                        "remediation": "Please, use `GET /agents?select=id,name` to find all available agents",
                    },
                    "id": [agent_id],
                }
            ]
            self._send(200, list_response([], 0, "No syscollector information was returned", failed))
            return
        if "format" in query:
            items = [item for item in items if item.get("format") == query["format"]]
        items = _sort(items, query.get("sort"))
        page = [_select(item, select) | {"agent_id": agent_id} for item in items[offset : offset + limit]]
        self._send(200, list_response(page, len(items), "All specified syscollector information was returned"))


def make_tls(directory: Path) -> tuple[Path, Path, Path]:
    """A CA and a server certificate for 127.0.0.1 and localhost; returns (ca, cert, key) paths."""
    from cryptography import x509  # noqa: PLC0415 - only the TLS tests and the benchmark need it
    from cryptography.hazmat.primitives import hashes, serialization  # noqa: PLC0415
    from cryptography.hazmat.primitives.asymmetric import ec  # noqa: PLC0415
    from cryptography.x509.oid import NameOID  # noqa: PLC0415

    now = datetime.datetime.now(datetime.UTC)

    def name(text):
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, text)])

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(name("m1038 TEST DOUBLE CA"))
        .issuer_name(name("m1038 TEST DOUBLE CA"))
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
        .subject_name(name("wazuh-api-double"))
        .issuer_name(ca.subject)
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
    paths = (directory / "ca.pem", directory / "server.pem", directory / "server.key")
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return paths


class DoubleServer(ThreadingHTTPServer):
    daemon_threads = True


def start(state: DoubleState, *, tls: tuple[Path, Path] | None = None, port: int = 0) -> tuple[DoubleServer, str]:
    """Serve ``state`` on 127.0.0.1 in a background thread; (server, base URL). ``server.shutdown()`` stops it."""
    handler = type("BoundHandler", (Handler,), {"state": state})
    server = DoubleServer(("127.0.0.1", port), handler)
    scheme = "http"
    if tls is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(tls[0]), str(tls[1]))
        server.socket = context.wrap_socket(server.socket, server_side=True)
        scheme = "https"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    return server, f"{scheme}://127.0.0.1:{server.server_address[1]}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--packages", type=int, default=150)
    parser.add_argument("--port-file", type=Path, required=True)
    parser.add_argument("--tls-dir", type=Path, help="serve HTTPS with a CA written into this directory")
    args = parser.parse_args()
    state = DoubleState(Fleet.generated(args.agents, args.packages))
    state.keep_log = False
    tls = None
    if args.tls_dir:
        _ca, cert, key = make_tls(args.tls_dir)
        tls = (cert, key)
    server, url = start(state, tls=tls)
    args.port_file.write_text(url + "\n")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.shutdown()


if __name__ == "__main__":
    main()
