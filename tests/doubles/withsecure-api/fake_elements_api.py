# Copyright: m1038.appcontrol contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A FAKE WithSecure Elements API (TEST DOUBLE): real HTTP on loopback, standard library only.

It speaks the documented shape the forwarder relies on (tests/doubles/withsecure-api/README.md):

* ``POST /as/token.oauth2``: HTTP Basic client credentials, ``grant_type=client_credentials``,
  ``scope=connect.api.read``; answers ``{"access_token", "token_type", "expires_in"}``, or 401
  ``{"error": "invalid_client"}``. Tokens expire after ``token_lifetime`` seconds.
* ``POST /security-events/v1/security-events``: bearer token (401 when unknown or expired),
  form ``engine`` / ``engineGroup`` (repeated or comma-separated), ``persistenceTimestampStart``,
  ``exclusiveStart``, ``order=asc``, ``limit`` (1..200, else 400), ``anchor``, ``organizationId``;
  answers ``{"items": [...], "nextAnchor": "..."}`` (no ``nextAnchor`` on the last page).
* Every request must carry a ``User-Agent`` (400 without one, as the real API documents).

Control endpoints for the tests (no authentication; bind it to loopback only):
``POST /_fake/events`` (a JSON list of events to add, or ``{"generate": N, ...}``),
``POST /_fake/faults`` (a JSON list of faults the next matching requests get: ``{"status": 429,
"retry_after": "1"}``, ``{"status": 503}``, ``{"malformed": "not-json" | "items-not-list" |
"bad-items" | "bad-anchor"}``, ``{"drop": true}``, ``{"expire_tokens": true}``, ``{"delay": 0.2}``,
each with an optional ``"path"``: ``token`` or ``events`` (default ``events``)), ``GET /_fake/state``
(request counts, tokens issued, the last events query), ``POST /_fake/reset``.

    python3 fake_elements_api.py --port 18443 --client-id ID --secret-file FILE [--generate N]

What it cannot tell: the real API's undocumented behaviour (rate limits, the anchor's lifetime,
how ``exclusiveStart`` treats equal timestamps at millisecond precision). It implements the
documented reading: ``exclusiveStart=true`` drops events whose timestamp equals the start.
"""

from __future__ import annotations

import argparse
import base64
import bisect
import json
import re
import secrets
import socketserver
import threading
import time
import urllib.parse
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

TOKEN_PATH = "/as/token.oauth2"  # noqa: S105 - a URL path, not a password
EVENTS_PATH = "/security-events/v1/security-events"
ENGINE_GROUPS = {
    "epp": {
        "applicationControl",
        "deepGuard",
        "fileScanning",
        "realtimeScanning",
        "manualScanning",
        "webTrafficScanning",
        "browsingProtection",
        "connectionControl",
        "deviceControl",
        "firewall",
        "integrityChecker",
        "amsi",
        "tamperProtection",
        "dataGuard",
    },
    "edr": {"edr"},
    "ecp": {"ecp"},
}
ALERT_TYPES = (
    ("application_control.application_start.block", "blocked", "warning", "application_start"),
    ("application_control.application_start.report", "reported", "info", "application_start"),
    ("application_control.file_access.block", "blocked", "warning", "file_access"),
    ("application_control.file_access.report", "reported", "info", "file_access"),
    ("application_control.installation_start.block", "blocked", "warning", "installation_start"),
    ("application_control.settings.error", "none", "critical", "settings"),
)
_TS_RE = re.compile(r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?Z")


def ts_key(value):
    """Nanoseconds since the epoch of a UTC RFC 3339 timestamp (the fake only deals in ``...Z``)."""
    match = _TS_RE.fullmatch(value or "")
    if match is None:
        raise ValueError(value)
    whole = datetime.strptime(match.group(1), "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    return int(whole.timestamp()) * 1_000_000_000 + int((match.group(2) or "0").ljust(9, "0"))


def stamp(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def make_event(number, when, *, device=None, engine="applicationControl"):
    """An application-control security event in the documented shape (written for these tests)."""
    alert_type, action, severity, rule_event = ALERT_TYPES[number % len(ALERT_TYPES)]
    device = device or f"ws-{number % 50:03d}"
    details = {
        "alertType": alert_type,
        "ruleEvent": rule_event,
        "ruleId": str(1000 + number % 7),
        "ruleName": f"M1038 fake rule {number % 7}",
        "profileName": "M1038 fake profile",
        "profileId": "4242",
        "clientTimestamp": str(int(when.timestamp() * 1000)),
    }
    if rule_event == "settings":
        details["errorMessage"] = "There is an error in a condition description for the rule. The rule is ignored."
    else:
        details.update(
            targetPath=f"c:\\users\\user{number % 20}\\downloads\\tool{number}.exe",
            targetSha1=f"{number:040x}",
            targetCommandLine=f"'C:\\Users\\user{number % 20}\\Downloads\\tool{number}.exe' /quiet",
            targetVersionCompanyName="Unlisted Vendor & Co <test>",
            targetProductName="Fake Tool",
            targetSignatureSignerName="Unlisted Vendor",
            targetReputation="0",
            targetPrevalence="1",
            parentPath="c:\\windows\\explorer.exe",
            userName=f"LAB\\user{number % 20}",
        )
    return {
        "id": f"fake-{number:08d}",
        "engine": engine,
        "action": action,
        "severity": severity,
        "persistenceTimestamp": stamp(when),
        "serverTimestamp": stamp(when),
        "clientTimestamp": stamp(when.replace(microsecond=0)),
        "acknowledged": False,
        "device": {"id": f"00000000-0000-4000-8000-{number % 50:012d}", "name": device},
        "target": {"id": f"00000000-0000-4000-8000-{number % 50:012d}", "name": device},
        "organization": {"id": "00000000-0000-4000-8000-00000000aaaa", "name": "m1038-fake-org"},
        "details": details,
    }


def generate(count, start=None, step_ms=7, first=0, same_timestamp_every=0):
    """``count`` events ``step_ms`` apart from ``start``; every Nth shares its predecessor's timestamp."""
    if isinstance(start, str):
        start = datetime.fromtimestamp(ts_key(start) / 1e9, tz=UTC)
    start = start or (datetime.now(UTC) - timedelta(hours=1)).replace(microsecond=0)
    events, moment = [], start
    for n in range(first, first + count):
        if not (same_timestamp_every and n % same_timestamp_every == 0 and n > first):
            moment = moment + timedelta(milliseconds=step_ms)
        events.append(make_event(n, moment))
    return events


class FakeState:
    """Everything the fake knows; one lock around it (the server is threaded)."""

    def __init__(self, client_id, secret, token_lifetime=3600):
        self.lock = threading.Lock()
        self.client_id = client_id
        self.secret = secret
        self.token_lifetime = token_lifetime
        self.reset()

    def reset(self):
        self.events = []  # (key, seq, event), kept sorted
        self.order = []  # (key, seq) of each, for bisect
        self.by_seq = {}  # seq -> (key, seq)
        self.seq = 0
        self.tokens = {}
        self.faults = []
        self.requests = {"token": 0, "events": 0}
        self.tokens_issued = 0
        self.last_query = None
        self.served = 0

    def add(self, events):
        for event in events:
            key = ts_key(event["persistenceTimestamp"]) if isinstance(event, dict) else 0
            self.seq += 1
            self.events.append((key, self.seq, event))
            self.by_seq[self.seq] = (key, self.seq)
        self.events.sort(key=lambda entry: (entry[0], entry[1]))
        self.order = [(key, seq) for key, seq, _event in self.events]

    def take_fault(self, path):
        for index, fault in enumerate(self.faults):
            if fault.get("path", "events") == path:
                return self.faults.pop(index)
        return None


def _anchor(seq):
    return base64.urlsafe_b64encode(f"m1038-fake:{seq}".encode()).decode()


def _seq_of(anchor):
    try:
        text = base64.urlsafe_b64decode(anchor.encode()).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    return int(text.split(":", 1)[1]) if text.startswith("m1038-fake:") and text[11:].isdigit() else None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "m1038-fake-elements-api"

    def log_message(self, format, *args):
        if self.server.verbose:
            super().log_message(format, *args)

    # -- plumbing --------------------------------------------------------------------------
    def _send(self, status, body, headers=None):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _form(self, raw):
        return urllib.parse.parse_qs(raw.decode("ascii", "replace"), keep_blank_values=True)

    def _apply_fault(self, fault):
        """Send the fault's answer; True when the request is answered (or dropped) that way."""
        if fault is None:
            return False
        state = self.server.state
        if fault.get("delay"):
            time.sleep(float(fault["delay"]))
        if fault.get("expire_tokens"):
            with state.lock:
                state.tokens.clear()
            return False
        if fault.get("drop"):
            self.close_connection = True
            self.connection.close()
            return True
        if fault.get("status"):
            headers = {"Retry-After": str(fault["retry_after"])} if "retry_after" in fault else {}
            self._send(int(fault["status"]), {"error": "fake fault"}, headers)
            return True
        return False

    # -- routes ----------------------------------------------------------------------------
    def do_GET(self):
        if self.path == "/_fake/state":
            state = self.server.state
            with state.lock:
                answer = {
                    "requests": dict(state.requests),
                    "tokens_issued": state.tokens_issued,
                    "events": len(state.events),
                    "served": state.served,
                    "faults_left": len(state.faults),
                    "last_query": state.last_query,
                }
            self._send(200, answer)
        else:
            self._send(404, {"error": "not found"})

    def do_POST(self):
        raw = self._body()
        if not self.headers.get("User-Agent") and not self.path.startswith("/_fake/"):
            self._send(400, {"error": "invalid_request", "error_description": "User-Agent header is required"})
            return
        if self.path == TOKEN_PATH:
            self._token(raw)
        elif self.path == EVENTS_PATH:
            self._events(raw)
        elif self.path.startswith("/_fake/"):
            self._control(raw)
        else:
            self._send(404, {"error": "not found"})

    def _control(self, raw):
        state = self.server.state
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            self._send(400, {"error": "control body is not JSON"})
            return
        with state.lock:
            if self.path == "/_fake/events":
                if isinstance(body, dict):
                    options = dict(body)
                    events = generate(options.pop("generate", 0), **options)
                else:
                    events = body
                state.add(events)
                self._send(200, {"events": len(state.events)})
            elif self.path == "/_fake/faults":
                state.faults.extend(body)
                self._send(200, {"faults": len(state.faults)})
            elif self.path == "/_fake/reset":
                state.reset()
                self._send(200, {})
            else:
                self._send(404, {"error": "not found"})

    def _token(self, raw):
        state = self.server.state
        with state.lock:
            state.requests["token"] += 1
            fault = state.take_fault("token")
        if self._apply_fault(fault):
            return
        expected = "Basic " + base64.b64encode(f"{state.client_id}:{state.secret}".encode()).decode()
        form = self._form(raw)
        if not secrets.compare_digest(self.headers.get("Authorization", ""), expected):
            self._send(401, {"error": "invalid_client"})
            return
        if form.get("grant_type") != ["client_credentials"] or form.get("scope") != ["connect.api.read"]:
            self._send(400, {"error": "invalid_request"})
            return
        token = secrets.token_urlsafe(24)
        with state.lock:
            state.tokens[token] = time.monotonic() + state.token_lifetime
            state.tokens_issued += 1
        self._send(200, {"access_token": token, "token_type": "bearer", "expires_in": state.token_lifetime})

    def _events(self, raw):
        state = self.server.state
        with state.lock:
            state.requests["events"] += 1
            fault = state.take_fault("events")
        if self._apply_fault(fault):
            return
        auth = self.headers.get("Authorization", "")
        token = auth[7:] if auth.startswith("Bearer ") else ""
        with state.lock:
            expiry = state.tokens.get(token)
        if expiry is None or time.monotonic() >= expiry:
            self._send(401, {"error": "invalid_token"})
            return
        form = self._form(raw)
        answer = self._query(form)
        if isinstance(answer, tuple):
            self._send(*answer)
            return
        malformed = (fault or {}).get("malformed")
        if malformed == "not-json":
            self._send(200, b'{"items": [{"id": "trunc')
        elif malformed == "items-not-list":
            self._send(
                200, {"items": "oops", **({"nextAnchor": answer["nextAnchor"]} if "nextAnchor" in answer else {})}
            )
        elif malformed == "bad-items":
            self._send(
                200,
                {
                    **answer,
                    "items": [42, {"id": ""}, {"id": "x", "persistenceTimestamp": "yesterday"}] + answer["items"],
                },
            )
        elif malformed == "bad-anchor":
            self._send(200, {**answer, "nextAnchor": 7})
        else:
            self._send(200, answer)

    @staticmethod
    def _parse_query(form):
        """The query's filters, or (400, error) for a request the documented API would refuse."""

        def values(name):
            return [v for item in form.get(name, []) for v in item.split(",") if v]

        def refuse(why):
            return 400, {"error": "invalid_request", "error_description": why}

        engines, groups = set(values("engine")), values("engineGroup")
        for group in groups:
            if group not in ENGINE_GROUPS:
                return refuse(f"unknown engineGroup {group}")
            engines |= ENGINE_GROUPS[group]
        try:
            limit = int((form.get("limit") or ["200"])[0])
            start = (form.get("persistenceTimestampStart") or [None])[0]
            start_key = ts_key(start) if start else None
        except ValueError:
            return refuse("bad limit or persistenceTimestampStart")
        if not 1 <= limit <= 200 or (form.get("order") or ["asc"])[0] != "asc":
            return refuse("limit must be 1..200, order asc")
        after = _seq_of(form["anchor"][0]) if form.get("anchor") else None
        if form.get("anchor") and after is None:
            return refuse("bad anchor")
        return {
            "engines": engines,
            "limit": limit,
            "start_key": start_key,
            "exclusive": (form.get("exclusiveStart") or ["false"])[0] == "true",
            "org": (form.get("organizationId") or [None])[0],
            "after": after,
        }

    def _query(self, form):
        state = self.server.state
        parsed = self._parse_query(form)
        if isinstance(parsed, tuple):
            return parsed
        engines, limit, start_key = parsed["engines"], parsed["limit"], parsed["start_key"]
        exclusive, org, after = parsed["exclusive"], parsed["org"], parsed["after"]
        with state.lock:
            state.last_query = dict(form)
            selected = []
            # Where the page starts: after the anchor's event, and at (or after) the start timestamp.
            first = 0
            if start_key is not None:
                first = bisect.bisect_right(state.order, (start_key, float("inf")) if exclusive else (start_key, -1))
            position = state.by_seq.get(after) if after is not None else None
            if position is not None:
                first = max(first, bisect.bisect_right(state.order, position))
            for index in range(first, len(state.events)):
                _key, seq, event = state.events[index]
                if engines and event.get("engine") not in engines:
                    continue
                if org and event.get("organization", {}).get("id") != org:
                    continue
                selected.append((seq, event))
                if len(selected) > limit:
                    break
            page = selected[:limit]
            state.served += len(page)
        answer = {"items": [event for _seq, event in page]}
        if len(selected) > limit:
            answer["nextAnchor"] = _anchor(page[-1][0])
        return answer


class FakeServer(socketserver.ThreadingMixIn, HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, state, verbose=False):
        super().__init__(address, Handler)
        self.state = state
        self.verbose = verbose


def start(
    client_id="m1038-fake-client",
    secret="m1038-fake-secret",  # noqa: S107 - the fake's own test credential, never a real one
    token_lifetime=3600,
    host="127.0.0.1",
    port=0,
):
    """A running fake on a background thread: (server, base_url). Stop it with ``server.shutdown()``."""
    server = FakeServer((host, port), FakeState(client_id, secret, token_lifetime))
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-elements-api", daemon=True
    )
    thread.start()
    return server, f"http://{host}:{server.server_address[1]}"


def main():
    parser = argparse.ArgumentParser(description="FAKE WithSecure Elements API (test double), loopback only")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=18443)
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--secret-file", required=True, help="file whose first line is the client secret")
    parser.add_argument("--token-lifetime", type=int, default=3600)
    parser.add_argument("--generate", type=int, default=0, help="events to hold from the start")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    with open(args.secret_file, encoding="utf-8") as handle:
        secret = handle.readline().strip()
    state = FakeState(args.client_id, secret, args.token_lifetime)
    if args.generate:
        state.add(generate(args.generate))
    server = FakeServer((args.host, args.port), state, verbose=args.verbose)
    print(f"FAKE WithSecure Elements API (test double) on http://{args.host}:{args.port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
