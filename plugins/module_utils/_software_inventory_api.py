# -*- coding: utf-8 -*-
# Copyright: contributors to m1038.appcontrol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A small Wazuh API client on the standard library (http.client + ssl), safe to share between threads.

What it does, from the Wazuh 4.x API specification (api/api/spec/spec.yaml) and its middlewares:

* Authentication: ``POST /security/user/authenticate`` with HTTP Basic credentials returns
  ``{"data": {"token": JWT}}``; the token expires after ``auth_token_exp_timeout`` (900 s by
  default). The client renews it shortly before the JWT's ``exp`` and once more when a request
  answers 401. Threads share one token; one renewal serves them all.
* A refused login (401) or a blocked address (403) is never retried: every failed login counts
  towards ``max_login_attempts`` (50 per ``block_time``, 300 s), after which the API blocks the
  address (api/api/error_handler.py, middlewares.py).
* 429 (``max_request_per_minute``, 300 by default, counted for all clients together in one fixed
  one-minute window) and 5xx are retried with exponential backoff and jitter; a 429 pauses every
  thread. ``requests_per_minute`` keeps the client below the API's limit in the first place.
* TLS is verified by default (the system store, or ``ca_path``). Plain ``http://`` is accepted only
  for a loopback address (a test server, a tunnel); the API itself serves HTTPS.
"""

from __future__ import annotations

import base64
import email.utils
import http.client
import ipaddress
import json
import random
import socket
import ssl
import threading
import time
import urllib.parse
from dataclasses import dataclass

AUTH_PATH = "/security/user/authenticate"
MAX_BODY_BYTES = 64 * 1024 * 1024
# Renew a token this long before its exp (less for short-lived tokens: a quarter of their life).
RENEW_MARGIN_SECONDS = 30.0
TRANSIENT_STATUS = frozenset({429, 500, 502, 503, 504})


class ApiError(Exception):
    """One request failed for good (after its retries); other requests may still succeed."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class ApiFatalError(ApiError):
    """No later request can succeed either: credentials, permissions, TLS, the URL or the request itself."""


class _Transient(Exception):
    """A connection-level failure worth retrying (reset, timeout, refused)."""


@dataclass
class ApiSettings:
    url: str
    user: str
    password: str
    ca_path: str | None = None
    validate_certs: bool = True
    timeout: float = 30.0
    retries: int = 6
    backoff: float = 2.0
    max_backoff: float = 60.0
    requests_per_minute: int = 0
    user_agent: str = "m1038.appcontrol"


@dataclass(frozen=True)
class BaseUrl:
    scheme: str
    host: str
    port: int
    prefix: str

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}{self.prefix}"


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_base_url(url: str) -> BaseUrl:
    """``https://manager:55000[/prefix]``; raise ValueError naming what is wrong with ``url``."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError(f"api_url {url!r} is not an https:// URL with a host name")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError(f"api_url {url!r} must not carry credentials, a query or a fragment")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise ValueError(
            f"api_url {url!r} uses plain http to {parts.hostname}: the Wazuh API serves https, and plain http is "
            "accepted only for a loopback address (a test server or a tunnel)"
        )
    try:
        port = parts.port or (55000 if parts.scheme == "https" else 80)
    except ValueError:
        raise ValueError(f"api_url {url!r} has an invalid port") from None
    return BaseUrl(parts.scheme, parts.hostname, port, parts.path.rstrip("/"))


def tls_context(settings: ApiSettings) -> ssl.SSLContext:
    """Verified TLS 1.2+ (system store or ``ca_path``); without verification only when asked for."""
    try:
        context = ssl.create_default_context(cafile=settings.ca_path or None)
    except (OSError, ssl.SSLError) as exc:
        raise ApiFatalError(f"ca_path {settings.ca_path!r} cannot be loaded as a CA bundle: {exc}") from None
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if not settings.validate_certs:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def token_lifetime(token: str, now: float) -> tuple[float | None, float]:
    """(exp, renew margin) read from a JWT's payload; (None, margin) when it cannot be read."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        expires = float(claims["exp"])
        issued = float(claims.get("iat", now))
    except (IndexError, KeyError, TypeError, ValueError):
        return None, RENEW_MARGIN_SECONDS
    return expires, min(RENEW_MARGIN_SECONDS, max(expires - issued, 0.0) / 4)


def _detail(body: bytes) -> str:
    try:
        document = json.loads(body)
    except ValueError:
        return body[:200].decode("utf-8", "replace")
    if isinstance(document, dict):
        parts = [str(document[key]) for key in ("title", "detail", "remediation") if document.get(key)]
        if parts:
            return ": ".join(parts)
    return body[:200].decode("utf-8", "replace")


class RateGate:
    """Spaces requests to ``per_minute`` (0: no limit) and holds every thread during a 429 pause."""

    def __init__(self, per_minute: int, clock=time.monotonic, sleep=time.sleep) -> None:
        self._interval = 60.0 / per_minute if per_minute > 0 else 0.0
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next = 0.0
        self._paused_until = 0.0

    def wait(self) -> None:
        with self._lock:
            now = self._clock()
            start = max(now, self._next, self._paused_until)
            self._next = start + self._interval
        if start > now:
            self._sleep(start - now)

    def pause(self, seconds: float) -> None:
        with self._lock:
            self._paused_until = max(self._paused_until, self._clock() + seconds)


class WazuhApi:
    """GET JSON from the Wazuh API with authentication, renewal, retries and a rate gate."""

    def __init__(self, settings: ApiSettings, *, clock=time.monotonic, wall=time.time, sleep=time.sleep, jitter=None):
        self.settings = settings
        self.base = parse_base_url(settings.url)
        self._context = tls_context(settings) if self.base.scheme == "https" else None
        self._wall = wall
        self._sleep = sleep
        self._jitter = jitter or random.random
        self.gate = RateGate(settings.requests_per_minute, clock, sleep)
        self._local = threading.local()
        self._connections: list[http.client.HTTPConnection] = []
        # _auth_lock guards the token (held while logging in, so one login serves every thread);
        # _lock guards the counters and the connection list, never across a request.
        self._auth_lock = threading.Lock()
        self._lock = threading.Lock()
        self._token: str | None = None
        self._renew_at: float | None = None
        self.generation = 0
        self.stats = {"requests": 0, "authentications": 0, "retries": 0}

    # --- connections ------------------------------------------------------------------------

    def _connection(self) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            if self._context is not None:
                conn = http.client.HTTPSConnection(
                    self.base.host, self.base.port, timeout=self.settings.timeout, context=self._context
                )
            else:
                conn = http.client.HTTPConnection(self.base.host, self.base.port, timeout=self.settings.timeout)
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    def _drop_connection(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def close(self) -> None:
        with self._lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()

    def _send(self, method: str, path: str, params: dict | None, authorization: str) -> tuple[int, dict, bytes]:
        target = self.base.prefix + path + ("?" + urllib.parse.urlencode(params) if params else "")
        headers = {
            "Authorization": authorization,
            "Accept": "application/json",
            "User-Agent": self.settings.user_agent,
        }
        with self._lock:
            self.stats["requests"] += 1
        conn = self._connection()
        try:
            conn.request(method, target, headers=headers)
            response = conn.getresponse()
            body = response.read(MAX_BODY_BYTES + 1)
        except ssl.SSLCertVerificationError as exc:
            self._drop_connection()
            raise ApiFatalError(
                f"the TLS certificate of {self.base} is not trusted ({exc.verify_message}): set ca_path to the CA "
                "bundle that signed the Wazuh API certificate"
            ) from None
        except ssl.SSLError as exc:
            self._drop_connection()
            raise ApiFatalError(f"TLS with {self.base} failed: {exc}") from None
        except socket.gaierror as exc:
            self._drop_connection()
            raise ApiFatalError(f"cannot resolve {self.base.host}: {exc}") from None
        except (OSError, http.client.HTTPException) as exc:
            self._drop_connection()
            raise _Transient(f"{type(exc).__name__}: {exc}") from None
        if len(body) > MAX_BODY_BYTES:
            self._drop_connection()
            raise ApiFatalError(
                f"{method} {path}: the response is larger than {MAX_BODY_BYTES} bytes; lower the page size"
            )
        return response.status, {k.lower(): v for k, v in response.getheaders()}, body

    # --- retries ----------------------------------------------------------------------------

    def _delay(self, attempt: int, retry_after: str | None) -> float:
        delay = min(self.settings.max_backoff, self.settings.backoff * 2**attempt) * (0.5 + self._jitter() / 2)
        if retry_after:
            try:
                wanted = float(retry_after)
            except ValueError:
                try:  # an HTTP date
                    wanted = email.utils.parsedate_to_datetime(retry_after).timestamp() - self._wall()
                except (TypeError, ValueError, OverflowError):
                    wanted = 0.0
            delay = max(delay, min(wanted, self.settings.max_backoff))
        return delay

    def _retry_or_raise(self, attempt: int, what: str, status: int | None, retry_after: str | None = None) -> None:
        if attempt >= self.settings.retries:
            raise ApiError(f"{what} (gave up after {attempt} retries)", status)
        delay = self._delay(attempt, retry_after)
        with self._lock:
            self.stats["retries"] += 1
        if status == 429:
            self.gate.pause(delay)  # every thread waits in the gate, this one included
        else:
            self._sleep(delay)

    # --- authentication ---------------------------------------------------------------------

    def _authenticate_locked(self) -> None:
        credentials = f"{self.settings.user}:{self.settings.password}".encode()
        authorization = "Basic " + base64.b64encode(credentials).decode("ascii")
        attempt = 0
        while True:
            self.gate.wait()
            try:
                status, headers, body = self._send("POST", AUTH_PATH, None, authorization)
            except _Transient as exc:
                self._retry_or_raise(attempt, f"login to {self.base}: {exc}", None)
                attempt += 1
                continue
            if status == 200:
                break
            if status == 401:
                raise ApiFatalError(
                    f"the Wazuh API at {self.base} refused the credentials of user {self.settings.user!r} "
                    f"({_detail(body)}); not retried, because every failed login counts towards the API's "
                    "max_login_attempts, after which it blocks this address",
                    status,
                )
            if status == 403:
                raise ApiFatalError(
                    f"the Wazuh API at {self.base} refuses logins from this address: {_detail(body)}", 403
                )
            if status in TRANSIENT_STATUS:
                self._retry_or_raise(
                    attempt, f"login: HTTP {status}: {_detail(body)}", status, headers.get("retry-after")
                )
                attempt += 1
                continue
            raise ApiFatalError(f"login to {self.base}: HTTP {status}: {_detail(body)}", status)
        try:
            token = json.loads(body)["data"]["token"]
        except (ValueError, KeyError, TypeError):
            token = None
        if not isinstance(token, str) or not token:
            raise ApiFatalError(f"login to {self.base}: the response holds no data.token: {body[:200]!r}")
        now = self._wall()
        expires, margin = token_lifetime(token, now)
        self._token = token
        self._renew_at = None if expires is None else expires - margin
        self.generation += 1
        self.stats["authentications"] += 1

    def _current_token(self) -> tuple[str, int]:
        with self._auth_lock:
            if self._token is None or (self._renew_at is not None and self._wall() >= self._renew_at):
                self._authenticate_locked()
            return self._token, self.generation

    def _renew_after_401(self, generation: int) -> None:
        with self._auth_lock:
            if generation == self.generation:  # nobody renewed it since this thread's request
                self._authenticate_locked()

    # --- requests ---------------------------------------------------------------------------

    def get_json(self, path: str, params: dict | None = None) -> dict:
        """GET ``path``; the parsed JSON object, or ApiError / ApiFatalError saying what failed."""
        attempt = 0
        renewed = False
        while True:
            token, generation = self._current_token()
            self.gate.wait()
            try:
                status, headers, body = self._send("GET", path, params, f"Bearer {token}")
            except _Transient as exc:
                self._retry_or_raise(attempt, f"GET {path}: {exc}", None)
                attempt += 1
                continue
            if status == 200:
                try:
                    document = json.loads(body)
                except ValueError:
                    raise ApiError(f"GET {path}: the response is not JSON: {body[:200]!r}", status) from None
                if not isinstance(document, dict):
                    raise ApiError(f"GET {path}: the response is not a JSON object", status)
                return document
            if status == 401 and not renewed:
                self._renew_after_401(generation)
                renewed = True
                continue
            if status in (401, 403):
                raise ApiFatalError(
                    f"GET {path}: HTTP {status} ({_detail(body)}); the API user {self.settings.user!r} needs the RBAC "
                    "actions agent:read and syscollector:read",
                    status,
                )
            if status in TRANSIENT_STATUS:
                self._retry_or_raise(
                    attempt, f"GET {path}: HTTP {status}: {_detail(body)}", status, headers.get("retry-after")
                )
                attempt += 1
                continue
            raise ApiFatalError(f"GET {path}: HTTP {status}: {_detail(body)}", status)


__all__ = [
    "ApiError",
    "ApiFatalError",
    "ApiSettings",
    "BaseUrl",
    "RateGate",
    "WazuhApi",
    "parse_base_url",
    "tls_context",
]
