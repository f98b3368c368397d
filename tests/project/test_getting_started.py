"""docs/getting-started.md, walked in page order on a fresh copy of the project.

Every line of every ``sh`` block of the page is one of these, or the test fails (the page may
not gain a command nothing checks):

* ``cp -r SRC DEST``: run.
* ``ansible-vault create FILE``: run as written, in a pseudo-terminal (ansible-vault opens an
  editor only when stdout is a tty), with the vault password from ``ANSIBLE_VAULT_PASSWORD_FILE``
  and an ``EDITOR`` that writes the page's ``yaml`` block for FILE. FILE must then be encrypted
  and decrypt to that block.
* ``ansible-playbook``: every file it names must exist in the copy, every ``--limit`` name must be
  a group or host of its inventory, and only options this test knows may appear. Playbooks that
  run on the controller only (``REAL_RUN``) are run for real, ``--ask-vault-pass`` replaced by a
  password file: preflight must pass on the example inventory's WinRM settings, and render must
  write ``summary.json``. The software inventory render reads is the lab's recorded fleet, put
  where the page tells users to put theirs: this proves the commands, paths and vault wiring of
  the page, not anyone's fleet. Playbooks that contact hosts get ``--syntax-check`` (one process).
* ``ansible PATTERN -m MODULE``: PATTERN must name groups or hosts of the inventory and MODULE
  must be installed; it contacts hosts, so it is not run.
* ``bash FILE`` and ``source FILE``: FILE must exist and pass ``bash -n``.

Every key of every ``yaml`` block must be a role variable (``meta/argument_specs.yml``) or a
variable that the project's ``group_vars/``, ``playbooks/`` or example inventory use.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from .helpers import PROJECT_ROOT, ansible_env
from .test_readme_routes import fresh_copy

PAGE = PROJECT_ROOT / "docs" / "getting-started.md"
REAL_RUN = {"playbooks/preflight.yml", "playbooks/render.yml"}
PLAYBOOK_FLAGS = {"--check", "--diff", "--ask-vault-pass"}
PLAYBOOK_OPTIONS = {"-i", "--limit"}
VAULT_PASSWORD = "test-only vault password\n"  # noqa: S105 - a throw-away password for the copy


def blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL)


def commands(text: str) -> list[list[str]]:
    out = []
    for block in blocks(text, "sh"):
        for raw in block.replace("\\\n", " ").splitlines():
            line = raw.strip()
            if line and not line.startswith("#"):
                out.append(shlex.split(line))
    return out


def yaml_blocks_by_file(text: str) -> dict[str, str]:
    """The yaml blocks whose first line is ``# <path>``, by path."""
    found = {}
    for block in blocks(text, "yaml"):
        first = block.splitlines()[0]
        if first.startswith("# "):
            found[first[2:].split(" ", 1)[0]] = block
    return found


def inventory_names(hosts_file: Path) -> set[str]:
    """Group and host names of a YAML inventory."""
    names: set[str] = {"all"}

    def walk(group: dict) -> None:
        for host in (group or {}).get("hosts") or {}:
            names.add(host)
        for child, sub in ((group or {}).get("children") or {}).items():
            names.add(child)
            walk(sub)

    walk(yaml.safe_load(hosts_file.read_text())["all"])
    return names


def parse_playbook_command(argv: list[str]) -> dict:
    parsed: dict = {"inventory": None, "limit": [], "flags": [], "playbooks": []}
    args = iter(argv[1:])
    for arg in args:
        if arg in PLAYBOOK_OPTIONS:
            value = next(args)
            if arg == "-i":
                parsed["inventory"] = value
            else:
                parsed["limit"] = value.split(",")
        elif arg in PLAYBOOK_FLAGS:
            parsed["flags"].append(arg)
        elif arg.startswith("-"):
            raise AssertionError(f"{shlex.join(argv)}: option {arg} is not one this test checks; teach it")
        else:
            parsed["playbooks"].append(arg)
    assert parsed["inventory"], f"{shlex.join(argv)}: no -i inventory"
    assert parsed["playbooks"], f"{shlex.join(argv)}: no playbook"
    return parsed


def module_installed(fqcn: str) -> bool:
    namespace, collection, name = fqcn.split(".")
    for entry in map(Path, sys.path):
        folder = entry / "ansible_collections" / namespace / collection / "plugins" / "modules"
        if any((folder / f"{name}{ext}").is_file() for ext in (".py", ".ps1")):
            return True
    return False


def known_variables() -> set[str]:
    names: set[str] = set()
    for specs in (PROJECT_ROOT / "roles").glob("*/meta/argument_specs.yml"):
        for entry in (yaml.safe_load(specs.read_text())["argument_specs"] or {}).values():
            names.update((entry.get("options") or {}).keys())
    used_in = [PROJECT_ROOT / "group_vars", PROJECT_ROOT / "playbooks", PROJECT_ROOT / "inventories" / "example"]
    text = "\n".join(p.read_text() for folder in used_in for p in folder.rglob("*.yml"))
    names.update(re.findall(r"\b((?:m1038|vault)_[a-z0-9_]+)\b", text))
    return names


def test_every_yaml_variable_on_the_page_exists():
    known = known_variables()
    for block in blocks(PAGE.read_text(), "yaml"):
        for key in yaml.safe_load(block) or {}:
            assert key in known, f"docs/getting-started.md sets {key}, which no role or playbook reads"


def test_the_page_names_its_commands():
    seen = {argv[0] for argv in commands(PAGE.read_text())}
    # The walk-through needs at least these; losing one is a broken page, not a shorter one.
    assert {"cp", "ansible-vault", "ansible-playbook", "ansible"} <= seen


def run_in_pty(argv: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    leader, follower = os.openpty()
    try:
        return subprocess.run(
            argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=follower,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        os.close(follower)
        os.close(leader)


class Walk:
    """The copy the page is walked on, and what its commands left to run at the end."""

    def __init__(self, tmp_path: Path, text: str):
        self.tmp = tmp_path
        self.copy = fresh_copy(tmp_path / "clone")
        self.password_file = tmp_path / "vault-password"
        self.password_file.write_text(VAULT_PASSWORD)
        self.env = ansible_env(
            ANSIBLE_CONFIG=str(self.copy / "ansible.cfg"),
            ANSIBLE_COLLECTIONS_PATH=str(self.copy / "collections"),
            ANSIBLE_ROLES_PATH=str(self.copy / "roles"),
        )
        self.vault_blocks = yaml_blocks_by_file(text)
        self.real: dict[str, list[str]] = {}
        self.syntax: dict[str, set[str]] = {}

    def cp(self, argv: list[str], line: str) -> None:
        assert argv[1] == "-r" and len(argv) == 4, line
        subprocess.run(argv, cwd=self.copy, check=True)
        new = self.copy / argv[3]
        if (new / "hosts.yml").is_file():  # a new inventory: the lab's fleet stands in for the user's
            (new / "files").mkdir(exist_ok=True)
            lab_fleet = self.copy / "inventories" / "lab" / "files" / "software_inventory.json"
            (new / "files" / "software_inventory.json").write_bytes(lab_fleet.read_bytes())

    def vault(self, argv: list[str], line: str) -> None:
        assert argv[1] == "create" and len(argv) == 3, line
        target = argv[2]
        assert target in self.vault_blocks, f"{line}: the page shows no yaml block headed '# {target}'"
        content = self.tmp / f"editor-{len(os.listdir(self.tmp))}.yml"
        content.write_text(self.vault_blocks[target])
        env = dict(self.env, EDITOR=f"cp {content}", ANSIBLE_VAULT_PASSWORD_FILE=str(self.password_file))
        proc = run_in_pty(argv, self.copy, env)
        assert proc.returncode == 0, f"{line}: {proc.stderr}"
        assert (self.copy / target).read_text().startswith("$ANSIBLE_VAULT;"), f"{target} is not encrypted"
        shown = subprocess.run(
            ["ansible-vault", "view", target], cwd=self.copy, env=env, capture_output=True, text=True, check=True
        ).stdout
        assert yaml.safe_load(shown) == yaml.safe_load(self.vault_blocks[target])

    def names(self, inventory: str, line: str) -> set[str]:
        hosts_file = self.copy / inventory / "hosts.yml"
        assert hosts_file.is_file(), f"{line}: no inventory {inventory}"
        return inventory_names(hosts_file)

    def playbook(self, argv: list[str], line: str) -> None:
        cmd = parse_playbook_command(argv)
        names = self.names(cmd["inventory"], line)
        for name in cmd["limit"]:
            assert name in names, f"{line}: --limit {name} is no group or host of {cmd['inventory']}"
        for playbook in cmd["playbooks"]:
            assert (self.copy / playbook).is_file(), f"{line}: no playbook {playbook}"
            if playbook in REAL_RUN:
                assert not cmd["limit"] and "--check" not in cmd["flags"], f"{line}: run it plain"
                self.real.setdefault(cmd["inventory"], []).append(playbook)
            else:
                self.syntax.setdefault(cmd["inventory"], set()).add(playbook)

    def adhoc(self, argv: list[str], line: str) -> None:
        assert argv[1] == "-i" and argv[4] == "-m" and argv[6:] == ["--ask-vault-pass"], line
        assert set(argv[3].split(",")) <= self.names(argv[2], line), f"{line}: {argv[3]} is no group or host"
        assert module_installed(argv[5]), f"{line}: module {argv[5]} is not installed"

    def script(self, argv: list[str], line: str) -> None:
        assert len(argv) == 2 and (self.copy / argv[1]).is_file(), f"{line}: no file {argv[1]}"
        subprocess.run(["bash", "-n", argv[1]], cwd=self.copy, check=True)

    def ansible_playbook(self, inventory: str, *args: str) -> None:
        proc = subprocess.run(
            ["ansible-playbook", "-i", inventory, "--vault-password-file", str(self.password_file), *args],
            cwd=self.copy,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]


@pytest.mark.slow
def test_walk_the_page_on_a_fresh_copy(tmp_path):
    text = PAGE.read_text()
    walk = Walk(tmp_path, text)
    handlers = {
        "cp": walk.cp,
        "ansible-vault": walk.vault,
        "ansible-playbook": walk.playbook,
        "ansible": walk.adhoc,
        "bash": walk.script,
        "source": walk.script,
    }
    for argv in commands(text):
        line = shlex.join(argv)
        assert argv[0] in handlers, f"docs/getting-started.md runs {line}, which this test does not exercise"
        handlers[argv[0]](argv, line)

    assert walk.real, "the page runs no controller-only playbook"
    for inventory, playbooks in walk.real.items():
        walk.ansible_playbook(inventory, *playbooks)  # one process for the controller-only steps
        output = walk.copy / "lab-output" / Path(inventory).name
        if "playbooks/preflight.yml" in playbooks:
            report = json.loads((output / "preflight.json").read_text())
            assert report["winrm_findings"] == [] and report["collection_findings"] == [], report
            assert report["windows_hosts_checked"], report
        if "playbooks/render.yml" in playbooks:
            assert json.loads((output / "wazuh" / "summary.json").read_text())["vendors"]
    for inventory, playbooks in walk.syntax.items():
        walk.ansible_playbook(inventory, "--syntax-check", *sorted(playbooks))
