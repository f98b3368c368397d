# Copyright: m1038.appcontrol contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What wazuh-analysisd's rules parser accepts inside a rule file (private helper, stdlib only).

Derived from ``Rules_OP_ReadRules`` in ``src/analysisd/rules.c`` at v4.7.5, v4.9.2 and v4.14.7
(the element and attribute names are the same in the three tags); the doc table in
docs/wazuh-ruleset.md ("What the pre-flight refuses") gives the source lines. Every check here
is something that makes the engine refuse to start, or (marked) something it only warns about
while silently doing something else than the author meant; the pre-flight reports the first
kind as errors and the second as errors too when the engine's fallback would change the rule.

PCRE2 patterns are compiled with the real PCRE2 library (``libpcre2-8``, through ctypes) with
the engine's options: none (``src/shared/expression.c``, ``w_expression_compile``: options 0,
default context). ctypes keeps this module free of third-party imports, which the
wazuh-manager test double relies on (it runs the same checks as its ``wazuh-analysisd -t``).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

# Elements the parser accepts inside <rule> (rules.c, the xml_* names it compares each child with).
RULE_ELEMENTS = frozenset(
    [
        "regex",
        "match",
        "decoded_as",
        "category",
        "cve",
        "info",
        "time",
        "weekday",
        "description",
        "ignore",
        "check_if_ignored",
        "srcip",
        "srcgeoip",
        "srcport",
        "dstip",
        "dstgeoip",
        "dstport",
        "user",
        "url",
        "id",
        "data",
        "extra_data",
        "hostname",
        "program_name",
        "status",
        "protocol",
        "system_name",
        "action",
        "compiled_rule",
        "field",
        "location",
        "list",
        "if_sid",
        "if_group",
        "if_level",
        "if_fts",
        "if_matched_regex",
        "if_matched_group",
        "if_matched_sid",
        "same_source_ip",
        "same_srcip",
        "same_src_port",
        "same_srcport",
        "same_dst_port",
        "same_dstport",
        "same_srcuser",
        "same_user",
        "same_location",
        "same_id",
        "check_diff",
        "same_field",
        "same_dstip",
        "same_url",
        "same_srcgeoip",
        "same_protocol",
        "same_action",
        "same_data",
        "same_extra_data",
        "same_status",
        "same_system_name",
        "same_dstgeoip",
        "different_url",
        "different_srcip",
        "different_srcgeoip",
        "different_dstip",
        "different_src_port",
        "different_srcport",
        "different_dst_port",
        "different_dstport",
        "different_location",
        "different_protocol",
        "different_action",
        "different_srcuser",
        "different_user",
        "different_id",
        "different_data",
        "different_extra_data",
        "different_status",
        "different_system_name",
        "different_dstgeoip",
        "different_field",
        "not_same_source_ip",
        "not_same_user",
        "not_same_id",
        "not_same_field",
        "global_frequency",
        "options",
        "mitre",
        "group",
        "same_agent",
        "not_same_agent",
    ]
)
# Elements whose content is a pattern with a ``type`` attribute, and their default type.
PATTERN_ELEMENTS = {
    name: "osmatch"
    for name in [
        "match",
        "user",
        "srcgeoip",
        "dstgeoip",
        "id",
        "srcport",
        "dstport",
        "status",
        "hostname",
        "data",
        "extra_data",
        "program_name",
        "action",
        "system_name",
        "protocol",
        "url",
        "location",
    ]
}
PATTERN_ELEMENTS.update(regex="osregex", field="osregex")
PATTERN_TYPES = frozenset({"osmatch", "osregex", "pcre2"})
# <field name> may not name a static field (rules.c: those have their own elements).
STATIC_FIELDS = frozenset(
    [
        "srcip",
        "dstip",
        "srcgeoip",
        "dstgeoip",
        "srcport",
        "dstport",
        "user",
        "srcuser",
        "dstuser",
        "url",
        "id",
        "data",
        "extra_data",
        "status",
        "protocol",
        "system_name",
        "action",
    ]
)
LIST_LOOKUPS = frozenset(
    {
        "match_key",
        "not_match_key",
        "match_key_value",
        "address_match_key",
        "not_address_match_key",
        "address_match_key_value",
    }
)
LIST_ATTRIBUTES = frozenset({"lookup", "field", "check_value"})
CATEGORIES = frozenset({"firewall", "ids", "syslog", "web-log", "squid", "windows", "ossec"})
OPTIONS = frozenset({"alert_by_email", "no_email_alert", "log_alert", "no_log", "no_ar", "no_full_log", "no_counter"})
RULE_ATTRIBUTES = frozenset(
    {"id", "level", "maxsize", "timeframe", "accuracy", "ignore", "frequency", "noalert", "overwrite"}
)
NUMERIC_RULE_ATTRIBUTES = ("maxsize", "timeframe", "accuracy", "ignore")
CONTEXT_ELEMENTS = frozenset(
    name
    for name in RULE_ELEMENTS
    if name.startswith(("same_", "different_", "not_same_")) or name == "global_frequency"
)
MATCHED_ELEMENTS = frozenset({"if_matched_sid", "if_matched_group", "if_matched_regex"})
MAX_FIELDS = 256  # decoder_order_size


def rule_attribute_problems(attributes: dict[str, str]) -> list[str]:
    """Reasons the engine refuses the attributes of a ``<rule>`` start tag (none: empty list)."""
    problems = []
    for name, value in attributes.items():
        key = name.lower()
        if key not in RULE_ATTRIBUTES:
            problems.append(f"unknown <rule> attribute {name!r} (the engine refuses to start)")
        elif key in NUMERIC_RULE_ATTRIBUTES and not value.strip().isdigit():
            problems.append(f"<rule {name}> must be a number of seconds or bytes, got {value!r}")
        elif key == "frequency" and not (value.strip().isdigit() and 2 <= int(value) <= 9999):
            problems.append(f"<rule frequency> must be 2..9999, got {value!r}")
        elif key == "overwrite" and value.strip().lower() not in ("yes", "no"):
            problems.append(f"<rule overwrite> must be yes or no, got {value!r}")
        elif key == "noalert" and value.strip() not in ("0", "1"):
            problems.append(f"<rule noalert> must be 0 or 1, got {value!r} (the engine ignores it)")
    return problems


def rule_content_problems(attributes: dict[str, str], tags: list[str]) -> list[str]:
    """Reasons the engine refuses a rule for what it holds as a whole (rules.c, after the element loop)."""
    problems = []
    if not tags:
        problems.append("rule has no elements (the engine refuses to start)")
    elif "description" not in tags:
        problems.append("rule has no <description> (the engine refuses to start)")
    uses_context = "frequency" in {a.lower() for a in attributes} or any(t in CONTEXT_ELEMENTS for t in tags)
    if uses_context and not MATCHED_ELEMENTS & set(tags):
        problems.append("frequency or same_/different_ options without if_matched_sid/group/regex (the engine refuses)")
    if sum(1 for t in tags if t == "field") > MAX_FIELDS:
        problems.append(f"more than {MAX_FIELDS} <field> elements")
    return problems


def element_problems(tag: str, attributes: dict[str, str], text: str) -> list[str]:
    """Reasons the engine refuses one child element of a ``<rule>``."""
    if tag not in RULE_ELEMENTS:
        return [f"unknown element <{tag}> in a rule (the engine refuses to start: 'Invalid option')"]
    problems: list[str] = []
    lowered = {name.lower(): value for name, value in attributes.items()}
    if tag in PATTERN_ELEMENTS:
        problems.extend(_pattern_problems(tag, lowered, text))
    elif tag == "list":
        problems.extend(_list_problems(lowered))
    elif tag == "category" and text.strip() not in CATEGORIES:
        problems.append(f"<category> {text.strip()!r} is not one of {', '.join(sorted(CATEGORIES))}")
    elif tag == "options":
        for option in text.replace(",", " ").split():
            if option not in OPTIONS:
                problems.append(f"<options> {option!r} is not one of {', '.join(sorted(OPTIONS))}")
    if tag in ("if_sid", "if_matched_sid") and not text.replace(",", " ").split():
        problems.append(f"<{tag}> is empty")
    return problems


def _pattern_problems(tag: str, attributes: dict[str, str], text: str) -> list[str]:
    problems = []
    if tag == "field":
        name = attributes.get("name", "").strip()
        if not name:
            problems.append("<field> without a name attribute (the engine refuses to start)")
        elif name.lower() in STATIC_FIELDS:
            problems.append(f"<field name={name!r}> names a static field: use <{name.lower()}> (the engine refuses)")
    kind = attributes.get("type", PATTERN_ELEMENTS[tag]).strip().lower()
    if kind not in PATTERN_TYPES:
        # The engine warns (7600) and falls back to the element's default type: the pattern then
        # means something else, or fails to compile and stops the manager.
        problems.append(
            f"<{tag} type={attributes['type']!r}>: type must be osmatch, osregex or pcre2 "
            f"(the engine warns and reads the pattern as {PATTERN_ELEMENTS[tag]})"
        )
    negate = attributes.get("negate")
    if negate is not None and negate.strip().lower() not in ("yes", "no"):
        problems.append(f"<{tag} negate={negate!r}>: must be yes or no (the engine warns and ignores it)")
    if kind == "pcre2":
        error = pcre2_error(text)
        if error:
            problems.append(f"<{tag}> pcre2 pattern {text!r} does not compile: {error}")
    return problems


def _list_problems(attributes: dict[str, str]) -> list[str]:
    problems = []
    for name in attributes:
        if name not in LIST_ATTRIBUTES:
            problems.append(f"unknown <list> attribute {name!r} (the engine refuses to start)")
    if "field" not in attributes:
        problems.append("<list> without a field attribute (the engine refuses to start)")
    lookup = attributes.get("lookup")
    if lookup is not None and lookup.strip().lower() not in LIST_LOOKUPS:
        problems.append(f"<list lookup={lookup!r}> is not one of {', '.join(sorted(LIST_LOOKUPS))}")
    return problems


class Pcre2Unavailable(RuntimeError):
    """libpcre2-8 cannot be loaded, so PCRE2 patterns cannot be checked."""


@functools.lru_cache(maxsize=1)
def _library():
    name = ctypes.util.find_library("pcre2-8") or "libpcre2-8.so.0"
    try:
        lib = ctypes.CDLL(name)
    except OSError as exc:
        raise Pcre2Unavailable(
            f"cannot load the PCRE2 library ({name}: {exc}); install libpcre2-8 (Debian: libpcre2-8-0, "
            "RHEL: pcre2) on the controller so pcre2 patterns are checked before they reach a manager"
        ) from None
    lib.pcre2_compile_8.restype = ctypes.c_void_p
    lib.pcre2_compile_8.argtypes = [
        ctypes.c_char_p,
        ctypes.c_size_t,
        ctypes.c_uint32,
        ctypes.POINTER(ctypes.c_int),
        ctypes.POINTER(ctypes.c_size_t),
        ctypes.c_void_p,
    ]
    lib.pcre2_code_free_8.restype = None
    lib.pcre2_code_free_8.argtypes = [ctypes.c_void_p]
    lib.pcre2_get_error_message_8.restype = ctypes.c_int
    lib.pcre2_get_error_message_8.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_size_t]
    return lib


PCRE2_ZERO_TERMINATED = ctypes.c_size_t(-1).value


@functools.lru_cache(maxsize=4096)
def pcre2_error(pattern: str) -> str | None:
    """Compile ``pattern`` as the engine does; return PCRE2's error message, or None if it compiles.

    Raises Pcre2Unavailable when the library cannot be loaded.
    """
    lib = _library()
    # The engine passes the C string (PCRE2_ZERO_TERMINATED): a NUL would end the pattern.
    data = pattern.encode("utf-8", "surrogatepass").split(b"\0", 1)[0]
    errorcode = ctypes.c_int()
    offset = ctypes.c_size_t()
    code = lib.pcre2_compile_8(data, PCRE2_ZERO_TERMINATED, 0, ctypes.byref(errorcode), ctypes.byref(offset), None)
    if code:
        lib.pcre2_code_free_8(code)
        return None
    buffer = ctypes.create_string_buffer(256)
    lib.pcre2_get_error_message_8(errorcode.value, buffer, len(buffer))
    return f"{buffer.value.decode('utf-8', 'replace')} at offset {offset.value}"
