# Copyright: m1038.appcontrol contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller-side preflight checks: WinRM transport policy and collection versions.

Pure functions, so the decisions are unit tested; the preflight role only gathers
the inputs and fails on the findings.
"""

from __future__ import annotations

import re

SECURE_TRANSPORTS = ("kerberos", "ntlm", "credssp", "certificate")
_VERSION_RE = re.compile(r"^(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:[-+.].*)?$")
_SPEC_RE = re.compile(r"^\s*(>=|<=|==|!=|>|<|=)?\s*([0-9][0-9A-Za-z.+-]*)\s*$")


def winrm_findings(settings_by_host):
    """Return the WinRM settings that break the bundle's transport policy.

    ``settings_by_host`` maps a host name to a dict with the keys ``connection``,
    ``scheme``, ``port``, ``transport``, ``cert_validation`` and
    ``message_encryption`` (the ``ansible_winrm_*`` values, already defaulted).
    Hosts that do not connect over WinRM are skipped. Each finding names the
    host, the inventory variable, its value and what is wrong with it.
    """
    findings = []
    for host in sorted(settings_by_host):
        s = settings_by_host[host]
        if s.get("connection") != "winrm":
            continue

        def add(var, value, problem, host=host):
            findings.append({"host": host, "variable": var, "value": value, "problem": problem})

        scheme = str(s.get("scheme", "")).lower()
        if scheme != "https":
            add("ansible_winrm_scheme", s.get("scheme"), "WinRM must use HTTPS")
        validation = str(s.get("cert_validation", "")).lower()
        if validation != "validate":
            add(
                "ansible_winrm_server_cert_validation",
                s.get("cert_validation"),
                "certificate validation must be 'validate'",
            )
        transport = str(s.get("transport", "")).lower()
        if transport not in SECURE_TRANSPORTS:
            add(
                "ansible_winrm_transport",
                s.get("transport"),
                "transport must be one of " + ", ".join(SECURE_TRANSPORTS),
            )
        if str(s.get("message_encryption", "auto")).lower() == "never":
            add(
                "ansible_winrm_message_encryption",
                s.get("message_encryption"),
                "message encryption must not be 'never'",
            )
        try:
            port = int(s.get("port"))
        except (TypeError, ValueError):
            add("ansible_port", s.get("port"), "port is not a number")
        else:
            if port == 5985:
                add("ansible_port", port, "5985 is the plain-HTTP WinRM listener; use the HTTPS listener (5986)")
    return findings


def parse_version(text):
    """Parse ``1.2.3`` (missing parts are 0, suffixes ignored) into a tuple."""
    match = _VERSION_RE.match(str(text).strip())
    if not match:
        raise ValueError(f"not a version: {text!r}")
    return tuple(int(part or 0) for part in match.groups())


def version_satisfies(version, spec):
    """True when ``version`` meets every comma-separated clause of ``spec`` ('*' = any)."""
    spec = str(spec or "*").strip()
    if spec in ("*", ""):
        return True
    have = parse_version(version)
    for clause in spec.split(","):
        match = _SPEC_RE.match(clause)
        if not match:
            raise ValueError(f"not a version requirement: {clause!r} (in {spec!r})")
        op, wanted = match.group(1) or "==", parse_version(match.group(2))
        ok = {
            ">=": have >= wanted,
            "<=": have <= wanted,
            ">": have > wanted,
            "<": have < wanted,
            "==": have == wanted,
            "=": have == wanted,
            "!=": have != wanted,
        }[op]
        if not ok:
            return False
    return True


def collection_findings(requirements, installed):
    """Compare requirements.yml's collections with what ``ansible-galaxy collection list`` found.

    ``requirements`` is the parsed requirements.yml (a dict with ``collections``);
    ``installed`` is the parsed ``ansible-galaxy collection list --format json``
    output (path -> {name: {"version": ...}}). The first path that has a collection
    wins, as it does for Ansible's loader.
    """
    found = {}
    for path in installed or {}:
        for name, info in (installed[path] or {}).items():
            found.setdefault(name, (str((info or {}).get("version", "*")), path))
    findings = []
    for entry in (requirements or {}).get("collections", []) or []:
        name = entry if isinstance(entry, str) else entry.get("name")
        spec = "*" if isinstance(entry, str) else entry.get("version", "*")
        if name not in found:
            findings.append({"collection": name, "required": spec, "found": None, "problem": "not installed"})
            continue
        version, path = found[name]
        if not version_satisfies(version, spec):
            findings.append(
                {
                    "collection": name,
                    "required": spec,
                    "found": version,
                    "path": path,
                    "problem": "installed version does not satisfy requirements.yml",
                }
            )
    return findings
