# Copyright: m1038.appcontrol contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read Wazuh ruleset test files (``tests/*.ini``) and judge logtest answers (private helper).

Format, as in Wazuh's ``ruleset/testing/tests``::

    [Section name]
    log 1 pass = <event>
    log 2 fail = <event>
    rule = 100010
    alert = 10
    decoder = json

``pass`` lines must produce rule ``rule`` at level ``alert`` decoded by ``decoder``; ``fail``
lines must not. ``log_format`` and ``location`` may be added per section; they override the
defaults the caller passes.

``event_kind`` tells eventchannel events (JSON with a top-level ``win`` object, as the Windows
eventchannel decoder produces) from the rest: stock wazuh-logtest cannot take them to our rules
(see ``EVENTCHANNEL_SKIP_REASON``).
"""

from __future__ import annotations

import configparser
import json
import re

_LOG_KEY_RE = re.compile(r"^log\s+(\d+)\s+(pass|fail)$")
_OPTIONAL = ("log_format", "location", "decoder")

EVENTCHANNEL = "eventchannel"
OTHER = "other"
EVENTCHANNEL_SKIP_REASON = (
    "wazuh-logtest (src/analysisd/logtest.c) queues events as localfile messages, so eventchannel JSON "
    "is decoded as json and never reaches stock rule 60000, which requires decoder windows_eventchannel"
)


class RuleTestError(ValueError):
    """A test file that cannot be read."""


def parse_tests(text: str, source: str) -> list[dict]:
    """Return one dict per log line: source, section, name, event, expect_match, rule, level, decoder..."""
    parser = configparser.RawConfigParser(delimiters=("=",), comment_prefixes=("#", ";"), strict=True)
    parser.optionxform = str  # keep "log 1 pass" as written
    try:
        parser.read_string(text, source=source)
    except configparser.Error as exc:
        raise RuleTestError(f"{source}: {exc}") from exc
    cases: list[dict] = []
    for section in parser.sections():
        options = {k.strip(): v.strip() for k, v in parser.items(section)}
        where = f"{source} [{section}]"
        rule = options.get("rule", "")
        alert = options.get("alert", "")
        if not rule.isdigit():
            raise RuleTestError(f"{where}: 'rule' must be a rule id, got {rule!r}")
        if not alert.isdigit():
            raise RuleTestError(f"{where}: 'alert' must be a level, got {alert!r}")
        unknown = [k for k in options if k not in ("rule", "alert", *_OPTIONAL) and not _LOG_KEY_RE.match(k)]
        if unknown:
            raise RuleTestError(f"{where}: unknown keys {unknown}")
        logs = [(k, v) for k, v in options.items() if _LOG_KEY_RE.match(k)]
        if not logs:
            raise RuleTestError(f"{where}: no 'log N pass = ...' line")
        for key, event in logs:
            if not event:
                raise RuleTestError(f"{where}: {key!r} has no event")
            cases.append(
                {
                    "source": source,
                    "section": section,
                    "name": key,
                    "event": event,
                    "expect_match": _LOG_KEY_RE.match(key).group(2) == "pass",
                    "rule": rule,
                    "level": alert,
                    "decoder": options.get("decoder", ""),
                    "log_format": options.get("log_format", ""),
                    "location": options.get("location", ""),
                }
            )
    return cases


def event_kind(event: str) -> str:
    """``EVENTCHANNEL`` for a JSON event with a top-level ``win`` object, else ``OTHER``."""
    try:
        data = json.loads(event)
    except (TypeError, ValueError):
        return OTHER
    return EVENTCHANNEL if isinstance(data, dict) and isinstance(data.get("win"), dict) else OTHER


def judge(case: dict, output: dict) -> dict:
    """Compare a logtest ``output`` (the API's ``data.output``) with a test case.

    Returns ``{"passed": bool, "actual_rule", "actual_level", "actual_decoder", "reason"}``.
    """
    rule = (output or {}).get("rule") or {}
    decoder = (output or {}).get("decoder") or {}
    actual_rule = str(rule.get("id", ""))
    actual_level = str(rule.get("level", ""))
    actual_decoder = str(decoder.get("name", "") or decoder.get("parent", ""))
    problems = []
    if actual_rule != case["rule"]:
        problems.append(f"rule {actual_rule or 'none'} (expected {case['rule']})")
    if actual_level != case["level"]:
        problems.append(f"level {actual_level or 'none'} (expected {case['level']})")
    if case.get("decoder") and actual_decoder != case["decoder"]:
        problems.append(f"decoder {actual_decoder or 'none'} (expected {case['decoder']})")
    matched = not problems
    passed = matched if case["expect_match"] else actual_rule != case["rule"]
    if passed:
        reason = "ok"
    elif case["expect_match"]:
        reason = "got " + ", ".join(problems)
    else:
        reason = f"rule {case['rule']} fired but the test expects it not to"
    return {
        "passed": passed,
        "actual_rule": actual_rule,
        "actual_level": actual_level,
        "actual_decoder": actual_decoder,
        "reason": reason,
    }
