# Copyright: m1038.appcontrol contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The WithSecure forwarder: Elements API security events -> JSON lines the Wazuh manager reads (stdlib only).

One run (the ``withsecure_forwarder`` role's systemd timer starts one every few minutes):

1. lock ``<state_dir>/lock`` (one run at a time), load the configuration and the cursor;
2. read back what a killed run appended after its cursor (``EventLog.reconcile``), rotate the
   output file if it is due;
3. query ``engine=...`` from the cursor's ``persistenceTimestamp`` (inclusive: events that share
   the last forwarded timestamp are not lost; the ids the cursor holds are not written twice),
   ``order=asc``, following ``nextAnchor`` until the last page;
4. per page: append one line per new event, fsync, then save the cursor; skip (and count) items
   that are not events;
5. write the status file (events forwarded, pages, errors, last success) and exit: 0 done,
   2 configuration error, 3 credentials refused, 4 API unusable after the retries, 1 anything else.

Each line is ``{"integration":"withsecure","withsecure":<the event as the API returned it>}``,
the shape the renderer's WithSecure rules read (docs/wazuh-ruleset.md). Installed on the
manager by the role as a copy of these files; nothing outside the standard library (3.9+).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import stat
import sys
import time
import traceback
from datetime import datetime, timedelta, timezone

from ansible_collections.m1038.appcontrol.plugins.module_utils._withsecure_api import (
    DEFAULT_API_URL,
    MAX_PAGE_LIMIT,
    ApiError,
    AuthError,
    ElementsClient,
    MalformedPage,
    check_api_url,
    format_timestamp,
    timestamp_key,
)
from ansible_collections.m1038.appcontrol.plugins.module_utils._withsecure_store import (
    Cursor,
    EventLog,
    RunLock,
    StoreError,
    load_cursor,
    read_json,
    save_cursor,
    write_atomic,
)

VERSION = "0.1.0"
EXIT_OK, EXIT_ERROR, EXIT_CONFIG, EXIT_AUTH, EXIT_API = 0, 1, 2, 3, 4
CURSOR_FILE = "cursor.json"
STATUS_FILE = "status.json"
LOCK_FILE = "lock"
# logcollector reads a line with fgets(OS_MAXSTR - OS_LOG_HEADER) = 65280 bytes, newline included.
MAX_LINE_BYTES = 65000
ENGINE_RE = re.compile(r"[A-Za-z][A-Za-z0-9]{0,63}")
ENGINE_GROUPS = ("epp", "edr", "ecp")
_SHORTEN = (1024, 128)
_KEEP_WHEN_TOO_LONG = ("id", "engine", "action", "severity", "persistenceTimestamp", "device", "organization")
_DETAILS_WHEN_TOO_LONG = ("alertType", "ruleEvent", "ruleId", "ruleName", "profileName", "targetPath", "targetSha1")

DEFAULTS = {
    "api_url": DEFAULT_API_URL,
    "client_id": None,
    "client_secret_file": None,
    "engines": ["applicationControl"],
    "engine_groups": [],
    "organization_id": "",
    "page_limit": MAX_PAGE_LIMIT,
    "start_lookback_minutes": 60,
    "output": None,
    "output_max_bytes": 100 * 1024 * 1024,
    "output_keep": 5,
    "rotate_min_idle_seconds": 150,
    "state_dir": None,
    "timeout_seconds": 30,
    "max_attempts": 6,
    "backoff_max_seconds": 60,
    "retry_after_max_seconds": 300,
    "ca_file": "",
    "user_agent": f"m1038-appcontrol-withsecure-forwarder/{VERSION}",
}
_INTEGERS = {
    "page_limit": (1, MAX_PAGE_LIMIT),
    "start_lookback_minutes": (0, 60 * 24 * 90),
    "output_max_bytes": (0, 1 << 40),
    "output_keep": (0, 100),
    "rotate_min_idle_seconds": (0, 86400),
    "timeout_seconds": (1, 600),
    "max_attempts": (1, 20),
    "backoff_max_seconds": (0, 3600),
    "retry_after_max_seconds": (0, 3600),
}


class ConfigError(ValueError):
    """A configuration value that cannot be used; the message names it and the file."""


# -- configuration ------------------------------------------------------------------------------
def _absolute(config, key, where):
    value = config[key]
    if not isinstance(value, str) or not value.startswith("/") or "\x00" in value:
        raise ConfigError(f"{where}: {key} {value!r} is not an absolute path")
    return value


def _check_identity(config, where):
    try:
        check_api_url(config["api_url"])
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    if not isinstance(config["client_id"], str) or not re.fullmatch(r"[\x21-\x7e]{1,256}", config["client_id"]):
        raise ConfigError(f"{where}: client_id must be 1 to 256 printable characters without spaces")
    if ":" in config["client_id"]:
        raise ConfigError(f"{where}: client_id must not contain ':' (HTTP Basic would split it there)")
    if not isinstance(config["user_agent"], str) or not re.fullmatch(r"[\x20-\x7e]{1,200}", config["user_agent"]):
        raise ConfigError(f"{where}: user_agent must be 1 to 200 printable ASCII characters")


def _check_query(config, where):
    engines, groups = config["engines"], config["engine_groups"]
    if not isinstance(engines, list) or not all(isinstance(e, str) and ENGINE_RE.fullmatch(e) for e in engines):
        raise ConfigError(f"{where}: engines {engines!r} must be a list of engine names such as applicationControl")
    if not isinstance(groups, list) or not all(g in ENGINE_GROUPS for g in groups):
        raise ConfigError(f"{where}: engine_groups {groups!r} may hold only {', '.join(ENGINE_GROUPS)}")
    if bool(engines) == bool(groups):
        raise ConfigError(f"{where}: set exactly one of engines and engine_groups (the API takes one or the other)")
    org = config["organization_id"]
    if not isinstance(org, str) or (org and not re.fullmatch(r"[A-Za-z0-9-]{1,64}", org)):
        raise ConfigError(f"{where}: organization_id {org!r} is not an organization id")


def check_config(data, where):
    """The configuration with defaults filled in, every value checked; ConfigError names the bad one."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a JSON object")
    unknown = sorted(set(data) - set(DEFAULTS))
    if unknown:
        raise ConfigError(f"{where}: unknown setting(s) {', '.join(unknown)}")
    config = {**DEFAULTS, **data}
    for key in ("client_id", "client_secret_file", "output", "state_dir"):
        if not config[key]:
            raise ConfigError(f"{where}: {key} is required")
    _check_identity(config, where)
    for key in ("client_secret_file", "output", "state_dir", *(("ca_file",) if config["ca_file"] else ())):
        _absolute(config, key, where)
    _check_query(config, where)
    for key, (low, high) in _INTEGERS.items():
        value = config[key]
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise ConfigError(f"{where}: {key} {value!r} must be an integer from {low} to {high}")
    return config


def load_config(path):
    try:
        data = read_json(path)
    except StoreError as exc:
        raise ConfigError(str(exc)) from None
    if data is None:
        raise ConfigError(f"{path} does not exist")
    return check_config(data, path)


def read_secret(path):
    """The client secret: first line of a file only its owner may read (like ssh's private keys)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
    except OSError as exc:
        raise ConfigError(f"client_secret_file {path}: {exc.strerror}") from None
    try:
        st = os.fstat(fd)
        if st.st_mode & 0o077:
            raise ConfigError(
                f"client_secret_file {path} has mode 0o{stat.S_IMODE(st.st_mode):03o}; it must be readable by its "
                "owner only (0600 or 0400)"
            )
        raw = os.read(fd, 4096)
    finally:
        os.close(fd)
    secret = raw.decode("utf-8", "replace").split("\n", 1)[0].strip()
    if not secret:
        raise ConfigError(f"client_secret_file {path} is empty")
    return secret


# -- the lines ------------------------------------------------------------------------------------
def _shorten(value, limit):
    if isinstance(value, str) and len(value) > limit:
        return value[:limit] + "...[truncated by m1038 forwarder]"
    if isinstance(value, dict):
        return {k: _shorten(v, limit) for k, v in value.items()}
    if isinstance(value, list):
        return [_shorten(v, limit) for v in value]
    return value


def _dump(event):
    return json.dumps(
        {"integration": "withsecure", "withsecure": event}, ensure_ascii=False, separators=(",", ":")
    ).encode("utf-8")


def wazuh_line(event):
    """One output line (bytes, newline included) for an API event; (line, shortened?).

    A line longer than logcollector reads whole (MAX_LINE_BYTES) has its long strings cut, then, if
    that is not enough, keeps only the fields the rules and an analyst need first; it is never dropped.
    """
    line = _dump(event)
    if len(line) < MAX_LINE_BYTES:
        return line + b"\n", False
    for limit in _SHORTEN:
        line = _dump({**_shorten(event, limit), "m1038Truncated": True})
        if len(line) < MAX_LINE_BYTES:
            return line + b"\n", True
    details = event.get("details") if isinstance(event.get("details"), dict) else {}
    slim = {k: event[k] for k in _KEEP_WHEN_TOO_LONG if k in event}
    slim["details"] = {k: details[k] for k in _DETAILS_WHEN_TOO_LONG if k in details}
    slim["m1038Truncated"] = True
    return _dump(_shorten(slim, _SHORTEN[-1])) + b"\n", True


# -- status ---------------------------------------------------------------------------------------
COUNTERS = (
    "events_forwarded",
    "duplicates_skipped",
    "pages",
    "items_rejected",
    "pages_skipped",
    "malformed_pages",
    "events_truncated",
    "recovered_lines",
    "retries",
    "throttled",
    "server_errors",
    "network_errors",
    "token_requests",
    "runs",
    "failed_runs",
)


def now_utc():
    return datetime.now(timezone.utc)


class Status:
    """status.json: totals since the state directory was created, the last run, the last success.

    The file is written after every page (the run marked running, no exit code yet) as well as at
    the end, and the totals are always the totals at the start of the run plus this run's counters:
    a run killed mid-way leaves the pages it forwarded counted, and nothing is counted twice.
    """

    def __init__(self, path, started=None):
        self.path = path
        self.started = started
        try:
            data = read_json(path) or {}
        except StoreError:
            data = {}
        totals = data.get("totals") if isinstance(data.get("totals"), dict) else {}
        self.base = {k: totals.get(k, 0) if isinstance(totals.get(k, 0), int) else 0 for k in COUNTERS}
        self.totals = dict(self.base)
        self.last_success = data.get("last_success") if isinstance(data.get("last_success"), str) else None
        self.run = {k: 0 for k in COUNTERS}

    def count(self, key, number=1):
        self.run[key] += number

    def checkpoint(self, *, cursor_timestamp, output, client_counts=None):
        """Record the running run's counters so far (after a page is durably written); ``client_counts``
        are the HTTP client's counters, which the final save adds to the run's own."""
        self._write(
            started=self.started or now_utc(),
            finished=None,
            exit_code=None,
            error=None,
            cursor_timestamp=cursor_timestamp,
            output=output,
            extra=client_counts or {},
        )

    def save(self, *, started, exit_code, error, cursor_timestamp, output):
        finished = now_utc()
        if exit_code == EXIT_OK:
            self.last_success = format_timestamp(finished)
        self._write(
            started=started,
            finished=finished,
            exit_code=exit_code,
            error=error,
            cursor_timestamp=cursor_timestamp,
            output=output,
        )

    def _write(self, *, started, finished, exit_code, error, cursor_timestamp, output, extra=None):
        self.run["runs"] = 1
        self.run["failed_runs"] = int(exit_code is not None and exit_code != EXIT_OK)
        run = {key: self.run[key] + (extra or {}).get(key, 0) for key in COUNTERS}
        self.totals = {key: self.base[key] + run[key] for key in COUNTERS}
        data = {
            "version": VERSION,
            "last_run": {
                "started": format_timestamp(started),
                "finished": format_timestamp(finished) if finished else None,
                "seconds": round(((finished or now_utc()) - started).total_seconds(), 3),
                "running": finished is None,
                "exit_code": exit_code,
                "error": error,
                **run,
            },
            "last_success": self.last_success,
            "cursor": cursor_timestamp,
            "output": output,
            "totals": self.totals,
        }
        write_atomic(self.path, (json.dumps(data, indent=2, sort_keys=True) + "\n").encode("utf-8"), mode=0o640)


# -- one run --------------------------------------------------------------------------------------
def base_query(config, cursor):
    # Several engines (or groups) comma-separated in one value, as WithSecure's own Sentinel connector sends them.
    if config["engines"]:
        form = [("engine", ",".join(config["engines"]))]
    else:
        form = [("engineGroup", ",".join(config["engine_groups"]))]
    form += [
        ("persistenceTimestampStart", cursor.timestamp),
        # Inclusive on purpose: events that share the cursor's timestamp with the last one forwarded but
        # were not on its page come back; those already written are in cursor.seen and skipped.
        ("exclusiveStart", "false"),
        ("order", "asc"),
        ("limit", str(config["page_limit"])),
    ]
    if config["organization_id"]:
        form.append(("organizationId", config["organization_id"]))
    return form


class Forwarder:
    """One run over an open output file and a cursor; the state directory is locked by the caller."""

    def __init__(self, config, client, status, log, *, now=now_utc, sleep=time.sleep):
        self.config = config
        self.client = client
        self.status = status
        self.log = log
        self.now = now
        self.sleep = sleep
        self.cursor_path = os.path.join(config["state_dir"], CURSOR_FILE)
        self.output = EventLog(
            config["output"],
            max_bytes=config["output_max_bytes"],
            keep=config["output_keep"],
            rotate_min_idle=config["rotate_min_idle_seconds"],
        )
        self.cursor = None

    def prepare(self):
        """Open the output, read the cursor back (or make the first one), reconcile, rotate when due."""
        self.output.open()
        cursor = load_cursor(self.cursor_path)
        if cursor is None:
            start = self.now() - timedelta(minutes=self.config["start_lookback_minutes"])
            stamp = format_timestamp(start)
            cursor = Cursor(stamp, timestamp_key(stamp), {}, self.output.inode, self.output.size)
            self.log(f"no cursor yet: starting at {stamp} ({self.config['start_lookback_minutes']} minutes back)")
        else:
            found = self.output.reconcile(cursor)
            for note in found.notes:
                self.log(f"warning: {note}")
            if found.ids or found.truncated:
                self.log(
                    f"a run stopped between writing events and saving its cursor: {len(found.ids)} event(s) already "
                    f"in {self.output.path} will not be written again; {found.truncated} byte(s) of a partial line cut"
                )
            self.status.count("recovered_lines", len(found.ids))
            for event_id, stamp in found.ids:
                try:
                    cursor.seen[event_id] = timestamp_key(stamp)
                except ValueError:
                    continue
            cursor.inode, cursor.offset = self.output.inode, self.output.size
        save_cursor(self.cursor_path, cursor)  # durable before anything is appended
        if self.output.rotation_due():
            self.output.rotate()
            cursor.inode, cursor.offset = self.output.inode, self.output.size
            save_cursor(self.cursor_path, cursor)
            self.log(f"rotated {self.output.path} (over {self.config['output_max_bytes']} bytes and idle)")
        self.cursor = cursor

    def fetch(self, form):
        """A page; a malformed answer is asked for again (it is usually a truncated or proxied answer).

        Still malformed after ``max_attempts``: a page that at least names the next one is skipped
        (its events are lost: counted and logged as an error); one that does not ends the run with the
        cursor where it was, so the next run asks again (the timer paces it: no tight loop).
        """
        attempts = self.config["max_attempts"]
        for attempt in range(1, attempts + 1):
            try:
                page = self.client.events_page(form)
                if not page.skipped:
                    return page
                problem = page.skipped
            except MalformedPage as exc:
                page, problem = None, str(exc)
            self.status.count("malformed_pages")
            if attempt == attempts:
                if page is not None:
                    self.log(f"error: skipped a page after {attempts} attempts ({problem}); following its nextAnchor")
                    self.status.count("pages_skipped")
                    return page
                raise ApiError(f"{problem} ({attempts} attempts); the cursor stays where it was")
            wait = min(self.config["backoff_max_seconds"], 2 ** (attempt - 1))
            self.log(f"malformed page: {problem}; asking again in {wait} s (attempt {attempt} of {attempts})")
            self.sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    def write_page(self, page):
        """Append the page's new events durably, then move the cursor past the whole page."""
        cursor = self.cursor
        lines = []
        written = {}
        newest = (cursor.key, cursor.timestamp)
        for event in page.items:
            key = timestamp_key(event["persistenceTimestamp"])
            if key > newest[0]:
                newest = (key, event["persistenceTimestamp"])
            if event["id"] in cursor.seen or event["id"] in written:
                self.status.count("duplicates_skipped")
                continue
            line, shortened = wazuh_line(event)
            lines.append(line)
            written[event["id"]] = key
            if shortened:
                self.status.count("events_truncated")
        if lines:
            self.output.append(b"".join(lines))
        cursor.advance(newest[1], newest[0], written)
        cursor.inode, cursor.offset = self.output.inode, self.output.size
        save_cursor(self.cursor_path, cursor)
        self.status.count("events_forwarded", len(lines))
        self.status.count("pages")
        self.status.checkpoint(
            cursor_timestamp=cursor.timestamp, output=self.config["output"], client_counts=_client_counts(self.client)
        )

    def run(self):
        self.prepare()
        form = base_query(self.config, self.cursor)
        anchor = None
        while True:
            page = self.fetch([*form, ("anchor", anchor)] if anchor else form)
            for reason in page.rejected:
                self.log(f"skipped an item that is not an event: {reason}")
            self.status.count("items_rejected", len(page.rejected))
            self.write_page(page)
            if not page.next_anchor:
                return
            anchor = page.next_anchor

    def close(self):
        self.output.close()
        self.client.close()


CLIENT_COUNTERS = ("retries", "throttled", "server_errors", "network_errors", "token_requests")


def _client_counts(client):
    stats = getattr(client, "stats", None)
    return {key: getattr(stats, key, 0) for key in CLIENT_COUNTERS} if stats is not None else {}


def _client_stats_into(status, client):
    for key, number in _client_counts(client).items():
        status.count(key, number)


def forward(config, *, log, secret=None, now=now_utc, sleep=time.sleep, client_factory=ElementsClient):
    """One locked run; returns the exit code. Never raises: every failure ends in the status file."""
    state_dir = config["state_dir"]
    started = now()
    status = Status(os.path.join(state_dir, STATUS_FILE), started)
    with RunLock(os.path.join(state_dir, LOCK_FILE)) as lock:
        if not lock.acquired:
            log("another run holds the lock; nothing to do")
            return EXIT_OK
        code, error, forwarder, client = EXIT_OK, None, None, None
        try:
            secret = secret if secret is not None else read_secret(config["client_secret_file"])
            client = client_factory(
                config["api_url"],
                config["client_id"],
                secret,
                user_agent=config["user_agent"],
                timeout=config["timeout_seconds"],
                max_attempts=config["max_attempts"],
                backoff_max=config["backoff_max_seconds"],
                retry_after_max=config["retry_after_max_seconds"],
                ca_file=config["ca_file"] or None,
                sleep=sleep,
                log=log,
            )
            del secret
            forwarder = Forwarder(config, client, status, log, now=now, sleep=sleep)
            forwarder.run()
        except ConfigError as exc:
            code, error = EXIT_CONFIG, str(exc)
        except AuthError as exc:
            code, error = EXIT_AUTH, str(exc)
        except ApiError as exc:
            code, error = EXIT_API, str(exc)
        except (StoreError, OSError) as exc:
            code, error = EXIT_ERROR, f"{exc.__class__.__name__}: {exc}"
        except Exception as exc:
            code, error = EXIT_ERROR, f"unexpected {exc.__class__.__name__}: {exc}"
            log(traceback.format_exc())
        finally:
            if forwarder is not None:
                forwarder.close()
            elif client is not None:
                client.close()
        if client is not None:
            _client_stats_into(status, client)
        cursor = forwarder.cursor if forwarder is not None and forwarder.cursor is not None else None
        run = status.run
        summary = (
            f"{run['events_forwarded']} event(s) forwarded in {run['pages']} page(s), "
            f"{run['duplicates_skipped']} duplicate(s) skipped, {run['items_rejected']} item(s) rejected, "
            f"{run['retries']} retr{'y' if run['retries'] == 1 else 'ies'}"
        )
        log(summary if code == EXIT_OK else f"failed (exit {code}): {error}; {summary}")
        try:
            status.save(
                started=started,
                exit_code=code,
                error=error,
                cursor_timestamp=cursor.timestamp if cursor else None,
                output=config["output"],
            )
        except OSError as exc:
            log(f"could not write the status file: {exc}")
            code = code or EXIT_ERROR
        return code


# -- command line ---------------------------------------------------------------------------------
def _stderr_log(message):
    sys.stderr.write(message.rstrip("\n") + "\n")
    sys.stderr.flush()


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="m1038-withsecure-forwarder",
        description="Forward WithSecure Elements security events to a JSON-lines file the Wazuh manager reads.",
    )
    parser.add_argument("--config", default="/etc/m1038-withsecure/forwarder.json", help="configuration file")
    parser.add_argument(
        "--check-config",
        metavar="FILE",
        help="check FILE as a configuration (settings only: no secret, no network) and exit 0 or 2",
    )
    parser.add_argument("--version", action="version", version=VERSION)
    args = parser.parse_args(argv)
    if args.check_config:
        try:
            load_config(args.check_config)
        except ConfigError as exc:
            _stderr_log(f"configuration error: {exc}")
            return EXIT_CONFIG
        return EXIT_OK
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        _stderr_log(f"configuration error: {exc}")
        return EXIT_CONFIG
    return forward(config, log=_stderr_log)
