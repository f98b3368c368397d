"""Hypothesis strategies for AppLocker models and policies, shared by the property tests."""

from __future__ import annotations

from pathlib import Path

from hypothesis import assume
from hypothesis import strategies as st

from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_core import COLLECTIONS, AppLockerError
from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_model import parse_model

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "applocker"
# Stored as UTF-8 with LF (ansible-test sanity rejects UTF-16 and CRLF files in a collection);
# the tests read them as AaronLocker stores its policies: UTF-16 LE with a BOM and CRLF.
UTF16_POLICIES = ("aaronlocker-shaped-base.xml", "sync-initial-install.xml")
POLICY_NAMES = ("aaronlocker-shaped-base.xml", "deny-old-tool.xml", "sync-initial-install.xml")


def policy_bytes(name: str) -> bytes:
    """A fixture policy as the public original stores it (see tests/unit/fixtures/applocker/README.md)."""
    text = (FIXTURES / "policies" / name).read_text(encoding="utf-8")
    if name in UTF16_POLICIES:
        return b"\xff\xfe" + text.replace("\n", "\r\n").encode("utf-16-le")
    return text.encode("utf-8")


# Characters that XML, the escaping and AppLocker values have to survive.
_NAME_CHARS = st.sampled_from(list("abcXYZ019 -_.,()&<>\"'©®éß\u4e2d/\\:;=#%*"))
names = st.text(_NAME_CHARS, min_size=1, max_size=30).filter(lambda s: s.strip() != "")
descriptions = st.lists(st.one_of(_NAME_CHARS, st.sampled_from(["\t", "\n", "\r\n"])), max_size=40).map("".join)
_segment = st.text(st.sampled_from(list("abcXYZ019 -_.()&'©")), min_size=1, max_size=12).filter(
    lambda s: s.strip() not in ("", ".", "..")
)
_prefix = st.sampled_from(
    ["%WINDIR%", "%SYSTEM32%", "%OSDRIVE%", "%PROGRAMFILES%", "%REMOVABLE%", "%HOT%", "C:", "D:", "*"]
)
paths = st.builds(
    lambda prefix, segments, tail: "\\".join([prefix, *segments]) + tail,
    _prefix,
    st.lists(_segment, max_size=3),
    st.sampled_from(["\\*", "", "\\*.exe", ":*", "*"]),
)
subjects = st.one_of(
    st.sampled_from(
        [
            "O=MICROSOFT CORPORATION, L=REDMOND, S=WASHINGTON, C=US",
            "O=GOOGLE LLC, L=MOUNTAIN VIEW, S=CALIFORNIA, C=US",
            'O="ZOOM VIDEO COMMUNICATIONS, INC.", L=SAN JOSE, S=CALIFORNIA, C=US',
            "*",
        ]
    ),
    st.builds(lambda name: f"O={name.strip()}, C=US", names),
)
sections = st.integers(0, 65535)
_version_tuple = st.tuples(sections, sections, sections, sections)


@st.composite
def versions(draw):
    if draw(st.booleans()):
        return "*"
    low, high = sorted([draw(_version_tuple), draw(_version_tuple)])
    low_text = "*" if draw(st.booleans()) else ".".join(map(str, low))
    high_text = "*" if draw(st.booleans()) else ".".join(map(str, high))
    return {"low": low_text, "high": high_text}


hashes = st.builds(
    lambda kind, digits, name, length: {
        "type": kind,
        "data": "0x" + digits[: 40 if kind == "SHA1" else 64],
        **({"file": name} if name else {}),
        **({"length": length} if length is not None else {}),
    },
    st.sampled_from(["SHA256", "SHA256Flat", "SHA1"]),
    st.text(st.sampled_from(list("0123456789abcdefABCDEF")), min_size=64, max_size=64),
    st.one_of(st.none(), names),
    st.one_of(st.none(), st.integers(0, 2**40)),
)
sids = st.one_of(
    st.sampled_from(["S-1-1-0", "S-1-5-11", "S-1-5-32-544", "S-1-5-32-545"]),
    st.builds(
        lambda a, b, rid: f"S-1-5-21-{a}-{b}-{rid}",
        st.integers(1, 2**32 - 1),
        st.integers(1, 2**32 - 1),
        st.integers(500, 99999),
    ),
)


def _publisher(draw):
    return {
        "publisher": draw(subjects),
        "product": draw(st.one_of(st.just("*"), names)),
        "binary": draw(st.one_of(st.just("*"), names)),
        "version": draw(versions()),
    }


@st.composite
def conditions(draw, publisher_only=False):
    kind = "publisher" if publisher_only else draw(st.sampled_from(["publisher", "path", "hash"]))
    if kind == "publisher":
        return _publisher(draw)
    if kind == "path":
        return {"path": draw(paths)}
    return {"hash": draw(st.lists(hashes, min_size=1, max_size=3))}


@st.composite
def rules(draw, collection):
    appx = collection == "Appx"
    rule = {"name": draw(names), **draw(conditions(publisher_only=appx))}
    if draw(st.booleans()):
        rule["description"] = draw(descriptions)
    if draw(st.booleans()):
        rule["action"] = draw(st.sampled_from(["allow", "deny", "Allow", "DENY"]))
    if draw(st.booleans()):
        rule["sid"] = draw(sids)
    if "hash" not in rule and draw(st.booleans()):
        rule["exceptions"] = draw(st.lists(conditions(publisher_only=appx), max_size=3))
    return rule


@st.composite
def models(draw, max_rules=5):
    chosen = draw(st.lists(st.sampled_from(COLLECTIONS), unique=True))
    model = {}
    for name in chosen:
        entry = {}
        if draw(st.booleans()):
            entry["mode"] = draw(st.sampled_from(["audit", "enforce", "not_configured"]))
        if draw(st.booleans()):
            entry["default_rules"] = draw(st.booleans())
        entry["rules"] = draw(st.lists(rules(name), max_size=max_rules))
        model[name] = entry
    return model


@st.composite
def policies(draw, max_rules=5):
    """A valid Policy from a random model (models with two identical rules are discarded)."""
    model = draw(models(max_rules=max_rules))
    try:
        return parse_model(model)
    except AppLockerError as exc:
        assume("is the same rule as" not in str(exc))
        raise
