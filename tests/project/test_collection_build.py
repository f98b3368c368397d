"""`ansible-galaxy collection build` makes a tarball that installs and works by FQCN."""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile

import pytest

from .helpers import PROJECT_ROOT, ansible_env

pytestmark = pytest.mark.slow


def run(cmd, **kw):
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True, **kw)
    assert proc.returncode == 0, f"{cmd} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    base = tmp_path_factory.mktemp("galaxy")
    run(["ansible-galaxy", "collection", "build", str(PROJECT_ROOT), "--output-path", str(base)], env=ansible_env())
    tarballs = list(base.glob("m1038-appcontrol-*.tar.gz"))
    assert len(tarballs) == 1
    # Outside the checkout: no project ansible.cfg, no collections/ symlink.
    env = ansible_env(
        ANSIBLE_CONFIG=str(base / "none.cfg"),
        ANSIBLE_COLLECTIONS_PATH=str(base / "collections"),
        ANSIBLE_HOME=str(base / "home"),
        # Only localhost runs here: keep its module staging out of ~/.
        ANSIBLE_REMOTE_TEMP=str(base / "remote_tmp"),
    )
    out = run(
        ["ansible-galaxy", "collection", "install", "--offline", "-p", str(base / "collections"), str(tarballs[0])],
        env=env,
        cwd=base,
    )
    assert "m1038.appcontrol" in out.stdout
    return base, tarballs[0], env


def test_tarball_holds_the_content_and_none_of_the_dev_state(installed):
    tarball = installed[1]
    with tarfile.open(tarball) as tar:
        names = set(tar.getnames())
        manifest = json.load(tar.extractfile("MANIFEST.json"))
    assert "roles/preflight/meta/argument_specs.yml" in names
    assert "plugins/vars/bundle_group_vars.py" in names
    assert "playbooks/site.yml" in names
    for unwanted in (".cache", "collections", "inventories", "molecule", ".git", "lab-output"):
        assert not any(n == unwanted or n.startswith(unwanted + "/") for n in names), unwanted
    assert manifest["collection_info"]["namespace"] == "m1038"
    assert manifest["collection_info"]["name"] == "appcontrol"


def test_installed_collection_runs_a_role_by_fqcn(installed):
    base, env = installed[0], installed[2]
    col = base / "collections" / "ansible_collections" / "m1038" / "appcontrol"
    assert (col / "MANIFEST.json").is_file()
    playbook = base / "play.yml"
    playbook.write_text(
        "---\n"
        "- name: Use the installed collection\n"
        "  hosts: localhost\n"
        "  gather_facts: false\n"
        "  vars:\n"
        f"    m1038_output_dir: {base / 'out'}\n"
        f"    preflight_requirements_file: {col / 'requirements.yml'}\n"
        "  roles:\n"
        "    - role: m1038.appcontrol.preflight\n"
        "  tasks:\n"
        "    - name: Use a filter by FQCN\n"
        "      ansible.builtin.assert:\n"
        "        that: \"({'w': {'connection': 'winrm', 'scheme': 'http', 'port': 5986, 'transport': 'kerberos',"
        " 'cert_validation': 'validate'}} | m1038.appcontrol.winrm_findings | length) == 1\"\n"
    )
    out = run(
        [
            "ansible-playbook",
            "-i",
            "localhost,",
            "-c",
            "local",
            "-e",
            f"ansible_python_interpreter={sys.executable}",
            str(playbook),
        ],
        env=env,
        cwd=base,
    )
    assert "failed=0" in out.stdout
    report = json.loads((base / "out" / "preflight.json").read_text())
    assert report["collection_findings"] == []
    # ansible-doc finds the plugins in the installed copy, not the checkout.
    doc = run(["ansible-doc", "-t", "filter", "--json", "m1038.appcontrol.winrm_findings"], env=env, cwd=base)
    assert str(col) in doc.stdout or "winrm_findings" in doc.stdout
