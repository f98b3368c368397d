# Copyright: m1038.appcontrol contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read and surgically edit a Wazuh ``ossec.conf`` (private helper, stdlib only).

``ossec.conf`` is not one XML document: it holds one or more ``<ossec_config>`` blocks,
comments between them, and hand edits. This module therefore never re-serialises the
file. Reading parses a wrapped copy; editing works on the original text by offsets, so
every byte outside the lines it inserts or removes stays as the user wrote it.

Also used verbatim by the wazuh-manager test double (tests/doubles/wazuh-manager), which
is why it imports nothing outside the standard library.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

WRAP_OPEN = "<m1038-wrap>"
WRAP_CLOSE = "</m1038-wrap>"
LIST_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")
LIST_PATH_PREFIX = "etc/lists/"
_COMMENT_RE = re.compile(r"<!--.*?-->", re.DOTALL)
_DECL_RE = re.compile(r"^\s*<\?xml[^>]*\?>")
_RULESET_RE = re.compile(r"<ruleset(\s[^>]*)?>(?P<body>.*?)</ruleset\s*>", re.DOTALL)
_LIST_LINE_RE = re.compile(r"[ \t]*<list>\s*(?P<path>[^<]*?)\s*</list>[ \t]*\r?\n?")


class OssecConfError(ValueError):
    """The configuration text cannot be read or edited safely."""


# Wazuh's XML reader (os_xml) works on bytes and decodes nothing, so a manager runs happily on an
# ossec.conf holding Latin-1 bytes in a comment. Bytes that are not UTF-8 are kept as lone surrogates
# (surrogateescape): offsets stay one character per byte there, and encode_conf() gives the same bytes back.
_ESCAPED_BYTE_RE = re.compile("[\udc80-\udcff]")


def decode_conf(data: bytes) -> str:
    """Text of ossec.conf bytes; bytes that are not UTF-8 survive a decode/encode round trip unchanged."""
    return data.decode("utf-8", "surrogateescape")


def encode_conf(text: str) -> bytes:
    """Bytes of text from decode_conf(), byte for byte."""
    return text.encode("utf-8", "surrogateescape")


@dataclass
class RulesetConfig:
    """What the ``<ruleset>`` sections of ossec.conf declare (paths relative to the Wazuh home)."""

    rule_dirs: list[str] = field(default_factory=list)
    rule_excludes: list[str] = field(default_factory=list)
    rule_includes: list[str] = field(default_factory=list)
    decoder_dirs: list[str] = field(default_factory=list)
    decoder_excludes: list[str] = field(default_factory=list)
    lists: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "rule_dirs": list(self.rule_dirs),
            "rule_excludes": list(self.rule_excludes),
            "rule_includes": list(self.rule_includes),
            "decoder_dirs": list(self.decoder_dirs),
            "decoder_excludes": list(self.decoder_excludes),
            "lists": list(self.lists),
        }


@dataclass
class ClusterConfig:
    """The ``<cluster>`` section; a node writes content when clustering is off or it is the master."""

    disabled: bool = True
    node_type: str = "master"
    node_name: str = ""

    @property
    def is_writer(self) -> bool:
        return self.disabled or self.node_type == "master"

    def as_dict(self) -> dict:
        return {
            "disabled": self.disabled,
            "node_type": self.node_type,
            "node_name": self.node_name,
            "is_writer": self.is_writer,
        }


def mask_comments(text: str) -> str:
    """Blank out XML comments, keeping every other character at its offset."""
    return _COMMENT_RE.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), text)


def parse_wrapped(text: str, source: str) -> ET.Element:
    """Parse a multi-root XML file (ossec.conf, rule files) under a synthetic root.

    The wrapper is put on the first line so parser line numbers match the file's.
    Raises OssecConfError naming ``source``, the line and the parser's message.
    """
    body = _DECL_RE.sub(lambda m: " " * len(m.group(0)), text, count=1)
    # A byte kept by decode_conf() parses as U+FFFD: one character for one, so positions still match.
    body = _ESCAPED_BYTE_RE.sub("\ufffd", body)
    try:
        return ET.fromstring(WRAP_OPEN + body + WRAP_CLOSE)  # noqa: S314 - see import note
    except ET.ParseError as exc:
        line, column = exc.position
        if line == 1:
            column = max(column - len(WRAP_OPEN), 0)
        reason = str(exc).split(":", maxsplit=1)[0]
        raise OssecConfError(f"{source}: not well-formed XML at line {line}, column {column + 1}: {reason}") from exc


def _text(elem: ET.Element | None) -> str:
    return (elem.text or "").strip() if elem is not None else ""


def read_ruleset(text: str, source: str = "ossec.conf") -> RulesetConfig:
    """Collect every ``<ruleset>`` entry from all ``<ossec_config>`` blocks, in file order."""
    root = parse_wrapped(text, source)
    conf = RulesetConfig()
    targets = {
        "rule_dir": conf.rule_dirs,
        "rule_exclude": conf.rule_excludes,
        "rule_include": conf.rule_includes,
        "decoder_dir": conf.decoder_dirs,
        "decoder_exclude": conf.decoder_excludes,
        "list": conf.lists,
    }
    for ruleset in root.iter("ruleset"):
        for child in ruleset:
            bucket = targets.get(child.tag)
            value = _text(child)
            if bucket is not None and value:
                bucket.append(value.rstrip("/"))
    return conf


def read_cluster(text: str, source: str = "ossec.conf") -> ClusterConfig:
    """Read the cluster role; a missing ``<cluster>`` section means a standalone manager."""
    root = parse_wrapped(text, source)
    conf = ClusterConfig()
    for cluster in root.iter("cluster"):
        disabled = _text(cluster.find("disabled")).lower()
        conf.disabled = disabled in ("yes", "true", "1") if disabled else False
        node_type = _text(cluster.find("node_type")).lower()
        if node_type:
            if node_type not in ("master", "worker"):
                raise OssecConfError(f"{source}: <cluster><node_type> is {node_type!r}; expected master or worker")
            conf.node_type = node_type
        conf.node_name = _text(cluster.find("node_name"))
    return conf


def list_path(name: str) -> str:
    """Return the ossec.conf path of a CDB list, refusing names that are not plain file names."""
    if not isinstance(name, str) or not LIST_NAME_RE.fullmatch(name):
        raise OssecConfError(
            f"CDB list name {name!r} is not a plain file name (letters, digits, '.', '_', '-'; must not start with '.')"
        )
    return LIST_PATH_PREFIX + name


def _first_ruleset(text: str, source: str) -> re.Match:
    match = _RULESET_RE.search(mask_comments(text))
    if match is None:
        raise OssecConfError(f"{source}: no <ruleset> section to register CDB lists in")
    return match


def _closing_indent(text: str, close_start: int) -> tuple[str, str]:
    """Indentation of the ``</ruleset>`` line and the one its entries should use."""
    line_start = text.rfind("\n", 0, close_start) + 1
    prefix = text[line_start:close_start]
    outer = prefix if prefix.strip() == "" else ""
    unit = "  " if "\t" not in outer else "\t"
    return outer, outer + unit


def edit_lists(
    text: str,
    add: list[str],
    remove: list[str] = (),
    source: str = "ossec.conf",
) -> tuple[str, list[str], list[str]]:
    """Register ``add`` and unregister ``remove`` (list names, not paths) in ossec.conf text.

    A list already registered anywhere (any ``<ruleset>`` block) is left alone. New entries go
    just before the first ``</ruleset>``, indented like the entries around them. A name in
    both ``add`` and ``remove`` is kept. Only whole ``<list>`` lines that are not inside a
    comment are removed. Returns ``(new_text, added_paths, removed_paths)``; the new text
    is checked to still parse before it is returned.
    """
    add_paths = [list_path(n) for n in add]
    keep = set(add_paths)
    remove_paths = {list_path(n) for n in remove} - keep
    registered = set(read_ruleset(text, source).lists)

    masked = mask_comments(text)
    spans = [(m.start("body"), m.end("body")) for m in _RULESET_RE.finditer(masked)]
    removed: list[str] = []
    pieces: list[str] = []
    cursor = 0
    for match in _LIST_LINE_RE.finditer(masked):
        path = match.group("path").rstrip("/")
        line_start = masked.rfind("\n", 0, match.start()) + 1
        inside = any(start <= match.start() and match.end() <= end + 1 for start, end in spans)
        if path in remove_paths and inside and masked[line_start : match.start()].strip() == "":
            pieces.append(text[cursor : match.start()])
            cursor = match.end()
            removed.append(path)
    pieces.append(text[cursor:])
    new_text = "".join(pieces)

    added: list[str] = []
    missing = [p for p in dict.fromkeys(add_paths) if p not in registered]
    if missing:
        ruleset = _first_ruleset(new_text, source)
        close_start = ruleset.start() + ruleset.group(0).rfind("</ruleset")
        outer, inner = _closing_indent(new_text, close_start)
        line_start = new_text.rfind("\n", 0, close_start) + 1
        insert_at = line_start if new_text[line_start:close_start].strip() == "" else close_start
        block = "".join(f"{inner}<list>{p}</list>\n" for p in missing)
        if insert_at == close_start:
            block = "\n" + block + outer
        new_text = new_text[:insert_at] + block + new_text[insert_at:]
        added = missing
    if added or removed:
        read_ruleset(new_text, source + " (after edit)")
    return new_text, added, sorted(set(removed))
