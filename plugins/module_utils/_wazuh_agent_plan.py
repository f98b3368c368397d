# Copyright: m1038.appcontrol contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Wazuh agent planner: probe result + desired state -> plan. Pure; the module and the tests call ``make_plan``.

The probe (``wazuh_agent_probe`` on the host) reports what is installed, enrolled and configured; the
edited ``ossec.conf`` (``wazuh_agent_config`` on the controller) reports what it would change. The
plan's actions, in the order the role applies them:

- ``install`` / ``upgrade`` / ``downgrade``: the MSI, SHA256-verified, through ``win_package``; an
  upgrade or downgrade keeps ``ossec.conf`` and ``client.keys`` first; a downgrade uninstalls the newer
  product (MSI upgrades refuse to go back) and puts the kept ``client.keys`` back. Never a downgrade
  unless ``allow_downgrade``. After any of them the role probes and plans again (``after_install``),
  because the MSI writes ``ossec.conf``;
- ``configure``: the edited ``ossec.conf`` differs (manager, enrollment values, the managed block). It goes
  first: its swap refuses a file that changed since the probe, and then nothing has changed yet;
- ``enroll``: ``client.keys`` holds no entry, or the agent points at another manager (its key was issued
  there: kept, then emptied). The agent enrolls itself when it starts (Wazuh's "enrollment via agent
  configuration"), reading the password from ``authd.pass``, which the role writes locked down;
- ``password_file``: an enrolled agent's ``authd.pass`` is open to others: rewritten locked down;
- ``restart``: any of the above happened (the agent reads its configuration and keys only at start);
- ``service``: nothing restarts the agent, but it is stopped or not automatic;
- ``blocked``: ``ossec.conf`` cannot be edited safely (the agent's reader refuses it, several managers,
  broken markers): reported, never written; the role fails such a host before it changes anything.
"""

from __future__ import annotations

import ntpath
from dataclasses import dataclass, field

from ansible_collections.m1038.appcontrol.plugins.module_utils._wazuh_agent_conf import AgentConfError
from ansible_collections.m1038.appcontrol.plugins.module_utils._wazuh_agent_conf import parse as parse_agent_conf
from ansible_collections.m1038.appcontrol.plugins.module_utils._wazuh_agent_ossec import AgentOssecError, read_conf
from ansible_collections.m1038.appcontrol.plugins.module_utils._wazuh_agent_ossec_edit import Desired as EditDesired
from ansible_collections.m1038.appcontrol.plugins.module_utils._wazuh_agent_ossec_edit import (
    EditResult,
    edit,
    validate_desired,
)
from ansible_collections.m1038.appcontrol.plugins.module_utils._wazuh_agent_probe import (
    CONCERN,
    PROBE_SHAPE,
    PROBE_VERSION,
    connection,
    decode_file,
    parse_version,
    version_text,
)
from ansible_collections.m1038.appcontrol.plugins.module_utils._winedge import (
    Plan,
    PlanError,
    check_probe,
    normalize_arch,
    same_path,
)

INSTALLING = ("install", "upgrade", "downgrade")
RESTARTING = (*INSTALLING, "configure", "enroll")
DEFAULT_REMOTE_DIR = "C:\\ProgramData\\m1038-appcontrol\\wazuh_agent"
COLLECTIONS = ("agent_group", "ossec_conf")


@dataclass
class Rendered:
    """What ``wazuh_agent_config`` returned for this host's ossec.conf."""

    path: str = ""  # controller path of the edited file ("" when nothing was written)
    host_sha256: str | None = None  # SHA256 of the probed file it was made from
    sha256: str | None = None  # SHA256 of the edited file
    changes: list = field(default_factory=list)
    warnings: list = field(default_factory=list)
    error: str | None = None  # the file cannot be edited: the plan is blocked


@dataclass
class Desired:
    version: str = ""
    allow_downgrade: bool = False
    manage_install: bool = True
    manage_enrollment: bool = True
    manage_config: bool = True
    manage_service: bool = True
    manager_address: str = ""
    agent_name: str = ""
    groups: str = ""
    password: bool = False  # a registration password is set (its value never reaches the planner)
    collection: str = "agent_group"
    channels: list = field(default_factory=list)  # the wanted channels, for the agent-group check
    rendered: Rendered | None = None
    remote_dir: str = DEFAULT_REMOTE_DIR
    package_id: str = ""  # names the staged MSI (the role: wazuh-agent-<first 16 of its SHA256>)
    after_install: bool = False  # second plan of a run, right after the MSI ran
    # After the MSI ran: the manager the first plan found in ossec.conf, i.e. the one the agent's key was issued
    # by. A downgrade reinstalls the product, whose fresh ossec.conf no longer says it.
    enrolled_manager: str | None = None
    verify: bool = False  # after the apply: nothing may be left, and the agent must be connected


@dataclass(frozen=True)
class HostPaths:
    root: str

    def package(self, package_id: str) -> dict | None:
        if not package_id:
            return None
        folder = ntpath.join(self.root, "package")
        return {
            "dir": folder,
            "msi": ntpath.join(folder, package_id + ".msi"),
            "log": ntpath.join(folder, package_id + ".log"),
        }

    def backup(self, name: str) -> str:
        return ntpath.join(self.root, "backup", name)

    @property
    def staged_conf(self) -> str:
        return ntpath.join(self.root, "staging", "ossec.conf")


def edit_probed(probe: dict, wanted: EditDesired) -> tuple[EditResult | None, str | None]:
    """The probed ossec.conf edited: (result, None), (None, why it cannot be), or (None, None) before an install.

    A setting that cannot be written raises PlanError (the settings are wrong, not the host's file).
    """
    try:
        validate_desired(wanted)
    except AgentOssecError as exc:
        raise PlanError(str(exc)) from None
    report = probe["ossec_conf"]
    if not probe["installed"] or not report["exists"]:
        return None, None
    text = decode_file(report, "ossec_conf")
    if text is None:
        return (
            None,
            f"{report['path']} ({report['size']} bytes) is larger than the probe reads; the role leaves it alone",
        )
    try:
        return edit(text, wanted, report["path"]), None
    except AgentOssecError as exc:
        return None, str(exc)


def host_paths(root: str) -> HostPaths:
    drive, rest = ntpath.splitdrive(root or "")
    if not drive or not rest.startswith(("\\", "/")) or ".." in rest.replace("/", "\\").split("\\"):
        raise PlanError(f"wazuh_agent_remote_dir {root!r} is not an absolute Windows path (C:\\...) without '..'")
    return HostPaths(ntpath.normpath(root))


def _installed_version(probe: dict, plan: Plan) -> tuple | None:
    if not probe["installed"]:
        return None
    version = parse_version(probe["product"]["version"])
    if version is None:
        plan.warn(
            f"the installed agent reports version {probe['product']['version']!r}; release unknown, left as it is"
        )
    return version


def _plan_install(probe: dict, desired: Desired, plan: Plan, have: tuple | None, paths: HostPaths) -> None:
    wanted = parse_version(desired.version)
    steps = {"version": desired.version, "package": paths.package(desired.package_id)}
    if not probe["installed"]:
        plan.add("install", f"the Wazuh agent is not installed; install {desired.version}", **steps)
        return
    if have is None or have == wanted:
        return
    installed = version_text(have)
    if have > wanted and not desired.allow_downgrade:
        plan.warn(
            f"Wazuh agent {installed} is newer than wazuh_agent_version {desired.version}; left as it is "
            "(set wazuh_agent_allow_downgrade to go back)"
        )
        return
    keep = [
        {"src": probe[item]["path"], "dest": paths.backup(ntpath.basename(probe[item]["path"]) + ".previous")}
        for item in ("ossec_conf", "client_keys")
        if probe[item]["exists"]
    ]
    steps.update({"from": installed, "to": desired.version, "keep": keep})
    if have < wanted:
        plan.add("upgrade", f"upgrade the Wazuh agent {installed} to {desired.version} (wazuh_agent_version)", **steps)
        return
    if not probe["product"]["product_code"]:
        raise PlanError(f"cannot downgrade the Wazuh agent {installed}: the probe found no product code to uninstall")
    keys = next((k for k in keep if same_path(k["src"], probe["client_keys"]["path"])), None)
    plan.add(
        "downgrade",
        f"downgrade the Wazuh agent {installed} to {desired.version} (wazuh_agent_allow_downgrade): the newer "
        "release is uninstalled first",
        uninstall_product_code=probe["product"]["product_code"],
        restore=[{"src": keys["dest"], "dest": keys["src"]}] if keys else [],
        **steps,
    )
    plan.warn(
        "a downgrade uninstalls the agent: ossec.conf settings outside the role's values are not carried over "
        f"(the previous file is kept in {paths.backup('')})"
    )


def _read_conf(probe: dict) -> tuple:
    """(Conf or None, error message or None) for the probed ossec.conf."""
    report = probe["ossec_conf"]
    if not report["exists"]:
        return None, f"{report['path']} does not exist although the agent is installed"
    text = decode_file(report, "ossec_conf")
    if text is None:
        return (
            None,
            f"{report['path']} ({report['size']} bytes) is larger than the probe reads; the role leaves it alone",
        )
    try:
        return read_conf(text, report["path"]), None
    except AgentOssecError as exc:
        return None, str(exc)


def _block(plan: Plan, problem: str) -> None:
    plan.add("blocked", f"{problem}. Nothing is written to this host until it is fixed by hand", problem=problem)


def _current_manager(conf) -> str | None:
    servers = conf.server_values() if conf is not None else []
    return servers[0]["address"] if len(servers) == 1 else None


def _plan_enrollment(probe: dict, desired: Desired, plan: Plan, current: str | None, paths: HostPaths) -> None:
    link = plan.facts["connection"]
    if desired.after_install and desired.enrolled_manager:
        current = desired.enrolled_manager
    password = ntpath.join(probe["install_dir"], "authd.pass") if desired.password else None
    keys = probe["client_keys"]
    elsewhere = current is None or current.casefold() != desired.manager_address.casefold()
    if not link["registered"]:
        reason = f"{keys['path']} holds no agent key: the agent enrolls with {desired.manager_address} when it starts"
        plan.add("enroll", reason, kind="not_registered", password_file=password, clear_keys=None)
    elif elsewhere:
        plan.add(
            "enroll",
            f"the agent (ID {link['agent_id']}) is enrolled with {current or 'no manager in ossec.conf'}, not "
            f"{desired.manager_address}: its key is kept and emptied, the agent enrolls again when it starts",
            kind="other_manager",
            password_file=password,
            clear_keys={"path": keys["path"], "backup": paths.backup("client.keys.previous")},
        )
    elif desired.agent_name and link["agent_name"] != desired.agent_name:
        plan.warn(
            f"the agent is enrolled as {link['agent_name']!r}, not {desired.agent_name!r}; it is not enrolled again "
            "(that would make a second agent on the manager): rename it on the manager if needed"
        )
    if plan.has("enroll") and not desired.password:
        plan.warn(
            "no wazuh_agent_registration_password: the agent enrolls without one (only a manager without "
            "<use_password> accepts that)"
        )
    report = probe["password_file"]
    if report["exists"] and (report["other_access"] or report["protected"] is False):
        loose = ", ".join(report["other_access"]) or "inherited permissions"
        if desired.password and not plan.has("enroll"):
            plan.add(
                "password_file",
                f"{report['path']} is open to {loose}: rewritten for SYSTEM and Administrators only",
                path=report["path"],
            )
        elif not desired.password:
            plan.warn(
                f"{report['path']} is open to {loose}; set wazuh_agent_registration_password to rewrite it locked down"
            )


def _plan_config(probe: dict, desired: Desired, plan: Plan, paths: HostPaths) -> None:
    rendered = desired.rendered
    if rendered is None:
        return
    for warning in rendered.warnings:
        plan.warn(warning)
    if not probe["installed"]:
        if plan.has("install"):
            plan.add(
                "configure", "ossec.conf is edited after the install, from the file the MSI writes", after_install=True
            )
        return
    if rendered.host_sha256 != probe["ossec_conf"]["sha256"]:
        raise PlanError("the edited ossec.conf was made from another file than the probe read (pass this run's probe)")
    if not rendered.changes:
        return
    plan.add(
        "configure",
        "ossec.conf: " + "; ".join(rendered.changes),
        push={"src": rendered.path, "dest": paths.staged_conf},
        staging_dir=ntpath.dirname(paths.staged_conf),
        path=probe["ossec_conf"]["path"],
        expected_sha256=probe["ossec_conf"]["sha256"],
        backup=paths.backup("ossec.conf.previous"),
        changes=list(rendered.changes),
    )


def _check_agent_group(probe: dict, desired: Desired, plan: Plan) -> None:
    """Central collection: has the agent received its group's agent.conf, and does it collect our channels?"""
    if desired.collection != "agent_group" or not desired.channels or plan.has("enroll") or not probe["installed"]:
        return
    report = probe["shared_conf"]
    text = decode_file(report, "shared_conf") if report["exists"] else None
    group = desired.groups or "its group"
    if text is None:
        plan.warn(
            f"the agent has no {report['path']} yet: it has not received the agent.conf of {group} from the manager"
        )
        return
    try:
        have = {entry["location"].casefold() for entry in parse_agent_conf(text)}
    except AgentConfError as exc:
        plan.warn(f"{report['path']}: {exc}")
        return
    missing = [c["location"] for c in desired.channels if c["location"].casefold() not in have]
    plan.facts["shared_conf_missing"] = missing
    if missing:
        plan.warn(
            f"the agent group's agent.conf on this agent does not collect {', '.join(missing)}: check that the agent "
            f"is in {group} and that wazuh_manager renders that group's agent.conf"
        )


def _plan_restart(probe: dict, desired: Desired, plan: Plan) -> None:
    reasons = [a.id for a in plan.actions if a.id in RESTARTING]
    if desired.after_install:
        reasons.insert(0, "new release")
    if not reasons:
        if desired.manage_service:
            _plan_service(probe, plan)
        return
    if not desired.manage_service:
        plan.warn(f"the agent needs a restart ({', '.join(reasons)}) but wazuh_agent_service_enabled is false")
        return
    name = probe["service"]["name"]
    plan.add("restart", f"restart {name} ({', '.join(reasons)}) and make it automatic", name=name, reasons=reasons)


def _plan_service(probe: dict, plan: Plan) -> None:
    service = probe["service"]
    state, mode = (service["state"] or "").lower(), (service["start_mode"] or "").lower()
    if state == "running" and mode == "auto":
        return
    plan.add(
        "service",
        f"service {service['name']} is {state or 'in an unknown state'}, start mode {mode or 'unknown'}; wanted "
        "running and automatic",
        name=service["name"],
    )


def _facts(probe: dict, desired: Desired, have: tuple | None, conf, conf_error: str | None) -> dict:
    return {
        "architecture": normalize_arch(probe["host"]["architecture"]),
        "installed": probe["installed"],
        "installed_version": version_text(have) if have else None,
        "target_version": desired.version,
        "install_dir": probe["install_dir"],
        "service_name": probe["service"]["name"],
        "current_manager": _current_manager(conf),
        "wanted_manager": desired.manager_address,
        "collection": desired.collection,
        "connection": connection(probe),
        "managed_channels": list(conf.block_channels) if conf is not None else [],
        "ossec_conf_error": conf_error,
    }


def make_plan(probe: object, desired: Desired, *, host: str = "", recorded: bool = False) -> Plan:
    """The plan for one host. Raises ProbeError for a malformed probe, PlanError when nothing sane can be planned."""
    check_probe(probe, concern=CONCERN, version=PROBE_VERSION, shape=PROBE_SHAPE, host=host)
    if parse_version(desired.version) is None:
        raise PlanError(f"wazuh_agent_version {desired.version!r} is not a release such as 4.14.7")
    if desired.collection not in COLLECTIONS:
        raise PlanError(f"wazuh_agent_collection {desired.collection!r} is not one of {', '.join(COLLECTIONS)}")
    plan = Plan(CONCERN, host, recorded)
    paths = host_paths(desired.remote_dir)
    have = _installed_version(probe, plan)
    conf, conf_error = _read_conf(probe) if probe["installed"] else (None, None)
    if conf_error is None and desired.rendered is not None and desired.rendered.error and probe["installed"]:
        conf_error = desired.rendered.error
    plan.facts = _facts(probe, desired, have, conf, conf_error)
    if conf_error is not None:
        _block(plan, conf_error)
        if desired.verify:
            plan.require_compliant()
        return plan
    if desired.manage_install:
        _plan_install(probe, desired, plan, have, paths)
        again = [action for action in plan.actions if action.id in INSTALLING]
        if desired.after_install and again:
            raise PlanError(
                f"the MSI ran, but the agent on {host or 'the host'} still needs {again[0].id}: {again[0].reason} "
                f"(the product in the uninstall registry is {probe['product']['name']!r} "
                f"{probe['product']['version']!r}; check the MSI log in {paths.root}\\package)"
            )
    if not probe["installed"] and not plan.has("install"):
        plan.warn("the Wazuh agent is not installed and installing is switched off: nothing else can be planned")
        return plan
    if desired.manage_config:
        _plan_config(probe, desired, plan, paths)
    if desired.manage_enrollment:
        _plan_enrollment(probe, desired, plan, _current_manager(conf), paths)
    _check_agent_group(probe, desired, plan)
    _plan_restart(probe, desired, plan)
    if desired.verify:
        verify(probe, desired, plan, have)
    elif probe["installed"] and not plan.actions and plan.facts["connection"]["status"] != "connected":
        link = plan.facts["connection"]
        plan.warn(f"the agent is not connected to its manager (status {link['status']}, last ack {link['last_ack']})")
    return plan


def verify(probe: dict, desired: Desired, plan: Plan, have: tuple | None) -> None:
    """After the apply: nothing left to do, the requested release, and an enrolled, connected agent."""
    plan.require_compliant()
    if desired.manage_install and have != parse_version(desired.version):
        raise PlanError(f"Wazuh agent {plan.facts['installed_version']} is installed, {desired.version} was requested")
    link = plan.facts["connection"]
    if not (link["registered"] and link["status"] == "connected"):
        log = "; ".join(probe["log"][-5:]) or "none"
        raise PlanError(
            f"the agent on {plan.host or 'the host'} did not enroll and connect to {desired.manager_address} within "
            f"{probe['waited_seconds']} s: client.keys has {len(probe['client_keys']['entries'])} entries, state "
            f"{link['status'] or 'unknown'}, last ack {link['last_ack'] or 'never'}. Last errors in ossec.log: {log}"
        )


def needs(plan: Plan) -> dict:
    """What the role must check before it applies: the package for an install, and whether the plan is blocked."""
    blocked = [a.details["problem"] for a in plan.actions if a.id == "blocked"]
    return {"package": any(plan.has(a) for a in INSTALLING), "blocked": blocked[0] if blocked else None}
