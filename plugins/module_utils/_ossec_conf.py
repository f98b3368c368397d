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


# -- <localfile> entries ---------------------------------------------------------------------
# What the manager's logcollector reads. Only the plain forms below are written: an absolute path
# (Wazuh's XML reader decodes no entities, so nothing that would need one), a file log format, and
# optionally <only-future-events>. Wildcards, commands and eventchannel locations are refused.
LOCALFILE_FORMATS = (
    "json",
    "syslog",
    "snort-full",
    "squid",
    "audit",
    "mysql_log",
    "postgresql_log",
    "nmapg",
    "iis",
    "djb-multilog",
    "apache",
)
_LOCATION_RE = re.compile(r"(?:/[A-Za-z0-9._+@-]+)+")
_MAX_SIZE_RE = re.compile(r"[1-9][0-9]{0,9}[KMG]?")
_OSSEC_CONFIG_CLOSE_RE = re.compile(r"</ossec_config\s*>")


@dataclass(frozen=True)
class LocalFile:
    """One ``<localfile>`` block as wazuh_content writes it (and finds it again to remove it)."""

    location: str
    log_format: str
    only_future_events: bool | None = None
    max_size: str = ""

    @classmethod
    def from_dict(cls, data, where: str) -> LocalFile:
        """Build and check an entry from a parameter or manifest dict; errors name ``where``."""
        if not isinstance(data, dict):
            raise OssecConfError(f"{where}: expected a dict with location and log_format, found {data!r}")
        unknown = sorted(set(data) - {"location", "log_format", "only_future_events", "max_size"})
        if unknown:
            raise OssecConfError(f"{where}: unknown key(s) {', '.join(unknown)}")
        entry = cls(
            location=data.get("location"),
            log_format=data.get("log_format"),
            only_future_events=data.get("only_future_events"),
            max_size=data.get("max_size") or "",
        )
        entry.check(where)
        return entry

    def check(self, where: str) -> None:
        location = self.location
        if not isinstance(location, str) or not _LOCATION_RE.fullmatch(location):
            raise OssecConfError(
                f"{where}: location {location!r} is not an absolute file path of letters, digits and . _ + @ - "
                "(no wildcards, spaces or characters ossec.conf would need escaped)"
            )
        if any(part in (".", "..") for part in location.split("/")):
            raise OssecConfError(f"{where}: location {location!r} holds a '.' or '..' component")
        if self.log_format not in LOCALFILE_FORMATS:
            raise OssecConfError(
                f"{where}: log_format {self.log_format!r} is not one of {', '.join(LOCALFILE_FORMATS)}"
            )
        if self.only_future_events not in (None, True, False):
            raise OssecConfError(f"{where}: only_future_events {self.only_future_events!r} is not true, false or null")
        if self.max_size and (self.only_future_events is None or not _MAX_SIZE_RE.fullmatch(self.max_size)):
            raise OssecConfError(
                f"{where}: max_size {self.max_size!r} must be a size such as '1G' or '500M' "
                "and needs only_future_events"
            )

    def as_dict(self) -> dict:
        data = {"location": self.location, "log_format": self.log_format}
        if self.only_future_events is not None:
            data["only_future_events"] = self.only_future_events
        if self.max_size:
            data["max_size"] = self.max_size
        return data

    def body(self) -> list[str]:
        """The block's lines without indentation: opening tag, children (indented one unit), closing tag."""
        lines = ["<localfile>", f"<log_format>{self.log_format}</log_format>", f"<location>{self.location}</location>"]
        if self.only_future_events is not None:
            attr = f' max-size="{self.max_size}"' if self.max_size else ""
            lines.append(f"<only-future-events{attr}>{'yes' if self.only_future_events else 'no'}</only-future-events>")
        lines.append("</localfile>")
        return lines

    def render(self, indent: str, unit: str) -> str:
        body = self.body()
        inner = [indent + unit + line for line in body[1:-1]]
        return "".join(line + "\n" for line in [indent + body[0], *inner, indent + body[-1]])

    def pattern(self) -> re.Pattern:
        """Our block as whole lines, whatever their indentation and line ends."""
        lines = [r"[ \t]*" + re.escape(line) + r"[ \t]*\r?\n" for line in self.body()]
        return re.compile(r"(?m)^" + "".join(lines))


def read_localfiles(text: str, source: str = "ossec.conf") -> list[dict]:
    """Every ``<localfile>`` outside comments: its location and log_format (others are ignored)."""
    root = parse_wrapped(text, source)
    found = []
    for block in root.iter("localfile"):
        found.append({"location": _text(block.find("location")), "log_format": _text(block.find("log_format"))})
    return found


def edit_localfiles(
    text: str,
    add: list[LocalFile],
    remove: list[LocalFile] = (),
    source: str = "ossec.conf",
) -> tuple[str, list[str], list[str]]:
    """Add the ``add`` blocks and remove the ``remove`` blocks (ours, as written) from ossec.conf text.

    A block already present exactly as we write it is left alone. An entry in both lists is kept.
    A block is removed only where it stands as whole lines outside comments, exactly as ``LocalFile``
    writes it. New blocks go just before the first ``</ossec_config>``, indented like that block.
    A ``<localfile>`` of someone else for one of our locations is refused (naming it), never
    overwritten or doubled. Returns ``(new_text, added_locations, removed_locations)``; the new text
    is checked to still parse.
    """
    keep = set(add)
    new_text = text
    removed: list[str] = []
    for entry in dict.fromkeys(e for e in remove if e not in keep):
        match = entry.pattern().search(mask_comments(new_text))
        if match is not None:
            new_text = new_text[: match.start()] + new_text[match.end() :]
            removed.append(entry.location)
    added: list[str] = []
    for entry in dict.fromkeys(add):
        if entry.pattern().search(mask_comments(new_text)):
            continue
        others = [lf for lf in read_localfiles(new_text, source) if lf["location"] == entry.location]
        if others:
            raise OssecConfError(
                f"{source}: a <localfile> for {entry.location} (log_format {others[0]['log_format'] or 'none'}) is "
                "already there and was not written by wazuh_content; remove it, or choose another location"
            )
        masked = mask_comments(new_text)
        close = _OSSEC_CONFIG_CLOSE_RE.search(masked)
        if close is None:
            raise OssecConfError(f"{source}: no <ossec_config> block to add a <localfile> to")
        line_start = new_text.rfind("\n", 0, close.start()) + 1
        prefix = new_text[line_start : close.start()]
        outer = prefix if prefix.strip() == "" else ""
        unit = "\t" if "\t" in outer else "  "
        block = entry.render(outer + unit, unit)
        if prefix.strip() == "":
            new_text = new_text[:line_start] + block + new_text[line_start:]
        else:
            new_text = new_text[: close.start()] + "\n" + block + outer + new_text[close.start() :]
        added.append(entry.location)
    if added or removed:
        read_localfiles(new_text, source + " (after edit)")
    return new_text, added, removed
