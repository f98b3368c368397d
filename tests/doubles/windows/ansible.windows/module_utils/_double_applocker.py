# -*- coding: utf-8 -*-
# Copyright: contributors to m1038.appcontrol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""TEST DOUBLE of AppLocker's policy store and of Get-/Set-AppLockerPolicy, over the host model (_double_host).

state["applocker"] = {
    "local": XML text of the local policy (None: nothing set; Windows then returns the empty policy),
    "gpo": {LDAP path: XML text} (the GPOs a management host can reach),
    "refuse_marker": text that makes Set-AppLockerPolicy fail when the policy file holds it,
    "under_gpo": LDAP path of the GPO this endpoint applies (its effective policy), or absent,
    "refreshed": the GPO's XML as this endpoint read it at its last gpupdate (set by the model),
    "on_enforce": {collection: [event, ...]}: what users start that the policy would block; when a
                  collection becomes enforced in the host's effective policy, each event is logged
                  as a block (8004 Exe/Dll, 8007 Msi/Script, 8022 Appx) at that moment,
}
state["applocker_events"] = [{"event_id", "time" (ISO 8601 UTC), "policy", "file_path", "user", ...}]:
the host's AppLocker event logs (applocker_events_probe reads them).

The effective policy is the local one, or, for an endpoint under a GPO, the GPO's as of its last
refresh (``gpupdate``): the model does not merge the two as Windows does.

Get-AppLockerPolicy returns the stored policy *re-serialised* the way this project assumes
Windows may write it back (no XML declaration, no whitespace between elements, collections in
alphabetical order, rule Ids upper-case), so a role that compared bytes instead of meaning
would never converge here. That Windows writes it back so is an assumption, not a fact.
"""

from __future__ import annotations

import re
import time
import xml.etree.ElementTree as ET

EMPTY = '<AppLockerPolicy Version="1" />'
_DECLARATION = re.compile(r"^<\?xml[^>]*\?>\s*")
_COLLECTION = re.compile(r'<RuleCollection Type="(\w+)"[^>]*?(?:/>|>.*?</RuleCollection>)', re.DOTALL)
_ID = re.compile(r'Id="([0-9a-fA-F-]{36})"')
_ENFORCED = re.compile(r'<RuleCollection Type="(\w+)" EnforcementMode="Enabled"')
BLOCK_IDS = {"Exe": 8004, "Dll": 8004, "Msi": 8007, "Script": 8007, "Appx": 8022}


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

    def effective(self) -> str:
        gpo = self.store.get("under_gpo")
        if gpo:
            return reserialise(self.store.get("refreshed") or EMPTY)
        return self.get()

    def refresh(self) -> None:
        """gpupdate: the endpoint reads its GPO again (the GPO lives in the same model)."""
        gpo = self.store.get("under_gpo")
        if gpo:
            before = self.effective()
            self.store["refreshed"] = self.store.get("gpo", {}).get(gpo)
            self._blocks(before, self.effective())

    def _blocks(self, before: str, after: str) -> None:
        """Collections newly enforced: what users start that the policy blocks is logged now."""
        newly = set(_ENFORCED.findall(after)) - set(_ENFORCED.findall(before))
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        for collection in sorted(newly):
            for event in self.store.get("on_enforce", {}).get(collection, []):
                logged = {**event, "event_id": BLOCK_IDS[collection], "time": now}
                self.host.state.setdefault("applocker_events", []).append(logged)

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
            before = self.effective()
            self.store["local"] = text
            if not self.store.get("under_gpo"):
                self._blocks(before, self.effective())
