# -*- coding: utf-8 -*-
# Copyright: contributors to m1038.appcontrol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Representability checks and escaping for strings that end up in Wazuh content.

Wazuh reads rules with its own XML reader (``src/os_xml/os_xml.c``), not a standard one:
it decodes **no** entities (``&amp;`` stays five characters) and only a backslash keeps a
``<`` from opening a tag.  Generated rule text must therefore be valid for both readers,
which is only true when it contains neither ``<`` nor ``&``.  Every value that comes from
the inventory or the policy and is placed in a rule goes through :func:`pcre2_literal`,
which turns each byte outside ``[A-Za-z0-9_-]`` into a PCRE2 ``\\x{hh}`` escape, so the
rule text never holds a metacharacter of either XML dialect or of the regex dialect.
Wazuh compiles ``type="pcre2"`` patterns with no options (``src/shared/expression.c``,
``w_expression_compile``), i.e. byte-wise, non-UTF mode, so one escape per UTF-8 byte
matches the UTF-8 bytes of the decoded field exactly.
"""

from __future__ import annotations

import re
import unicodedata

# Wazuh's CDB text reader reads lines with fgets(OS_MAXSTR - 1) (65534 bytes); a key must stay
# far below that.  This is the bundle's own documented limit.
MAX_VENDOR_BYTES = 1024
# os_xml's XML_MAXSIZE: longest element content the manager accepts.
XML_MAXSIZE = 20480
# C isspace(): the characters the eventchannel decoder strips from the end of every value
# (replace_win_format() in src/analysisd/decoders/winevtchannel.c).
C_WHITESPACE = " \t\n\v\f\r"

_REGEX_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


class RepresentationError(ValueError):
    """A string that cannot be represented in Wazuh rules or CDB lists."""


def _bad_char_reason(char: str) -> str | None:
    category = unicodedata.category(char)
    if category == "Cc":
        return f"it contains the control character U+{ord(char):04X}"
    if category == "Cs":
        return f"it contains the lone surrogate U+{ord(char):04X}"
    if char in "\ufffe\uffff":
        return f"it contains the non-character U+{ord(char):04X}"
    if char == '"':
        return (
            'it contains a double quote ("), which the eventchannel decoder turns into \\" and a Wazuh CDB '
            "text list cannot hold in a key, so no list lookup can ever match it"
        )
    return None


# Unicode categories Cc (U+0000-001F, U+007F-009F) and Cs (surrogates), the two non-characters
# and the double quote: one C-speed search instead of a Python loop over every character.
_UNREPRESENTABLE = re.compile(r'[\x00-\x1f\x7f-\x9f"\ud800-\udfff\ufffe\uffff]')


def unrepresentable_reason(value: str) -> str | None:
    """Say why ``value`` (already normalised) cannot be a CDB key and rule value, or None."""
    if not value:
        return "it is empty"
    found = _UNREPRESENTABLE.search(value)
    if found:
        return _bad_char_reason(found.group())
    size = len(value.encode("utf-8", "surrogatepass"))
    if size > MAX_VENDOR_BYTES:
        return f"it is {size} bytes long (limit {MAX_VENDOR_BYTES})"
    return None


def normalise_vendor(value: str) -> str:
    """Apply the documented normalisation: drop trailing C whitespace, as the decoder does."""
    return value.rstrip(C_WHITESPACE)


def checked_vendor(value: object, where: str) -> str:
    """Return the normalised vendor string or raise RepresentationError naming ``where``."""
    if not isinstance(value, str):
        raise RepresentationError(f"{where}: expected a string, got {type(value).__name__} {value!r}")
    normalised = normalise_vendor(value)
    reason = unrepresentable_reason(normalised)
    if reason:
        raise RepresentationError(f"{where}: vendor {value!r} cannot be used because {reason}")
    return normalised


# What the agent and the manager's eventchannel decoder do to a string value on its way to the
# rules (docs/wazuh-ruleset.md, "How a value reaches the rules"): Windows renders the event as
# XML, escaping & < > in text; the decoder re-serialises that XML as a JSON string before
# reading it with os_xml (winevtchannel.c, DecodeWinevt: cJSON_PrintUnformatted), which doubles
# every backslash and escapes every double quote, and os_xml decodes no entity.
_EVENTCHANNEL_FORM = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\\": "\\\\", '"': '\\"'})
_ENTITY = re.compile(r"&(?:amp|lt|gt|quot|apos|#[0-9]+|#x[0-9a-fA-F]+);")


def eventchannel_value(value: str) -> str:
    """``value`` as Wazuh rules and CDB lookups see it in an eventchannel event field.

    ``AT&T`` becomes ``AT&amp;T``, ``<`` and ``>`` become ``&lt;`` and ``&gt;``, a backslash is
    doubled and a double quote becomes ``\\"``; everything else (``'``, non-ASCII) is kept.
    The mapping is one-to-one, so distinct strings stay distinct.
    """
    return value.translate(_EVENTCHANNEL_FORM)


def entity_in(value: str) -> str | None:
    """The first XML character reference in ``value`` (a string copied from a Wazuh alert), or None."""
    found = _ENTITY.search(value)
    return found.group() if found else None


def pcre2_literal(value: str) -> str:
    """Escape ``value`` so a non-UTF PCRE2 pattern matches exactly its UTF-8 bytes.

    Only ``[A-Za-z0-9_-]`` stays literal: those are never special outside a character class,
    and the result holds no ``<``, ``&``, quote or whitespace either.
    """
    out = []
    for char in value:
        if char in _REGEX_SAFE:
            out.append(char)
        else:
            out.extend(f"\\x{{{byte:02x}}}" for byte in char.encode("utf-8", "surrogatepass"))
    return "".join(out)


def wazuh_xml_text(value: str, where: str) -> str:
    """Check that ``value`` reads the same to os_xml and to a standard XML parser; return it.

    Raises ValueError when it cannot: ``<`` or ``&`` (os_xml decodes no entities), ``]]>``,
    control characters, an odd run of trailing backslashes (os_xml would take the closing
    tag's ``<`` as escaped) or content longer than os_xml's XML_MAXSIZE.
    """
    if "<" in value or "&" in value or "]]>" in value:
        raise ValueError(f"{where}: {value!r} holds '<', '&' or ']]>', which Wazuh's XML reader cannot carry")
    if any(unicodedata.category(char) in ("Cc", "Cs") for char in value):
        raise ValueError(f"{where}: {value!r} holds a control character")
    trailing = len(value) - len(value.rstrip("\\"))
    if trailing % 2:
        raise ValueError(f"{where}: {value!r} ends with an odd number of backslashes")
    if len(value.encode("utf-8")) >= XML_MAXSIZE:
        raise ValueError(f"{where}: content is longer than Wazuh's XML_MAXSIZE ({XML_MAXSIZE})")
    return value


def xml_attribute(value: str, where: str) -> str:
    """Check a value placed in a double-quoted attribute (bundle-controlled names only)."""
    wazuh_xml_text(value, where)
    if '"' in value:
        raise ValueError(f"{where}: {value!r} holds a double quote")
    return value
