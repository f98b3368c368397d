"""The software_inventory role, both routes, in one ansible-playbook run: check mode, apply, rerun.

* Windows route, live path: the probe runs on the host (the Windows TEST DOUBLE's
  ``software_inventory_probe``, tests/doubles/windows/README.md, returning a recorded probe), then
  ``software_inventory_facts`` on the controller gets the probe as its argument.
* Manager route: the Wazuh API TEST DOUBLE (tests/doubles/wazuh-api) over real HTTP on loopback,
  paged with a small page size, with credentials passed as the role's (no_log) variables.

Then ``m1038.appcontrol.wazuh_ruleset`` renders from both outputs exactly as they are. Proven: the
role's wiring (argument spec, variables, delegation, registered results), check mode writes nothing,
apply writes, a rerun changes nothing, one probe per host and run, one login per run, the password
never in the output. Not proven: anything about Windows or the real Wazuh API (their unit tests and
the molecule ``windows`` scenario say what is).
"""

from __future__ import annotations

import json
import subprocess

import pytest

from .helpers import PROJECT_ROOT, ansible_env
from .windows_double import collection_copy

pytestmark = pytest.mark.slow

PROBE = PROJECT_ROOT / "inventories" / "lab" / "files" / "windows" / "m1038-lab-win01" / "software_inventory_probe.json"
PASSWORD = "s3cret-Never-Printed-7c1d"  # noqa: S105 - the API test double's credential
PHASES = ("check", "apply", "rerun")
ROUTES = {"win-double": "Windows route", "localhost": "manager route"}


def load_api_double():
    import importlib.util  # noqa: PLC0415
    import sys  # noqa: PLC0415

    path = PROJECT_ROOT / "tests" / "doubles" / "wazuh-api" / "wazuh_api_double.py"
    if "wazuh_api_double" not in sys.modules:
        spec = importlib.util.spec_from_file_location("wazuh_api_double", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules["wazuh_api_double"] = module
        spec.loader.exec_module(module)
    return sys.modules["wazuh_api_double"]


def playbook() -> list[dict]:
    """Per phase one play on both hosts: the inventory gives each host its route."""
    plays = [
        {
            "name": f"{phase}: both routes",
            "hosts": "win-double,localhost",
            "gather_facts": False,
            "check_mode": phase == "check",
            "roles": [{"role": "m1038.appcontrol.software_inventory"}],
        }
        for phase in PHASES
    ]
    plays.append(
        {
            "name": "render: both outputs",
            "hosts": "localhost",
            "gather_facts": False,
            "tasks": [
                {
                    "name": f"Render from the {name}",
                    "m1038.appcontrol.wazuh_ruleset": {
                        "inventory_file": "{{ software_inventory_" + variable + " }}",
                        "dest": "{{ render_dir }}/" + name,
                        "on_invalid_vendor": "fail",
                    },
                }
                for name, variable in (("fact cache", "fact_cache_dir"), ("saved responses", "syscollector_dir"))
            ],
        }
    )
    return plays


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    base = tmp_path_factory.mktemp("software-inventory")
    double = load_api_double()
    state = double.DoubleState(double.Fleet.generated(12, 20), users={"m1038-inventory": PASSWORD})
    server, url = double.start(state)
    out = {"facts": base / "facts", "responses": base / "syscollector", "calls": base / "probe-calls.jsonl"}
    (base / "hosts.yml").write_text(
        json.dumps(
            {
                "all": {
                    "hosts": {
                        "win-double": {"ansible_connection": "local"},
                        "localhost": {
                            "ansible_connection": "local",
                            "software_inventory_windows_enabled": False,
                            "software_inventory_manager_enabled": True,
                        },
                    },
                    "vars": {
                        "ansible_python_interpreter": "{{ ansible_playbook_python }}",
                        "ansible_remote_tmp": str(base / "remote-tmp"),
                    },
                }
            }
        )
    )
    (base / "vars.json").write_text(
        json.dumps(
            {
                "software_inventory_fact_cache_dir": str(out["facts"]),
                "software_inventory_syscollector_dir": str(out["responses"]),
                "software_inventory_api_url": url,
                "software_inventory_api_user": "m1038-inventory",
                "software_inventory_api_password": PASSWORD,
                "software_inventory_api_page_size": 7,
                "software_inventory_api_concurrency": 3,
                "software_inventory_api_requests_per_minute": 0,
                "render_dir": str(base / "render"),
            }
        )
    )
    (base / "play.yml").write_text(json.dumps(playbook()))
    try:
        proc = subprocess.run(
            ["ansible-playbook", "-i", str(base / "hosts.yml"), "-e", f"@{base / 'vars.json'}", str(base / "play.yml")],
            cwd=PROJECT_ROOT,
            env=ansible_env(
                ANSIBLE_COLLECTIONS_PATH=str(collection_copy(base, fakes=("software_inventory_probe",))),
                ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
                ANSIBLE_PIPELINING="1",
                M1038_WINDOWS_DOUBLE_SOFTWARE_PROBE=str(PROBE),
                M1038_WINDOWS_DOUBLE_SOFTWARE_CALLS=str(out["calls"]),
            ),
            capture_output=True,
            text=True,
            check=False,
        )
    finally:
        server.shutdown()
        server.server_close()
    assert proc.returncode == 0, proc.stdout[-8000:] + proc.stderr[-4000:]
    report = json.loads(proc.stdout)
    tasks = {}  # (phase, route) -> {task name without the role prefix: that route's host's result}
    for play in report["plays"]:
        phase = play["play"]["name"].split(":")[0]
        for task in play["tasks"]:
            for host, result in task["hosts"].items():
                route = ROUTES.get(host, host)
                if not result.get("skipped"):
                    tasks.setdefault((phase, route), {})[task["task"]["name"].split(" : ", 1)[-1]] = result
    return {"tasks": tasks, "stdout": proc.stdout, "state": state, "out": out}


def changed(run, phase, route):
    return sorted(name for name, result in run["tasks"][phase, route].items() if result.get("changed"))


FACTS_TASK = "Build m1038_software and the host's fact cache file (controller)"
SAVE_TASK = "Save every agent's packages (Wazuh API syscollector, or recorded responses)"


def test_check_mode_reports_the_change_apply_makes_it_and_a_rerun_changes_nothing(run):
    assert changed(run, "check", "Windows route") == [FACTS_TASK]
    assert changed(run, "check", "manager route") == [SAVE_TASK]
    assert changed(run, "apply", "Windows route") == [FACTS_TASK]
    assert changed(run, "apply", "manager route") == [SAVE_TASK]
    assert changed(run, "rerun", "Windows route") == []
    assert changed(run, "rerun", "manager route") == []


def test_check_mode_wrote_what_apply_wrote_and_nothing_before(run):
    check = run["tasks"]["check", "manager route"][SAVE_TASK]
    apply = run["tasks"]["apply", "manager route"][SAVE_TASK]
    assert check["written_count"] == apply["written_count"] == 12
    assert run["tasks"]["rerun", "manager route"][SAVE_TASK]["unchanged"] == 12
    facts = run["tasks"]["check", "Windows route"][FACTS_TASK]
    assert facts["ansible_facts"] == run["tasks"]["apply", "Windows route"][FACTS_TASK]["ansible_facts"]


def test_one_probe_per_host_and_run_one_login_per_run(run):
    calls = [json.loads(line) for line in run["out"]["calls"].read_text().splitlines()]
    assert [c["check_mode"] for c in calls] == [True, False, False]
    assert all(c["include_user_hives"] is True for c in calls)
    assert run["state"].count("logins") == 3
    assert run["state"].count("429") == 0


def test_the_fact_and_its_cache_file_hold_the_same_records(run):
    software = run["tasks"]["apply", "Windows route"][FACTS_TASK]["ansible_facts"]["m1038_software"]
    cached = json.loads((run["out"]["facts"] / "win-double").read_text())["m1038_software"]
    assert cached == software
    assert {r["scope"] for r in software} == {"machine", "machine_wow64", "user"}
    assert all(set(r) == {"name", "publisher", "version", "install_date", "scope"} for r in software)


def test_paging_brought_every_package(run):
    saved = run["tasks"]["apply", "manager route"][SAVE_TASK]
    double = load_api_double()
    fleet = double.Fleet.generated(12, 20)
    every = [item for i in range(1, 13) for item in fleet.packages(f"{i:03d}")]
    assert saved["packages"] == sum(1 for item in every if item["format"] == "win") < len(every)
    assert run["state"].count("packages_pages") > 2 * 12  # a page of 7 needs several requests per agent


def test_the_password_never_reaches_the_output(run):
    assert PASSWORD not in run["stdout"]
    args = run["tasks"]["apply", "manager route"][SAVE_TASK]["invocation"]["module_args"]
    assert args["api_password"] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"  # noqa: S105


@pytest.mark.parametrize(
    ("output", "inventory_format", "hosts"), [("fact cache", "fact_cache", 1), ("saved responses", "syscollector", 12)]
)
def test_the_renderer_reads_each_output_unchanged(run, output, inventory_format, hosts):
    result = run["tasks"]["render", "manager route"][f"Render from the {output}"]
    assert result["summary"]["inventory_format"] == inventory_format
    assert result["summary"]["counts"]["hosts"] == hosts
    assert result["summary"]["counts"]["records_skipped"] == 0
    assert result["summary"]["counts"]["records"] > 0
