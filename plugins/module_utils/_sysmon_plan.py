# -*- coding: utf-8 -*-
# Copyright: contributors to m1038.appcontrol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Sysmon planner: probe result + desired state -> plan. Pure; the module and the tests call ``make_plan``.

The probe (``sysmon_probe`` on the host) reports what is installed and loaded; the rendered
configuration (``sysmon_config`` on the controller) reports its hashes. The plan's actions, in
the order the role applies them:

- ``uninstall``: state absent and Sysmon installed (``sysmon -u``);
- ``install``: not installed (``sysmon -accepteula -i CONFIG`` from the verified package);
- ``upgrade`` / ``downgrade``: another release is installed; the old binary is kept, uninstalled,
  the requested one installed with the config, and the old one reinstalled if that fails;
- ``configure``: the loaded configuration is not the rendered one (push, keep the previous file,
  ``sysmon -c``, restore the previous one if Sysmon refuses);
- ``eventlog``: the Sysmon/Operational channel's maximum size differs;
- ``service``: the service is not running or not automatic.

An install, upgrade or downgrade loads the configuration itself, so it never comes with ``configure``.

Loaded or not is judged from the driver's ``ConfigHash`` registry value (``ALGO=HEX``, which Sysmon
computes over the configuration file it loaded) against the same algorithm over the rendered
bytes. That Sysmon hashes the file's bytes is an assumption from its documentation ("the hash of
the file"), checked on a real host by the molecule ``windows`` scenario's idempotence step. When
the value is missing or unreadable the planner falls back to the file Sysmon names in
``ConfigFile`` and says so in a warning.
"""

from __future__ import annotations

import ntpath
from dataclasses import dataclass, field

from ansible_collections.m1038.appcontrol.plugins.module_utils._sysmon_schema import (
    BINARIES,
    SchemaError,
    compare_schema,
    max_schema_for_release,
    parse_release,
    release_text,
)
from ansible_collections.m1038.appcontrol.plugins.module_utils._winedge import (
    Plan,
    PlanError,
    check_probe,
    normalize_arch,
    parse_hash_list,
    same_path,
    text_diff,
)

CONCERN = "sysmon"
PROBE_VERSION = 1
OPT_STR = (str, None)
PROBE_SHAPE = {
    "host": {"architecture": str, "computer_name": str, "os_version": str},
    "installed": bool,
    "service": {"name": OPT_STR, "state": OPT_STR, "start_mode": OPT_STR, "path": OPT_STR},
    "binary": {"path": OPT_STR, "exists": bool, "file_version": OPT_STR, "version": OPT_STR},
    "driver": {"name": str, "installed": bool},
    "config": {
        "file": OPT_STR,
        "file_exists": bool,
        "file_sha256": OPT_STR,
        "hash": OPT_STR,
        "hashing_algorithm": (int, None),
        "?text": OPT_STR,
    },
    "managed_config": {"path": OPT_STR, "exists": bool, "sha256": OPT_STR},
    "eventlog": {"channel": str, "exists": bool, "max_size": (int, None)},
}
INSTALLING = ("install", "upgrade", "downgrade")
BINARY_ACTIONS = ("uninstall", *INSTALLING, "configure")
RUNNING = "running"
AUTO = "auto"
DEFAULT_REMOTE_DIR = "C:\\ProgramData\\m1038-appcontrol\\sysmon"
EULA = "-accepteula"


@dataclass
class RenderedConfig:
    """What ``sysmon_config`` returned: the controller path of the file and its hashes (lower-case hex)."""

    path: str
    schemaversion: str
    sha256: str
    sha1: str = ""
    md5: str = ""
    content: str | None = None

    def digests(self) -> dict[str, str]:
        return {k: v for k, v in (("SHA256", self.sha256), ("SHA1", self.sha1), ("MD5", self.md5)) if v}


@dataclass(frozen=True)
class HostPaths:
    """Where the role keeps its files on the host, all under one folder."""

    root: str

    @property
    def config(self) -> str:
        return ntpath.join(self.root, "sysmonconfig.xml")

    @property
    def backup_config(self) -> str:
        return ntpath.join(self.root, "backup", "sysmonconfig.previous.xml")

    def previous_binary(self, installed: str) -> str:
        # Same file name as installed: Sysmon names its service after its executable.
        return ntpath.join(self.root, "backup", "previous", ntpath.basename(installed))

    def package(self, package_id: str, binary_name: str) -> dict | None:
        if not package_id:
            return None
        folder = ntpath.join(self.root, "package", package_id)
        return {"zip": folder + ".zip", "dir": folder, "binary": ntpath.join(folder, binary_name)}


def host_paths(root: str) -> HostPaths:
    drive, rest = ntpath.splitdrive(root or "")
    if not drive or not rest.startswith(("\\", "/")) or ".." in rest.replace("/", "\\").split("\\"):
        raise PlanError(f"sysmon_remote_dir {root!r} is not an absolute Windows path (C:\\...) without '..'")
    return HostPaths(ntpath.normpath(root))


@dataclass
class Desired:
    state: str = "present"
    version: str = ""
    allow_downgrade: bool = False
    manage_install: bool = True
    manage_config: bool = True
    manage_eventlog: bool = True
    manage_service: bool = True
    eventlog_max_size: int = 0
    config: RenderedConfig | None = None
    binaries: dict = field(default_factory=lambda: dict(BINARIES))
    remote_dir: str = DEFAULT_REMOTE_DIR
    package_id: str = ""  # names the staged package (the role: Sysmon-<first 16 of its SHA256>)
    strict_version: bool = False  # verify: the installed release must be the requested one


def _installed_release(probe: dict, plan: Plan) -> str | None:
    version = probe["binary"]["version"] or probe["binary"]["file_version"]
    if not version:
        return None
    try:
        return release_text(version)
    except SchemaError:
        plan.warn(f"the installed Sysmon reports version {version!r}, which is not MAJOR.MINOR; release unknown")
        return None


def _keep(src: str | None, dest: str) -> dict | None:
    """A copy of a file to keep before it is replaced (none when there is no file or it already is the copy)."""
    if not src or same_path(src, dest):
        return None
    return {"src": src, "dest": dest}


def _install_steps(probe: dict, desired: Desired, paths: HostPaths, binary_name: str) -> dict:
    package = paths.package(desired.package_id, binary_name)
    config = desired.config
    argv = None
    if package:
        argv = [package["binary"], EULA, "-i", *([paths.config] if config else [])]
    return {
        "version": desired.version,
        "package": package,
        "push": {"src": config.path, "dest": paths.config} if config else None,
        "argv": argv,
    }


def _plan_install(probe: dict, desired: Desired, plan: Plan, installed: str | None, paths: HostPaths) -> None:
    binary_name = plan.facts["binary_name"]
    if not probe["installed"]:
        steps = _install_steps(probe, desired, paths, binary_name)
        plan.add("install", f"Sysmon is not installed; install {desired.version}", **steps)
        return
    if installed is None:
        plan.warn("the installed Sysmon's version is unknown; it is left as it is")
        return
    wanted, have = parse_release(desired.version), parse_release(installed)
    if have == wanted:
        return
    if have > wanted and not desired.allow_downgrade:
        plan.warn(f"Sysmon {installed} is newer than sysmon_version {desired.version}; left as it is (no downgrade)")
        return
    current = _installed_binary(probe)
    loaded = probe["config"]["file"] if probe["config"]["file_exists"] else None
    previous = paths.previous_binary(current)
    replace = {
        **_install_steps(probe, desired, paths, binary_name),
        "from": installed,
        "to": desired.version,
        "keep": [k for k in (_keep(current, previous), _keep(loaded, paths.backup_config)) if k],
        "uninstall_argv": [current, EULA, "-u", "force"],
        "rollback_argv": [previous, EULA, "-i", *([paths.backup_config] if loaded else [])],
    }
    if have < wanted:
        plan.add("upgrade", f"upgrade Sysmon {installed} to {desired.version} (sysmon_version)", **replace)
    else:
        plan.add("downgrade", f"downgrade Sysmon {installed} to {desired.version} (downgrades allowed)", **replace)


def _installed_binary(probe: dict) -> str:
    binary = probe["binary"]
    if not binary["path"] or not binary["exists"]:
        raise PlanError(
            f"service {probe['service']['name']} names binary {binary['path']!r}, which does not exist: "
            "repair or uninstall Sysmon on this host"
        )
    return binary["path"]


def _check_schema(desired: Desired, plan: Plan, release: str | None) -> None:
    config = desired.config
    if config is None or release is None:
        return
    limit = max_schema_for_release(release)
    plan.facts["max_schema"] = limit.max_schema
    if compare_schema(config.schemaversion, limit.max_schema) > 0:
        raise PlanError(
            f"the configuration's schemaversion {config.schemaversion} is above {limit.max_schema}, the highest "
            f"Sysmon {release} loads ({limit.note}); lower sysmon_config_schema_version or raise sysmon_version"
        )
    if not limit.certain:
        plan.warn(f"highest schema for Sysmon {release} is uncertain: {limit.note}")


def loaded_state(probe: dict, config: RenderedConfig, plan: Plan, managed_path: str) -> tuple[bool, str]:
    """Whether Sysmon has the rendered configuration loaded, and how that was judged."""
    current = probe["config"]
    loaded = parse_hash_list(current["hash"])
    for algo, digest in config.digests().items():
        if algo in loaded:
            if loaded[algo] == digest:
                return True, f"loaded {algo} matches the rendered configuration"
            return False, f"loaded configuration {algo}={loaded[algo][:12]}... is not the rendered {digest[:12]}..."
    if current["hash"]:
        plan.warn(f"ConfigHash {current['hash']!r} holds no MD5/SHA1/SHA256 digest; judged by the file on disk")
    elif probe["installed"]:
        plan.warn("the driver reports no ConfigHash; judged by the file Sysmon names in ConfigFile")
    if (
        current["file_exists"]
        and same_path(current["file"], managed_path)
        and (current["file_sha256"] or "").lower() == config.sha256
    ):
        return True, "the file Sysmon loaded from holds the rendered configuration"
    return False, "the loaded configuration cannot be shown to be the rendered one"


def _plan_config(probe: dict, desired: Desired, plan: Plan, paths: HostPaths) -> None:
    config = desired.config
    if config is None:
        return
    matches, how = loaded_state(probe, config, plan, paths.config)
    plan.facts["config_loaded"] = matches
    if matches:
        return
    binary = _installed_binary(probe)
    loaded = probe["config"]["file"] if probe["config"]["file_exists"] else None
    keep = _keep(loaded, paths.backup_config)
    plan.add(
        "configure",
        how,
        keep=keep,
        push={"src": config.path, "dest": paths.config},
        argv=[binary, EULA, "-c", paths.config],
        restore_argv=[binary, EULA, "-c", paths.backup_config] if loaded else None,
    )


def _plan_eventlog(probe: dict, desired: Desired, plan: Plan) -> None:
    log = probe["eventlog"]
    if log["exists"] and log["max_size"] == desired.eventlog_max_size:
        return
    have = f"{log['max_size']} bytes" if log["exists"] else "not registered yet (Sysmon registers it at install)"
    plan.add(
        "eventlog",
        f"{log['channel']} maximum size is {have}; wanted {desired.eventlog_max_size} bytes",
        argv=["wevtutil.exe", "set-log", log["channel"], f"/ms:{desired.eventlog_max_size}"],
    )


def _plan_service(probe: dict, plan: Plan) -> None:
    service = probe["service"]
    state, mode = (service["state"] or "").lower(), (service["start_mode"] or "").lower()
    if state == RUNNING and mode == AUTO:
        return
    plan.add(
        "service",
        f"service {service['name']} is {state or 'in an unknown state'}, start mode {mode or 'unknown'}; "
        "wanted running and automatic",
        name=service["name"],
    )


def _facts(probe: dict, desired: Desired, arch: str, installed: str | None) -> dict:
    binary_name = desired.binaries.get(arch)
    if not binary_name:
        raise PlanError(f"no Sysmon binary is named for architecture {arch} (sysmon_binaries)")
    return {
        "architecture": arch,
        "binary_name": binary_name,
        "service_name": probe["service"]["name"] or binary_name.rsplit(".", 1)[0],
        "installed": probe["installed"],
        "installed_version": installed,
        "installed_binary": probe["binary"]["path"],
        "target_version": desired.version,
        "loaded_config_file": probe["config"]["file"],
        "config_schemaversion": desired.config.schemaversion if desired.config else None,
    }


def make_plan(probe: object, desired: Desired, *, host: str = "", recorded: bool = False) -> Plan:
    """The plan for one host. Raises ProbeError for a malformed probe, PlanError when nothing sane can be planned."""
    check_probe(probe, concern=CONCERN, version=PROBE_VERSION, shape=PROBE_SHAPE, host=host)
    plan = Plan(CONCERN, host, recorded)
    arch = normalize_arch(probe["host"]["architecture"])
    installed = _installed_release(probe, plan) if probe["installed"] else None
    plan.facts = _facts(probe, desired, arch, installed)
    paths = host_paths(desired.remote_dir)
    if desired.state == "absent":
        if probe["installed"] and desired.manage_install:
            binary = _installed_binary(probe)
            argv = [binary, EULA, "-u", "force"]
            plan.add("uninstall", "state is absent and Sysmon is installed", argv=argv, remove=paths.root)
        return plan
    try:
        parse_release(desired.version)
    except SchemaError as exc:
        raise PlanError(f"sysmon_version: {exc}") from None
    if desired.manage_install:
        _plan_install(probe, desired, plan, installed, paths)
    installing = any(plan.has(a) for a in INSTALLING)
    if not probe["installed"] and not installing:
        plan.warn("Sysmon is not installed and installing is switched off: nothing else can be planned")
        return plan
    running = desired.version if installing else installed
    _check_schema(desired, plan, running)
    off_version = installed is None or parse_release(installed) != parse_release(desired.version)
    if desired.strict_version and desired.manage_install and probe["installed"] and off_version:
        raise PlanError(f"Sysmon {installed or '(unknown version)'} is installed, {desired.version} was requested")
    if desired.manage_config and not installing:
        _plan_config(probe, desired, plan, paths)
    if desired.manage_eventlog:
        _plan_eventlog(probe, desired, plan)
    if desired.manage_service and not installing:
        _plan_service(probe, plan)
    return plan


def shows_config_diff(plan: Plan) -> bool:
    """The configuration the host runs changes: a configure, or an install that loads it."""
    return any(plan.has(a) for a in ("configure", *INSTALLING))


def needs(plan: Plan) -> dict:
    """What the role must check before it applies: the EULA for any binary run, the package for an install."""
    return {
        "eula": any(plan.has(a) for a in BINARY_ACTIONS),
        "package": any(plan.has(a) for a in INSTALLING),
    }


def config_diff(probe: dict, config: RenderedConfig, host: str) -> dict | None:
    """The host's loaded configuration (as far as the probe could read it) against the rendered one."""
    if config.content is None:
        return None
    current = probe["config"]
    before = current.get("text")
    label = f"{host}:{current['file']}" if current["file"] else f"{host}:(no ConfigFile)"
    if not probe["installed"]:
        before, label = "", f"{host}:(Sysmon not installed)"
    elif before is None:
        why = "not on disk" if current["file"] and not current["file_exists"] else "not read by the probe"
        before, label = "", f"{label} ({why})"
    elif parse_hash_list(current["hash"]).get("SHA256") not in (None, (current["file_sha256"] or "").lower()):
        label += " (on disk; differs from what Sysmon loaded)"
    else:
        label += " (loaded)"
    return text_diff(before, config.content, label, f"{config.path} (rendered)")
