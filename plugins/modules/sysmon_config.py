#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to m1038.appcontrol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: sysmon_config
short_description: Render and validate a Sysmon configuration on the controller and stage it for the role
version_added: 0.1.0
description:
  - Builds the role's own configuration (O(source=builtin)) or reads a user-supplied one (O(source=file),
    SwiftOnSecurity- or sysmon-modular-shaped), validates it, and writes it to O(dest) atomically, only when it
    differs. Nothing invalid is ever written.
  - "The built-in configuration logs every process: ProcessCreate (event ID 1) is one C(onmatch=\"exclude\") block
    holding O(process_create_exclusions). Every other event type of the schema is written out, off (an empty include)
    unless O(events) turns it on."
  - "Validation, for either source: well-formed XML without a DTD; every element, attribute, event field and filter
    condition valid for the configuration's C(schemaversion) (tables built from Sysmon's schema manifests);
    C(onmatch) on every event element; C(<Rule>) only from schema 4.22; C(schemaversion) not above what Sysmon
    O(target_version) loads; and, with O(require_all_processes), ProcessCreate exclude-based. Each error names the
    line, the element and the reason."
  - "Runs on the controller (C(delegate_to: localhost)); see C(docs/sysmon.md)."
author:
  - m1038.appcontrol contributors (@m1038-appcontrol)
attributes:
  check_mode:
    support: full
    description: Renders and validates everything, reports whether O(dest) would change, writes nothing.
  diff_mode:
    support: full
    description: Returns the previous and new text of O(dest), and the rendered text as RV(content).
options:
  dest:
    description:
      - Controller path of the validated configuration. Its directory is created when missing.
    type: path
    required: true
  source:
    description:
      - V(builtin) renders the role's configuration from the options below; V(file) validates O(src) and copies
        it byte for byte.
    type: str
    choices: [builtin, file]
    default: builtin
  src:
    description:
      - The user-supplied configuration (controller path). Required with O(source=file).
    type: path
  target_version:
    description:
      - Sysmon release the configuration must load on (C(15.15)). Its highest schema is the limit for
        C(schemaversion) and the default of O(schema_version). Empty skips that check (with a warning).
    type: str
    default: ""
  schema_version:
    description:
      - C(schemaversion) of the built-in configuration; V(auto) is the highest schema O(target_version) loads.
    type: str
    default: auto
  hash_algorithms:
    description:
      - C(HashAlgorithms) of the built-in configuration (MD5, SHA1, SHA256, IMPHASH or C(*)).
    type: list
    elements: str
    default: [SHA256, IMPHASH]
  check_revocation:
    description:
      - C(CheckRevocation) of the built-in configuration.
    type: bool
    default: true
  dns_lookup:
    description:
      - C(DnsLookup) of the built-in configuration (reverse lookups of network event addresses). Needs schema 4.30.
    type: bool
    default: false
  archive_directory:
    description:
      - C(ArchiveDirectory) of the built-in configuration (where FileDelete events archive files); empty leaves it out.
    type: str
    default: ""
  process_create_exclusions:
    description:
      - "Processes not logged by event ID 1. Each item is a filter C({field, condition, value, name}) (condition
        defaults to C(is)), or a group C({all: [filters], name}) (every filter must match; a C(<Rule
        groupRelation=\"and\">)) or C({any: [filters], name}). Items are alternatives: a process matching any is
        not logged."
    type: list
    elements: dict
    default: []
  events:
    description:
      - "Other event types of the built-in configuration, by element name (C(NetworkConnect), C(DriverLoad), ...):
        C({include: [items], exclude: [items]}) with items as in O(process_create_exclusions). C({exclude: []})
        logs every event of that type; types not named here are off. ProcessCreate is not accepted here."
    type: dict
    default: {}
  require_all_processes:
    description:
      - Fail when ProcessCreate is not exclude-based (allow-list monitoring needs every process). With V(false)
        this is a warning; a user file such as sysmon-modular's include-based balanced configuration then passes.
    type: bool
    default: true
extends_documentation_fragment:
  - ansible.builtin.files
notes:
  - The schema tables come from C(plugins/module_utils/_sysmon_schema_data.py), generated from the manifests that
    C(sysmon -s) prints (C(scripts/gen_sysmon_schema.py)); the release-to-schema table is in C(_sysmon_schema.py)
    with its sources. Rows with weak evidence produce warnings.
seealso:
  - module: m1038.appcontrol.sysmon_plan
  - module: m1038.appcontrol.sysmon_probe
"""

EXAMPLES = r"""
- name: Render the role's configuration for Sysmon 15.15, without the Wazuh agent's own children
  m1038.appcontrol.sysmon_config:
    dest: /srv/m1038/sysmon/ws-01/sysmonconfig.xml
    target_version: "15.15"
    process_create_exclusions:
      - field: ParentImage
        condition: is
        value: C:\Program Files (x86)\ossec-agent\wazuh-agent.exe
        name: wazuh-agent children
    events:
      DriverLoad:
        exclude: []
  delegate_to: localhost

- name: Validate a SwiftOnSecurity-shaped file and stage it
  m1038.appcontrol.sysmon_config:
    source: file
    src: files/sysmonconfig-export.xml
    dest: /srv/m1038/sysmon/ws-01/sysmonconfig.xml
    target_version: "15.15"
  delegate_to: localhost
"""

RETURN = r"""
dest:
  description: Controller path of the configuration.
  returned: always
  type: str
sha256:
  description: SHA256 of the configuration's bytes (lower-case hex).
  returned: always
  type: str
sha1:
  description: SHA1 of the configuration's bytes.
  returned: always
  type: str
md5:
  description: MD5 of the configuration's bytes (compared with a Sysmon C(ConfigHash), not used for security).
  returned: always
  type: str
size:
  description: Size in bytes.
  returned: always
  type: int
schemaversion:
  description: The configuration's C(schemaversion).
  returned: always
  type: str
max_schema:
  description: Highest schema O(target_version) loads (empty without O(target_version)).
  returned: always
  type: str
summary:
  description: C(rules) (filter count), C(process_create) (what event ID 1 logs), C(events) (onmatch blocks per type).
  returned: always
  type: dict
warnings_found:
  description: "Validation warnings, each C(SOURCE:LINE: <ELEMENT>: REASON)."
  returned: always
  type: list
  elements: str
content:
  description: The configuration's text (for the controller-side diff against the host's).
  returned: in diff mode
  type: str
errors:
  description: "Validation errors, each C(SOURCE:LINE: <ELEMENT>: REASON)."
  returned: failure
  type: list
  elements: str
"""

import hashlib
import os
import tempfile

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.m1038.appcontrol.plugins.module_utils._sysmon_config import (
    Builtin,
    ConfigInputError,
    render_builtin,
    validate,
)
from ansible_collections.m1038.appcontrol.plugins.module_utils._sysmon_schema import (
    SchemaError,
    max_schema_for_release,
)

ARGUMENT_SPEC = {
    "dest": {"type": "path", "required": True},
    "source": {"type": "str", "default": "builtin", "choices": ["builtin", "file"]},
    "src": {"type": "path"},
    "target_version": {"type": "str", "default": ""},
    "schema_version": {"type": "str", "default": "auto"},
    "hash_algorithms": {"type": "list", "elements": "str", "default": ["SHA256", "IMPHASH"]},
    "check_revocation": {"type": "bool", "default": True},
    "dns_lookup": {"type": "bool", "default": False},
    "archive_directory": {"type": "str", "default": ""},
    "process_create_exclusions": {"type": "list", "elements": "dict", "default": []},
    "events": {"type": "dict", "default": {}},
    "require_all_processes": {"type": "bool", "default": True},
}
MAX_ERRORS_SHOWN = 20


def decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "utf-16"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def build(params: dict, warnings: list[str]) -> tuple[bytes, str, str, str]:
    """Configuration bytes, the name errors refer to, the max schema and the reason for it."""
    max_schema, reason = "", ""
    if params["target_version"]:
        limit = max_schema_for_release(params["target_version"])
        max_schema, reason = limit.max_schema, f"Sysmon {limit.release} loads"
        if not limit.certain:
            warnings.append(f"highest schema for Sysmon {limit.release} is uncertain: {limit.note}")
    else:
        warnings.append("no target_version: schemaversion is not checked against a Sysmon release")
    if params["source"] == "file":
        with open(params["src"], "rb") as handle:
            return handle.read(), params["src"], max_schema, reason
    schema = params["schema_version"]
    if schema == "auto":
        if not max_schema:
            raise ConfigInputError("schema_version auto needs target_version")
        schema = max_schema
    settings = Builtin(
        schemaversion=schema,
        hash_algorithms=params["hash_algorithms"],
        check_revocation=params["check_revocation"],
        dns_lookup=params["dns_lookup"],
        archive_directory=params["archive_directory"],
        process_create_exclusions=params["process_create_exclusions"],
        events=params["events"],
    )
    text, render_warnings = render_builtin(settings)
    warnings.extend(render_warnings)
    return text.encode("utf-8"), "builtin configuration", max_schema, reason


def read_current(dest: str) -> bytes | None:
    try:
        with open(dest, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def write(module: AnsibleModule, dest: str, data: bytes) -> None:
    directory = os.path.dirname(dest) or "."
    os.makedirs(directory, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=module.tmpdir, prefix=".sysmon_config.")
    with os.fdopen(handle, "wb") as out:
        out.write(data)
    module.atomic_move(tmp, dest, unsafe_writes=module.params["unsafe_writes"])


def main():
    module = AnsibleModule(
        argument_spec=ARGUMENT_SPEC,
        required_if=[("source", "file", ("src",))],
        add_file_common_args=True,
        supports_check_mode=True,
    )
    params = module.params
    dest = params["dest"]
    warnings: list[str] = []
    try:
        data, source, max_schema, reason = build(params, warnings)
    except (ConfigInputError, SchemaError) as exc:
        module.fail_json(msg=f"sysmon_config: {exc}")
    except OSError as exc:
        module.fail_json(msg=f"sysmon_config: cannot read {params['src']}: {exc}")

    result = validate(
        data,
        source=source,
        max_schema=max_schema or None,
        max_schema_reason=reason,
        require_all_processes=params["require_all_processes"],
    )
    found_warnings = result.messages("warnings")
    if not result.ok:
        shown = result.messages("errors", MAX_ERRORS_SHOWN)
        more = len(result.errors) - len(shown)
        module.fail_json(
            msg=f"{source} is not a valid Sysmon configuration: "
            + "; ".join(shown)
            + (f"; and {more} more" if more > 0 else ""),
            errors=result.messages("errors"),
            warnings_found=found_warnings,
        )

    current = read_current(dest)
    changed = current != data
    if changed and not module.check_mode:
        try:
            write(module, dest, data)
        except OSError as exc:
            module.fail_json(msg=f"sysmon_config: writing {dest} failed: {exc}")
    file_args = module.load_file_common_arguments(params, path=dest)
    if not module.check_mode or not changed:
        changed = module.set_fs_attributes_if_different(file_args, changed)

    for warning in warnings:
        module.warn(warning)
    output = {
        "changed": changed,
        "dest": dest,
        "sha256": hashlib.sha256(data).hexdigest(),
        "sha1": hashlib.sha1(data).hexdigest(),  # noqa: S324 - compared with Sysmon's ConfigHash, not security
        "md5": hashlib.md5(data).hexdigest(),  # noqa: S324 - compared with Sysmon's ConfigHash, not security
        "size": len(data),
        "schemaversion": result.schemaversion,
        "max_schema": max_schema,
        "summary": result.summary(),
        "warnings_found": found_warnings,
    }
    if module._diff:
        text = decode(data)
        output["content"] = text
        output["diff"] = {
            "before_header": dest,
            "after_header": dest,
            "before": decode(current) if current is not None else "",
            "after": text,
        }
    module.exit_json(**output)


if __name__ == "__main__":
    main()
