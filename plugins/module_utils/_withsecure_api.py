# Copyright: m1038.appcontrol contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""WithSecure Elements API client of the security-events forwarder (private helper, stdlib only).

The forwarder runs on the Wazuh manager, installed there by the ``withsecure_forwarder`` role,
so this file imports nothing outside the Python standard library (3.9 or later).

What it speaks (WithSecure's public API documentation and its own example clients):

* ``POST /as/token.oauth2``: OAuth2 client credentials, HTTP Basic ``client_id:secret``, form
  ``grant_type=client_credentials&scope=connect.api.read``; answers ``access_token`` and
  ``expires_in``. A ``User-Agent`` header is mandatory on every request.
* ``POST /security-events/v1/security-events``: form-encoded query, bearer token; answers
  ``{"items": [...], "nextAnchor": "..."}``; the next page is the same query plus ``anchor``.

Transient failures are retried here, so the caller sees a page or a final error: HTTP 429 waits
for ``Retry-After`` (capped) or backs off, 5xx and network errors back off exponentially with
jitter, a 401 on the events call fetches one new token (expired or revoked) and tries again.
The client secret only ever goes into the Basic header of the token request: never into a
message, an exception or a log line.
"""

from __future__ import annotations

import base64
import http.client
import ipaddress
import json
import random
import re
import ssl
import time
import urllib.parse
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

DEFAULT_API_URL = "https://api.connect.withsecure.com"
TOKEN_PATH = "/as/token.oauth2"  # noqa: S105 - a URL path, not a password
EVENTS_PATH = "/security-events/v1/security-events"
SCOPE = "connect.api.read"
MAX_PAGE_LIMIT = 200
MAX_BODY_BYTES = 64 * 1024 * 1024
MAX_ID_LENGTH = 512
# A token is renewed this long before the expiry the endpoint announced (clock skew, slow requests).
TOKEN_MARGIN_SECONDS = 60
_TIMESTAMP_RE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})", re.IGNORECASE
)
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


class ApiError(Exception):
    """The API could not be used for this run (after the retries); the message says why."""


class AuthError(ApiError):
    """The credentials were refused: retrying cannot help until someone fixes them."""


class MalformedPage(ApiError):
    """A 200 answer that is not a page: not JSON, not an object, no usable ``items`` and no ``nextAnchor``."""


class _Transient(Exception):
    """A network failure worth retrying (connection refused or reset, timeout, broken HTTP)."""


def timestamp_key(value) -> int:
    """Nanoseconds since the epoch of an RFC 3339 timestamp, for ordering; ValueError when it is not one."""
    match = _TIMESTAMP_RE.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f"{value!r} is not an RFC 3339 timestamp")
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    offset = 0
    if zone.upper() != "Z":
        sign = 1 if zone[0] == "+" else -1
        offset = sign * (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60)
    moment = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), tzinfo=timezone.utc)
    whole = (moment - _EPOCH).days * 86400 + (moment - _EPOCH).seconds - offset
    return whole * 1_000_000_000 + int((fraction or "0").ljust(9, "0"))


def format_timestamp(moment: datetime) -> str:
    """RFC 3339 in UTC with milliseconds, as the API writes them (``2026-01-15T09:30:00.000Z``)."""
    moment = moment.astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def check_event(item) -> str:
    """Why ``item`` cannot be forwarded, or '' when it can (an object with an id and a persistenceTimestamp)."""
    if not isinstance(item, dict):
        return f"is a {type(item).__name__}, not an object"
    event_id = item.get("id")
    if not isinstance(event_id, str) or not event_id or len(event_id) > MAX_ID_LENGTH:
        return f"has no usable id ({str(event_id)[:60]!r})"
    try:
        timestamp_key(item.get("persistenceTimestamp"))
    except ValueError:
        return f"{event_id}: persistenceTimestamp {str(item.get('persistenceTimestamp'))[:60]!r} is not RFC 3339"
    return ""


@dataclass
class Page:
    """One answer of the events endpoint, checked."""

    items: list = field(default_factory=list)  # events that can be forwarded, in the API's order
    next_anchor: str | None = None
    rejected: list = field(default_factory=list)  # why each skipped item was skipped
    skipped: str = ""  # why the whole page's items were unusable (the anchor still was)


def parse_page(data: bytes) -> Page:
    """Check an events answer: usable events kept in order, each bad item skipped with its reason.

    Raises MalformedPage when nothing can be taken from it, not even a way to the next page.
    """
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise MalformedPage(f"the events answer is not JSON ({exc.__class__.__name__}: {str(exc)[:80]})") from None
    if not isinstance(doc, dict):
        raise MalformedPage(f"the events answer is a JSON {type(doc).__name__}, not an object")
    anchor = doc.get("nextAnchor")
    if anchor is not None and (not isinstance(anchor, str) or not anchor):
        raise MalformedPage(f"nextAnchor {str(anchor)[:60]!r} is not a non-empty string")
    items = doc.get("items")
    if not isinstance(items, list):
        reason = "has no items" if items is None else f"items is a {type(items).__name__}, not a list"
        if anchor:
            return Page(next_anchor=anchor, skipped=f"the page {reason}")
        raise MalformedPage(f"the events answer {reason} and no nextAnchor")
    page = Page(next_anchor=anchor)
    for index, item in enumerate(items):
        reason = check_event(item)
        if reason:
            page.rejected.append(f"item {index} {reason}")
        else:
            page.items.append(item)
    return page


def retry_after_seconds(value, now=None):
    """Seconds a ``Retry-After`` header asks for (delta-seconds or an HTTP date), or None if unreadable."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None or when.tzinfo is None:
        return None
    now = now or datetime.now(timezone.utc)
    return max((when - now).total_seconds(), 0.0)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_api_url(url: str, where: str = "api_url") -> urllib.parse.SplitResult:
    """An https URL, or http to a loopback address only (the tests' local server); errors name ``where``."""
    parts = urllib.parse.urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError(f"{where} {url!r} is not an http(s) URL")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError(f"{where} {url!r} must not carry a query, a fragment or credentials")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise ValueError(f"{where} {url!r}: plain http is only allowed to a loopback address; use https")
    return parts


@dataclass
class Stats:
    """What the client did in one run (the status file reports it)."""

    requests: int = 0
    token_requests: int = 0
    retries: int = 0
    throttled: int = 0
    server_errors: int = 0
    network_errors: int = 0
    token_renewals: int = 0


class ElementsClient:
    """Token handling, retries and the two calls the forwarder needs."""

    def __init__(
        self,
        api_url,
        client_id,
        client_secret,
        *,
        user_agent,
        timeout=30.0,
        max_attempts=6,
        backoff_base=1.0,
        backoff_max=60.0,
        retry_after_max=300.0,
        ca_file=None,
        sleep=time.sleep,
        clock=time.monotonic,
        log=None,
    ):
        parts = check_api_url(api_url)
        if not client_id or not client_secret:
            raise ValueError("client_id and the client secret must not be empty")
        if not user_agent:
            raise ValueError("user_agent must not be empty: the API refuses requests without one")
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port or (443 if self._https else 80)
        self._prefix = parts.path.rstrip("/")
        self._basic = "Basic " + base64.b64encode(f"{client_id}:{client_secret}".encode()).decode("ascii")
        self._user_agent = user_agent
        self._timeout = timeout
        self._max_attempts = max(1, int(max_attempts))
        self._backoff_base = backoff_base
        self._backoff_max = backoff_max
        self._retry_after_max = retry_after_max
        self._context = ssl.create_default_context(cafile=ca_file or None) if self._https else None
        self._sleep = sleep
        self._clock = clock
        self._log = log or (lambda message: None)
        self._conn = None
        self._token = None
        self._token_expiry = 0.0
        self.stats = Stats()

    def __repr__(self):  # never the secret, even in a traceback's locals
        return f"ElementsClient({'https' if self._https else 'http'}://{self._host}:{self._port}{self._prefix})"

    # -- one HTTP exchange -------------------------------------------------------------------
    def close(self):
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _connection(self):
        if self._conn is None:
            if self._https:
                self._conn = http.client.HTTPSConnection(
                    self._host, self._port, timeout=self._timeout, context=self._context
                )
            else:
                self._conn = http.client.HTTPConnection(self._host, self._port, timeout=self._timeout)
        return self._conn

    def _exchange(self, path, form, authorization):
        """POST ``form`` to ``path``; returns (status, headers, body). Network trouble raises _Transient."""
        body = urllib.parse.urlencode(form).encode("ascii")
        headers = {
            "Authorization": authorization,
            "User-Agent": self._user_agent,
            "Accept": "application/json",
            "Content-Type": "application/x-www-form-urlencoded",
        }
        self.stats.requests += 1
        try:
            conn = self._connection()
            conn.request("POST", self._prefix + path, body=body, headers=headers)
            response = conn.getresponse()
            data = response.read(MAX_BODY_BYTES + 1)
            if response.will_close:
                self.close()
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            raise _Transient(f"{exc.__class__.__name__}: {exc}") from None
        if len(data) > MAX_BODY_BYTES:
            self.close()
            raise ApiError(f"{path}: the answer is larger than {MAX_BODY_BYTES} bytes")
        return response.status, response.headers, data

    def _backoff(self, attempt):
        delay = min(self._backoff_max, self._backoff_base * 2 ** (attempt - 1))
        return delay * (0.5 + random.random() / 2)  # noqa: S311 - jitter, not cryptography

    def _with_retries(self, what, path, form, authorization):
        """One call with the retries: 429 (Retry-After), 5xx and network errors; other answers are returned."""
        attempt = 0
        while True:
            attempt += 1
            try:
                status, headers, data = self._exchange(path, form, authorization)
            except _Transient as exc:
                self.stats.network_errors += 1
                reason, wait = str(exc), self._backoff(attempt)
            else:
                if status == 429:
                    self.stats.throttled += 1
                    asked = retry_after_seconds(headers.get("Retry-After"))
                    wait = min(asked, self._retry_after_max) if asked is not None else self._backoff(attempt)
                    reason = "HTTP 429 (rate limited)"
                elif status >= 500:
                    self.stats.server_errors += 1
                    reason, wait = f"HTTP {status}", self._backoff(attempt)
                else:
                    return status, headers, data
            if attempt >= self._max_attempts:
                raise ApiError(f"{what}: gave up after {attempt} attempts; last: {reason}")
            self.stats.retries += 1
            self._log(f"{what}: {reason}; retrying in {wait:.1f} s (attempt {attempt} of {self._max_attempts})")
            self._sleep(wait)

    # -- the token ---------------------------------------------------------------------------
    def token(self):
        """A bearer token, fetched again when it is about to expire."""
        if self._token is not None and self._clock() < self._token_expiry:
            return self._token
        self._token = None
        form = [("grant_type", "client_credentials"), ("scope", SCOPE)]
        self.stats.token_requests += 1
        status, _headers, data = self._with_retries("token request", TOKEN_PATH, form, self._basic)
        if status in (400, 401, 403):
            raise AuthError(
                f"the token endpoint refused the client credentials (HTTP {status}{_oauth_error(data)}); "
                "check the client id and secret (Elements Security Center > Management > Organization Settings > "
                "API clients) and that the client has the read scope"
            )
        if status != 200:
            raise ApiError(f"token request: unexpected HTTP {status}: {_snippet(data)}")
        try:
            doc = json.loads(data.decode("utf-8"))
            token = doc["access_token"]
            lifetime = float(doc.get("expires_in", 3600))
        except (UnicodeDecodeError, ValueError, TypeError, KeyError):
            raise ApiError("token request: the answer has no access_token") from None
        if not isinstance(token, str) or not token or lifetime <= 0:
            raise ApiError("token request: the answer has no usable access_token or expires_in")
        self._token = token
        self._token_expiry = self._clock() + max(lifetime - TOKEN_MARGIN_SECONDS, lifetime / 2)
        return token

    # -- the events --------------------------------------------------------------------------
    def events_page(self, form) -> Page:
        """One page of security events for the form-encoded query ``form`` (a list of pairs)."""
        for renewal in (False, True):
            token = self.token()
            status, _headers, data = self._with_retries("security events request", EVENTS_PATH, form, f"Bearer {token}")
            if status == 401 and not renewal:
                # Expired early or revoked: one new token, then the same request again.
                self.stats.token_renewals += 1
                self._token = None
                continue
            if status in (401, 403):
                raise AuthError(
                    f"the events endpoint refused the token (HTTP {status}{_oauth_error(data)}); the API client "
                    "may lack the connect.api.read scope or access to the organization"
                )
            if status != 200:
                raise ApiError(f"security events request: HTTP {status}: {_snippet(data)}")
            return parse_page(data)
        raise AssertionError("unreachable")  # pragma: no cover


def _oauth_error(data):
    """``: invalid_client`` from an OAuth error answer; the description is left out (it may echo input)."""
    try:
        error = json.loads(data.decode("utf-8")).get("error")
    except (UnicodeDecodeError, ValueError, AttributeError):
        return ""
    return f": {error}" if isinstance(error, str) and re.fullmatch(r"[a-z_]{1,64}", error) else ""


def _snippet(data):
    text = data[:200].decode("utf-8", "replace")
    return " ".join(text.split()) or "(empty answer)"
