# -*- coding: utf-8 -*-
# Copyright: contributors to m1038.appcontrol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""TEST DOUBLE of AppLocker's policy store and of Get-/Set-AppLockerPolicy, over the host model (_double_host).

state["applocker"] = {
    "local": XML text of the local policy (None: nothing set; Windows then returns the empty policy),
    "gpo": {LDAP path: XML text} (the GPOs a management host can reach),
    "refuse_marker": text that makes Set-AppLockerPolicy fail when the policy file holds it,
}

Get-AppLockerPolicy returns the stored policy *re-serialised* the way this project assumes
Windows may write it back (no XML declaration, no whitespace between elements, collections in
alphabetical order, rule Ids upper-case), so a role that compared bytes instead of meaning
would never converge here. That Windows writes it back so is an assumption, not a fact.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

EMPTY = '<AppLockerPolicy Version="1" />'
_DECLARATION = re.compile(r"^<\?xml[^>]*\?>\s*")
_COLLECTION = re.compile(r'<RuleCollection Type="(\w+)"[^>]*?(?:/>|>.*?</RuleCollection>)', re.DOTALL)
_ID = re.compile(r'Id="([0-9a-fA-F-]{36})"')


def reserialise(xml: str) -> str:
    text = _DECLARATION.sub("", xml.lstrip("\ufeff").strip())
    text = re.sub(r">\s+<", "><", text)
    collections = sorted(_COLLECTION.finditer(text), key=lambda match: match.group(1))
    if collections:
        text = '<AppLockerPolicy Version="1">' + "".join(m.group(0) for m in collections) + "</AppLockerPolicy>"
    return _ID.sub(lambda m: f'Id="{m.group(1).upper()}"', text)


def decode(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    return data.decode("utf-8-sig")


class AppLocker:
    def __init__(self, host):
        self.host = host
        self.store = host.state.setdefault("applocker", {"local": None, "gpo": {}})

    def _gpo(self, ldap: str) -> None:
        if ldap not in self.store.get("gpo", {}):
            raise OSError("The specified domain either does not exist or could not be contacted.")

    def get(self, ldap: str = "") -> str:
        if ldap:
            self._gpo(ldap)
            return reserialise(self.store["gpo"][ldap] or EMPTY)
        return reserialise(self.store.get("local") or EMPTY)

    def export(self, path: str, ldap: str = "") -> None:
        """The role's keep script: Get-AppLockerPolicy -Xml written as UTF-16 LE with a byte order mark."""
        self.host.write(path, b"\xff\xfe" + self.get(ldap).encode("utf-16-le"))

    def set(self, policy_file: str, ldap: str = "") -> None:
        """Set-AppLockerPolicy -XmlPolicy FILE [-Ldap LDAP], without -Merge: the whole policy is replaced."""
        data = self.host.read(policy_file)
        if data is None:
            raise OSError(f"Could not find file '{policy_file}'.")
        text = decode(data)
        marker = self.store.get("refuse_marker")
        if marker and marker in text:
            raise ValueError(f"The XML policy is not valid: {policy_file} holds the double's refuse_marker")
        try:
            root = ET.fromstring(_DECLARATION.sub("", text.strip()))  # noqa: S314 - the double's own test data
        except ET.ParseError as exc:
            raise ValueError(f"The XML policy is not valid: {exc}") from None
        if root.tag != "AppLockerPolicy":
            raise ValueError(f"The XML policy is not valid: the root element is {root.tag}")
        if ldap:
            self._gpo(ldap)
            self.store["gpo"][ldap] = text
        else:
            self.store["local"] = text
