"""Whole-module tests for m1038.appcontrol.wazuh_content: check mode, apply, idempotence, restore, rollback."""

from __future__ import annotations

import fcntl
import grp
import json
import os
import pwd
import re
import shutil
import signal
import stat
import time
from pathlib import Path

import pytest
from ansible.module_utils import basic

from ansible_collections.m1038.appcontrol.plugins.module_utils._wazuh_content import conf_diff
from ansible_collections.m1038.appcontrol.plugins.module_utils._wazuh_content_state import ContentError
from ansible_collections.m1038.appcontrol.plugins.modules import wazuh_content, wazuh_manager_info

from .utils import AnsibleExitJson, AnsibleFailJson, set_module_args

PROJECT = Path(__file__).resolve().parents[4]
DOUBLE_HOME = PROJECT / "tests" / "doubles" / "wazuh-manager" / "root" / "var" / "ossec"
FIXTURES = PROJECT / "tests" / "fixtures" / "wazuh_manager"
OWNER = pwd.getpwuid(os.getuid()).pw_name
GROUP = grp.getgrgid(os.getgid()).gr_name


@pytest.fixture
def home(tmp_path):
    target = tmp_path / "ossec"
    shutil.copytree(DOUBLE_HOME, target)
    return target


def files_of(name):
    base = FIXTURES / name
    out = []
    for kind in ("rules", "decoders", "lists"):
        for f in sorted((base / kind).glob("*")) if (base / kind).is_dir() else []:
            out.append({"path": f"etc/{kind}/{f.name}", "content": f.read_text(encoding="utf-8")})
    return out


def invoke(home, tmp_path, **kwargs):
    module_tmp = tmp_path / "ansible-tmp"
    module_tmp.mkdir(exist_ok=True)
    check = kwargs.pop("check", False)
    diff = kwargs.pop("diff", False)
    args = {
        "home": str(home),
        "owner": OWNER,
        "group": GROUP,
        "mode": "0640",
        "_ansible_check_mode": check,
        "_ansible_diff": diff,
        **kwargs,
    }
    with set_module_args(args, module_tmp):
        try:
            wazuh_content.main()
        except AnsibleExitJson as exc:
            return exc.args[0]
    raise AssertionError("module did not exit")


def tree(home):
    """Every file under home with its bytes and mode (what a rollback must bring back exactly)."""
    return {
        str(p.relative_to(home)): (p.read_bytes(), stat.S_IMODE(p.stat().st_mode))
        for p in sorted(home.rglob("*"))
        if p.is_file() and "m1038-appcontrol" not in p.parts
    }


def test_check_mode_reports_the_change_and_writes_nothing(home, tmp_path):
    before = tree(home)
    result = invoke(home, tmp_path, files=files_of("good"), check=True, diff=True)
    assert result["changed"] is True
    assert result["created"] == ["etc/lists/m1038-trusted-companies", "etc/rules/m1038-appcontrol_rules.xml"]
    assert result["lists_registered"] == ["etc/lists/m1038-trusted-companies"]
    assert result["backup"] == ""
    headers = [d["after_header"] for d in result["diff"]]
    assert headers == [
        "etc/lists/m1038-trusted-companies",
        "etc/rules/m1038-appcontrol_rules.xml",
        "etc/ossec.conf",
    ]
    assert tree(home) == before
    assert not (home / "var" / "m1038-appcontrol").exists()


def test_apply_then_second_run_changes_nothing(home, tmp_path):
    first = invoke(home, tmp_path, files=files_of("good"))
    assert first["changed"] is True
    rules = home / "etc" / "rules" / "m1038-appcontrol_rules.xml"
    assert rules.read_bytes() == (FIXTURES / "good" / "rules" / "m1038-appcontrol_rules.xml").read_bytes()
    assert stat.S_IMODE(rules.stat().st_mode) == 0o640
    conf = (home / "etc" / "ossec.conf").read_text(encoding="utf-8")
    assert conf.count("<list>etc/lists/m1038-trusted-companies</list>") == 1
    record = json.loads((Path(first["backup"]) / "backup.json").read_text(encoding="utf-8"))
    assert record["created"] == first["created"]
    assert [s["path"] for s in record["saved"]] == ["etc/ossec.conf"]
    manifest = json.loads((home / "var" / "m1038-appcontrol" / "managed.json").read_text(encoding="utf-8"))
    assert manifest == {
        "files": ["etc/lists/m1038-trusted-companies", "etc/rules/m1038-appcontrol_rules.xml"],
        "lists": ["m1038-trusted-companies"],
    }

    second = invoke(home, tmp_path, files=files_of("good"))
    assert second["changed"] is False
    assert second["backup"] == ""
    assert len(list((home / "var" / "m1038-appcontrol" / "backups").iterdir())) == 1


def test_restore_brings_back_the_exact_previous_tree(home, tmp_path):
    invoke(home, tmp_path, files=files_of("good"))
    before = tree(home)
    changed = invoke(home, tmp_path, files=files_of("changed"))
    assert changed["created"] == ["etc/lists/m1038-trusted-paths"]
    assert changed["updated"] == ["etc/lists/m1038-trusted-companies"]
    assert changed["lists_registered"] == ["etc/lists/m1038-trusted-paths"]
    assert tree(home) != before

    restored = invoke(home, tmp_path, state="restored", backup=changed["backup"])
    assert restored["changed"] is True
    assert sorted(restored["restored"]) == [
        "etc/lists/m1038-trusted-companies",
        "etc/lists/m1038-trusted-paths",
        "etc/ossec.conf",
    ]
    assert tree(home) == before
    again = invoke(home, tmp_path, state="restored", backup=changed["backup"])
    assert again["changed"] is False
    assert invoke(home, tmp_path, files=files_of("good"))["changed"] is False


def test_files_dropped_from_the_content_are_removed_and_their_lists_unregistered(home, tmp_path):
    invoke(home, tmp_path, files=files_of("changed"))
    result = invoke(home, tmp_path, files=files_of("good"))
    assert result["removed"] == ["etc/lists/m1038-trusted-paths"]
    assert result["lists_unregistered"] == ["etc/lists/m1038-trusted-paths"]
    assert not (home / "etc" / "lists" / "m1038-trusted-paths").exists()
    conf = (home / "etc" / "ossec.conf").read_text(encoding="utf-8")
    assert "m1038-trusted-paths" not in conf
    assert "etc/lists/audit-keys" in conf


def test_user_files_are_never_touched(home, tmp_path):
    local = (home / "etc" / "rules" / "local_rules.xml").read_bytes()
    invoke(home, tmp_path, files=files_of("changed"))
    invoke(home, tmp_path, files=files_of("good"))
    assert (home / "etc" / "rules" / "local_rules.xml").read_bytes() == local
    assert (home / "etc" / "lists" / "audit-keys").exists()


def test_a_failing_write_restores_everything_before_failing(home, tmp_path, monkeypatch):
    invoke(home, tmp_path, files=files_of("good"))
    before = tree(home)

    def broken_write(self, text):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(wazuh_content.Transaction, "_write_conf", broken_write)
    with pytest.raises(AnsibleFailJson) as failure:
        invoke(home, tmp_path, files=files_of("changed"))
    assert "No space left on device" in failure.value.args[0]["msg"]
    assert "the previous files were restored from" in failure.value.args[0]["msg"]
    assert tree(home) == before


def test_mode_only_change_is_reported_and_fixed(home, tmp_path):
    invoke(home, tmp_path, files=files_of("good"))
    target = home / "etc" / "rules" / "m1038-appcontrol_rules.xml"
    target.chmod(0o666)
    result = invoke(home, tmp_path, files=files_of("good"))
    assert result["updated"] == ["etc/rules/m1038-appcontrol_rules.xml"]
    assert stat.S_IMODE(target.stat().st_mode) == 0o640


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ([{"path": "etc/ossec.conf", "content": "x"}], "files\\[0\\].path 'etc/ossec.conf' is not"),
        ([{"path": "etc/rules/../../x.xml", "content": "x"}], "is not etc/rules"),
        ([{"path": "etc/lists/a", "content": ""}, {"path": "etc/lists/a", "content": ""}], "listed twice"),
    ],
)
def test_bad_paths_are_refused_by_name(home, tmp_path, files, message):
    with pytest.raises(AnsibleFailJson, match=message):
        invoke(home, tmp_path, files=files)


def test_unknown_owner_and_bad_mode_are_refused(home, tmp_path):
    with pytest.raises(AnsibleFailJson, match="owner 'no-such-user-m1038' does not exist"):
        invoke(home, tmp_path, files=files_of("good"), owner="no-such-user-m1038")
    with pytest.raises(AnsibleFailJson, match="mode '0x9' is not an octal mode"):
        invoke(home, tmp_path, files=files_of("good"), mode="0x9")


def test_restore_of_something_that_is_not_a_backup_fails(home, tmp_path):
    with pytest.raises(AnsibleFailJson, match="is not a backup directory of"):
        invoke(home, tmp_path, state="restored", backup=str(tmp_path))


def deploy_validated(home, tmp_path, name, **kwargs):
    """A deployment the role's validated restart accepted (what the role does after wazuh-analysisd -t)."""
    result = invoke(home, tmp_path, files=files_of(name), **kwargs)
    invoke(home, tmp_path, state="validated")
    return result


def test_old_backups_are_pruned_to_keep_backups(home, tmp_path):
    for name in ("good", "changed", "good", "changed"):
        deploy_validated(home, tmp_path, name, keep_backups=2)
    assert len(list((home / "var" / "m1038-appcontrol" / "backups").iterdir())) == 2


def test_backups_of_pending_changes_are_never_pruned(home, tmp_path):
    """Rolling back needs every backup since the last validated content, whatever keep_backups says."""
    deploy_validated(home, tmp_path, "good", keep_backups=1)
    second = invoke(home, tmp_path, files=files_of("changed"), keep_backups=1)
    third = invoke(home, tmp_path, files=files_of("broken"), keep_backups=1)
    assert third["pending"] == [second["backup"], third["backup"]]
    assert all(Path(b).is_dir() for b in third["pending"])
    invoke(home, tmp_path, state="validated")
    fourth = deploy_validated(home, tmp_path, "good", keep_backups=1)
    assert [str(p) for p in (state_dir(home) / "backups").iterdir()] == [fourth["backup"]]


# -- issue 8, item 2: modes are read the way ansible.builtin.file reads them -----------------


def test_an_unquoted_yaml_mode_gives_the_mode_it_spells(home, tmp_path):
    """YAML reads an unquoted 0640 as the integer 416 (0o640); that is the mode, not the octal string '416'."""
    invoke(home, tmp_path, files=files_of("good"), mode=0o640)
    for rel in ("etc/rules/m1038-appcontrol_rules.xml", "etc/lists/m1038-trusted-companies"):
        assert stat.S_IMODE((home / rel).stat().st_mode) == 0o640, rel
    assert invoke(home, tmp_path, files=files_of("good"), mode="0640")["changed"] is False


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("0666", "mode '0666' lets every user write"),
        (0o662, "mode 0o662 lets every user write"),
        ("4660", "mode '4660' sets setuid, setgid or sticky"),
        ("u=rw,g=rw", "mode 'u=rw,g=rw' is not an octal mode such as '0660'"),
        (0o10000, "mode 0o10000 is not an octal mode such as '0660'"),
        (True, "mode True is not an octal mode such as '0660'"),
    ],
)
def test_bad_modes_are_refused_before_anything_is_written(home, tmp_path, mode, message):
    before = tree(home)
    with pytest.raises(AnsibleFailJson, match=re.escape(message)):
        invoke(home, tmp_path, files=files_of("good"), mode=mode)
    assert tree(home) == before
    assert not (home / "var" / "m1038-appcontrol").exists()


# -- issue 8, item 9: an ossec.conf that is not UTF-8 ---------------------------------------


def latin1_conf(home):
    """Put a Latin-1 byte (a user's 'é' in a comment) into ossec.conf, as os_xml happily reads it."""
    conf = home / "etc" / "ossec.conf"
    data = conf.read_bytes().replace(b"<!-- A user's setting", b"<!-- R\xe9glage d'un utilisateur. A user's setting")
    conf.write_bytes(data)
    return data


def test_an_ossec_conf_that_is_not_utf8_is_edited_byte_for_byte(home, tmp_path):
    before = latin1_conf(home)
    info = wazuh_manager_info.read_manager(str(home), str(home / "var" / "m1038-appcontrol"))
    assert info["installed"] is True
    assert info["ruleset"]["lists"] == ["etc/lists/audit-keys", "etc/lists/security-eventchannel"]

    result = invoke(home, tmp_path, files=files_of("good"), diff=True)
    assert result["lists_registered"] == ["etc/lists/m1038-trusted-companies"]
    after = (home / "etc" / "ossec.conf").read_bytes()
    line = b"    <list>etc/lists/m1038-trusted-companies</list>\n"
    assert after.replace(line, b"", 1) == before
    assert b"R\xe9glage" in after
    assert invoke(home, tmp_path, files=files_of("good"))["changed"] is False

    restored = invoke(home, tmp_path, state="restored", backup=result["backup"])
    assert "etc/ossec.conf" in restored["restored"]
    assert (home / "etc" / "ossec.conf").read_bytes() == before


def test_a_corrupt_manifest_is_named_in_the_error(home, tmp_path):
    invoke(home, tmp_path, files=files_of("good"))
    manifest = home / "var" / "m1038-appcontrol" / "managed.json"
    manifest.write_bytes(b'{"files": ["etc/rules/x.xml"\xff')
    with pytest.raises(AnsibleFailJson) as failure:
        invoke(home, tmp_path, files=files_of("good"))
    assert str(manifest) in failure.value.args[0]["msg"]
    with pytest.raises(ContentError, match=re.escape(str(manifest))):
        wazuh_manager_info.read_manager(str(home), str(home / "var" / "m1038-appcontrol"))


# -- issue 8, item 4: --diff must not return ossec.conf, which holds secrets -----------------

SECRETS = {
    "cluster key": "<key>c98b62a9b6169ac5f67dae55ae4a9088</key>",
    "integration api_key": "<api_key>m1038-integration-api-key-0123456789</api_key>",
    "aws secret": "<secret_key>m1038AwsSecretKeyValue/0123456789</secret_key>",
}


def conf_with_secrets(home):
    conf = home / "etc" / "ossec.conf"
    text = conf.read_text(encoding="utf-8").replace("<key></key>", SECRETS["cluster key"])
    text += (
        "\n<ossec_config>\n  <integration>\n    <name>custom-m1038</name>\n"
        f"    {SECRETS['integration api_key']}\n  </integration>\n"
        '  <wodle name="aws-s3">\n    <bucket type="cloudtrail">\n'
        f"      <access_key>AKIAM1038EXAMPLE</access_key>\n      {SECRETS['aws secret']}\n"
        "    </bucket>\n  </wodle>\n</ossec_config>\n"
    )
    conf.write_text(text, encoding="utf-8")


def conf_entry(result):
    (entry,) = [d for d in result["diff"] if d["after_header"] == "etc/ossec.conf"]
    return entry


def changed_lines(prepared):
    return [line for line in prepared.splitlines() if line[:1] in "+-" and line[:3] not in ("+++", "---")]


def test_the_ossec_conf_diff_holds_only_the_edited_list_lines(home, tmp_path):
    conf_with_secrets(home)
    for check in (True, False):
        result = invoke(home, tmp_path, files=files_of("changed"), check=check, diff=True)
        dumped = json.dumps(result)
        for what, secret in SECRETS.items():
            assert secret not in dumped, what
        assert "AKIAM1038EXAMPLE" not in dumped
        entry = conf_entry(result)
        assert "before" not in entry and "after" not in entry
        assert changed_lines(entry["prepared"]) == [
            "+    <list>etc/lists/m1038-trusted-companies</list>",
            "+    <list>etc/lists/m1038-trusted-paths</list>",
        ]
    removal = conf_entry(invoke(home, tmp_path, files=files_of("good"), diff=True))
    assert changed_lines(removal["prepared"]) == ["-    <list>etc/lists/m1038-trusted-paths</list>"]
    assert SECRETS["cluster key"] not in removal["prepared"]


def test_conf_diff_withholds_any_line_that_is_not_one_of_our_list_lines():
    before = "<ossec_config>\n  <cluster>\n    <key>previous-secret</key>\n  </cluster>\n</ossec_config>\n"
    after = before.replace("<key>previous-secret</key>", "<key>new-secret</key>")
    shown = conf_diff(before, after)
    assert "previous-secret" not in shown and "new-secret" not in shown
    assert "withheld" in shown


# -- issue 8, item 6: what the state directory says is checked like input -------------------


def state_dir(home):
    return home / "var" / "m1038-appcontrol"


@pytest.mark.parametrize("entry", ["../victim", "ABSOLUTE", "etc/rules/../../../victim", "etc/ossec.conf"])
def test_a_manifest_entry_outside_the_content_directories_is_refused(home, tmp_path, entry):
    victim = tmp_path / "victim"
    victim.write_text("not ours", encoding="utf-8")
    invoke(home, tmp_path, files=files_of("good"))
    entry = str(victim) if entry == "ABSOLUTE" else entry
    manifest = state_dir(home) / "managed.json"
    manifest.write_text(json.dumps({"files": [entry], "lists": []}), encoding="utf-8")
    before = tree(home)
    with pytest.raises(AnsibleFailJson) as failure:
        invoke(home, tmp_path, files=files_of("changed"))
    msg = failure.value.args[0]["msg"]
    assert str(manifest) in msg and repr(entry) in msg, msg
    assert victim.read_text(encoding="utf-8") == "not ours"
    assert tree(home) == before
    with pytest.raises(ContentError, match=re.escape(repr(entry))):
        wazuh_manager_info.read_manager(str(home), str(state_dir(home)))


def test_a_manifest_list_name_that_is_not_a_plain_name_is_refused(home, tmp_path):
    invoke(home, tmp_path, files=files_of("good"))
    manifest = state_dir(home) / "managed.json"
    manifest.write_text(json.dumps({"files": [], "lists": ["../../etc/passwd"]}), encoding="utf-8")
    with pytest.raises(AnsibleFailJson, match=re.escape("'../../etc/passwd'")):
        invoke(home, tmp_path, files=files_of("good"))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("created", ["../victim"]),
        ("created", ["ABSOLUTE"]),
        ("saved", [{"path": "etc/rules/../../../victim", "uid": 0, "gid": 0, "mode": 0o644}]),
        ("saved", [{"path": "etc/ossec.conf", "uid": 0, "gid": 0, "mode": "0644"}]),
        ("manifest_before", {"files": ["../victim"], "lists": []}),
    ],
)
def test_a_tampered_backup_record_is_refused_before_anything_is_restored(home, tmp_path, field, value):
    victim = tmp_path / "victim"
    victim.write_text("not ours", encoding="utf-8")
    invoke(home, tmp_path, files=files_of("good"))
    changed = invoke(home, tmp_path, files=files_of("changed"))
    record_path = Path(changed["backup"]) / "backup.json"
    record = json.loads(record_path.read_text(encoding="utf-8"))
    if value == ["ABSOLUTE"]:
        value = [str(victim)]
    record[field] = value
    record_path.write_text(json.dumps(record), encoding="utf-8")
    before = tree(home)
    with pytest.raises(AnsibleFailJson) as failure:
        invoke(home, tmp_path, state="restored", backup=changed["backup"])
    assert str(record_path) in failure.value.args[0]["msg"]
    assert victim.read_text(encoding="utf-8") == "not ours"
    assert tree(home) == before


def test_restore_refuses_a_backup_outside_the_state_directory(home, tmp_path):
    invoke(home, tmp_path, files=files_of("good"))
    changed = invoke(home, tmp_path, files=files_of("changed"))
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(changed["backup"], elsewhere)
    before = tree(home)
    with pytest.raises(AnsibleFailJson, match="is not a backup directory of"):
        invoke(home, tmp_path, state="restored", backup=str(elsewhere))
    with pytest.raises(AnsibleFailJson, match="is not a backup directory of"):
        invoke(
            home, tmp_path, state="restored", backup=str(state_dir(home) / "backups" / ".." / "backups" / "x" / "..")
        )
    assert tree(home) == before


@pytest.mark.parametrize("mode", [0o777, 0o770, 0o702])
def test_a_state_directory_others_can_write_is_refused(home, tmp_path, mode):
    invoke(home, tmp_path, files=files_of("good"))
    state_dir(home).chmod(mode)
    with pytest.raises(AnsibleFailJson, match=re.escape(f"{state_dir(home)} is writable by")):
        invoke(home, tmp_path, files=files_of("changed"))
    with pytest.raises(ContentError, match="is writable by"):
        wazuh_manager_info.read_manager(str(home), str(state_dir(home)))


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give the directory to another user")
def test_a_state_directory_owned_by_another_user_is_refused(home, tmp_path):
    invoke(home, tmp_path, files=files_of("good"))
    nobody = pwd.getpwnam("nobody").pw_uid
    os.chown(state_dir(home), nobody, -1)
    with pytest.raises(AnsibleFailJson, match=re.escape(f"{state_dir(home)} is owned by uid {nobody}")):
        invoke(home, tmp_path, files=files_of("changed"))


# -- issue 8, item 7: one run at a time, and ossec.conf read under the lock ------------------


def hold_lock(home):
    fd = os.open(state_dir(home) / "lock", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def test_a_second_run_waits_for_the_first_and_reads_ossec_conf_after_it(home, tmp_path):
    invoke(home, tmp_path, files=files_of("good"))
    fd = hold_lock(home)  # "the first run", in the middle of its transaction
    child = os.fork()
    if child == 0:  # the second run
        try:
            code = 0 if invoke(home, tmp_path, files=files_of("changed"))["changed"] else 3
        except BaseException:
            code = 4
        os._exit(code)
    try:
        time.sleep(1.5)
        assert not (home / "etc" / "lists" / "m1038-trusted-paths").exists(), "the second run did not wait"
        conf = home / "etc" / "ossec.conf"
        text = conf.read_text(encoding="utf-8")
        conf.write_text(text.replace("  </ruleset>", "    <list>etc/lists/first-run</list>\n  </ruleset>", 1))
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
        _pid, status = os.waitpid(child, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status
    text = (home / "etc" / "ossec.conf").read_text(encoding="utf-8")
    assert "<list>etc/lists/first-run</list>" in text, "the first run's edit was lost"
    assert "<list>etc/lists/m1038-trusted-paths</list>" in text


@pytest.mark.parametrize("params", [{}, {"check": True}, {"state": "restored"}], ids=["apply", "check", "restore"])
def test_a_run_that_cannot_get_the_lock_in_time_fails_saying_so_and_changes_nothing(home, tmp_path, params):
    first = invoke(home, tmp_path, files=files_of("good"))
    params = {**params, "backup": first["backup"]} if params.get("state") else {**params, "files": files_of("changed")}
    before = tree(home)
    fd = hold_lock(home)
    try:
        with pytest.raises(AnsibleFailJson, match=re.escape(f"another run holds {state_dir(home) / 'lock'}")):
            invoke(home, tmp_path, lock_timeout=1, **params)
    finally:
        os.close(fd)
    assert tree(home) == before


# -- issue 8, item 8: prune only after the new backup is complete ----------------------------


def backups(home):
    root = state_dir(home) / "backups"
    return sorted(p.name for p in root.iterdir()) if root.is_dir() else []


def test_a_backup_that_cannot_be_completed_prunes_nothing_and_leaves_nothing(home, tmp_path, monkeypatch):
    for name in ("good", "changed", "good"):
        deploy_validated(home, tmp_path, name, keep_backups=2)
    kept = backups(home)
    assert len(kept) == 2
    before = tree(home)

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(shutil, "copy2", disk_full)
    with pytest.raises(AnsibleFailJson, match="No space left on device"):
        invoke(home, tmp_path, files=files_of("changed"), keep_backups=2)
    assert backups(home) == kept, "old backups were pruned for a backup that never completed"
    assert tree(home) == before


def test_directories_without_backup_json_are_not_counted_and_are_removed(home, tmp_path):
    deploy_validated(home, tmp_path, "good", keep_backups=2)
    deploy_validated(home, tmp_path, "changed", keep_backups=2)
    partial = state_dir(home) / "backups" / "29991231T235959.999999Z-partial"  # sorts after every real one
    (partial / "files" / "etc").mkdir(parents=True)
    (partial / "files" / "etc" / "ossec.conf").write_text("half a copy", encoding="utf-8")
    third = deploy_validated(home, tmp_path, "good", keep_backups=2)
    assert not partial.exists()
    names = backups(home)
    assert len(names) == 2
    assert Path(third["backup"]).name in names
    assert all((state_dir(home) / "backups" / n / "backup.json").is_file() for n in names)


# -- issue 8, item 3: a run killed mid-deploy is rolled back by the next run -----------------


def run_killed_after_first_content_write(home, tmp_path, name):
    """Run the module in a child process that SIGKILLs itself right after its first rule/list file lands."""
    child = os.fork()
    if child == 0:
        real_rename = os.rename

        def rename_then_die(src, dst, *args, **kwargs):
            real_rename(src, dst, *args, **kwargs)
            if os.fsdecode(dst).startswith((str(home / "etc" / "lists"), str(home / "etc" / "rules"))):
                os.kill(os.getpid(), signal.SIGKILL)

        os.rename = rename_then_die
        try:
            invoke(home, tmp_path, files=files_of(name))
        finally:
            os._exit(0)
    _pid, status = os.waitpid(child, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, status


def test_the_next_run_rolls_back_a_run_killed_between_writes_before_anything_else(home, tmp_path):
    invoke(home, tmp_path, files=files_of("good"))
    good = tree(home)
    good_manifest = (state_dir(home) / "managed.json").read_bytes()
    run_killed_after_first_content_write(home, tmp_path, "changed")
    assert tree(home) != good, "the kill should have left a half-applied change"

    result = invoke(home, tmp_path, files=files_of("changed"))
    (recovered,) = result["recovered"]
    assert json.loads((Path(recovered) / "backup.json").read_text(encoding="utf-8"))["status"] == "rolled back"
    assert result["changed"] is True
    assert result["updated"] == ["etc/lists/m1038-trusted-companies"]
    # The new backup holds the good files, not the half-written ones: restoring it is the good state exactly.
    invoke(home, tmp_path, state="restored", backup=result["backup"])
    assert tree(home) == good
    assert (state_dir(home) / "managed.json").read_bytes() == good_manifest


def test_check_mode_after_a_killed_run_warns_and_changes_nothing(home, tmp_path, monkeypatch):
    invoke(home, tmp_path, files=files_of("good"))
    run_killed_after_first_content_write(home, tmp_path, "changed")
    before = tree(home)
    warnings = []
    monkeypatch.setattr(basic.AnsibleModule, "warn", lambda self, msg: warnings.append(msg))
    result = invoke(home, tmp_path, files=files_of("changed"), check=True)
    assert result["recovered"] == []
    assert any("interrupted" in w and "rolled back first" in w for w in warnings), warnings
    assert tree(home) == before


def test_an_interrupted_run_that_cannot_be_rolled_back_stops_the_next_one(home, tmp_path):
    invoke(home, tmp_path, files=files_of("good"))
    run_killed_after_first_content_write(home, tmp_path, "changed")
    (open_backup,) = [
        n for n in backups(home) if "open" in (state_dir(home) / "backups" / n / "backup.json").read_text()
    ]
    shutil.rmtree(state_dir(home) / "backups" / open_backup / "files")
    before = tree(home)
    with pytest.raises(AnsibleFailJson) as failure:
        invoke(home, tmp_path, files=files_of("changed"))
    msg = failure.value.args[0]["msg"]
    assert "was interrupted" in msg and open_backup in msg and "nothing else was done" in msg, msg
    assert tree(home) == before


def test_everything_in_a_backup_is_on_disk_before_the_first_live_file_is_replaced(home, tmp_path, monkeypatch):
    """fsync where it matters: each copy, backup.json and their directories, before the first rename under etc/."""
    invoke(home, tmp_path, files=files_of("good"))
    events = []
    real_fsync, real_rename = os.fsync, os.rename

    def fsync(fd):
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        return real_fsync(fd)

    def rename(src, dst, *args, **kwargs):
        events.append(("rename", os.fsdecode(dst)))
        return real_rename(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "rename", rename)
    result = invoke(home, tmp_path, files=files_of("changed"))
    backup = Path(result["backup"])
    first_live = next(
        i for i, (kind, path) in enumerate(events) if kind == "rename" and path.startswith(str(home / "etc"))
    )
    synced = {path for kind, path in events[:first_live] if kind == "fsync"}
    expected = {
        str(backup / "files" / "etc" / "ossec.conf"),
        str(backup / "files" / "etc" / "lists" / "m1038-trusted-companies"),
    }
    expected |= {
        str(backup / "files" / "etc"),
        str(backup / "files" / "etc" / "lists"),
        str(backup / "files"),
        str(backup),
    }
    expected |= {str(backup / "backup.json"), str(backup.parent)}
    assert expected <= synced, sorted(expected - synced)
    for rel in ("etc/lists/m1038-trusted-companies", "etc/lists/m1038-trusted-paths", "etc/ossec.conf"):
        written = max(i for i, (kind, path) in enumerate(events) if kind == "rename" and path == str(home / rel))
        assert ("fsync", str((home / rel).parent)) in events[written:], f"{rel}: its directory was not synced"


# -- issue 8, item 1: a change stays pending on the manager until a validated restart --------


def pending_file(home):
    return state_dir(home) / "pending.json"


def test_a_change_stays_pending_on_the_manager_until_it_is_validated(home, tmp_path):
    first = invoke(home, tmp_path, files=files_of("good"))
    assert first["pending"] == [first["backup"]]
    assert pending_file(home).is_file()
    # A rerun with the same content changes nothing, but does not forget that nothing validated it.
    again = invoke(home, tmp_path, files=files_of("good"))
    assert (again["changed"], again["pending"]) == (False, [first["backup"]])
    info = wazuh_manager_info.read_manager(str(home), str(state_dir(home)))
    assert info["pending"] == [first["backup"]]
    assert info["interrupted"] == []

    check = invoke(home, tmp_path, state="validated", check=True)
    assert (check["changed"], check["pending"]) == (True, [first["backup"]])
    assert pending_file(home).is_file()
    done = invoke(home, tmp_path, state="validated")
    assert (done["changed"], done["pending"]) == (True, [])
    assert not pending_file(home).exists()
    assert invoke(home, tmp_path, state="validated")["changed"] is False
    assert wazuh_manager_info.read_manager(str(home), str(state_dir(home)))["pending"] == []


def test_rolling_back_pending_changes_returns_to_the_last_validated_content(home, tmp_path):
    invoke(home, tmp_path, files=files_of("good"))
    invoke(home, tmp_path, state="validated")
    validated = tree(home)
    manifest = (state_dir(home) / "managed.json").read_bytes()
    second = invoke(home, tmp_path, files=files_of("changed"))  # e.g. a run that failed before its restart
    third = invoke(home, tmp_path, files=files_of("broken"))  # the next run deploys again
    assert third["pending"] == [second["backup"], third["backup"]]

    rolled = invoke(home, tmp_path, state="restored")
    assert rolled["changed"] is True
    assert rolled["pending"] == []
    assert tree(home) == validated, "rolling back only the last change would leave the unvalidated one in place"
    assert (state_dir(home) / "managed.json").read_bytes() == manifest
    assert not pending_file(home).exists()
    nothing = invoke(home, tmp_path, state="restored")
    assert (nothing["changed"], nothing["restored"]) == (False, [])


def test_a_change_undone_at_once_or_by_recovery_is_not_pending(home, tmp_path, monkeypatch):
    invoke(home, tmp_path, files=files_of("good"))
    invoke(home, tmp_path, state="validated")
    run_killed_after_first_content_write(home, tmp_path, "changed")
    info = wazuh_manager_info.read_manager(str(home), str(state_dir(home)))
    assert len(info["interrupted"]) == 1
    assert info["pending"] == info["interrupted"], "the killed run's change was pending from its first write"
    result = invoke(home, tmp_path, state="validated")  # any run recovers first
    assert result["recovered"] == info["interrupted"]
    assert result["pending"] == []

    def broken_write(self, text):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(wazuh_content.Transaction, "_write_conf", broken_write)
    with pytest.raises(AnsibleFailJson):
        invoke(home, tmp_path, files=files_of("changed"))
    assert not pending_file(home).exists()


def test_recovery_removes_only_its_own_temporary_files(home, tmp_path):
    """A kill between mkstemp and rename leaves a temporary file; other dot files (the double's fault
    files such as etc/.m1038-double-fail-start, a user's own) are none of recovery's business."""
    invoke(home, tmp_path, files=files_of("good"))
    ours = home / "etc" / "rules" / ".m1038-content-tmp-abc123"
    ours.write_text("half", encoding="utf-8")
    theirs = [home / "etc" / ".m1038-double-fail-start", home / "etc" / "lists" / ".keep"]
    for path in theirs:
        path.write_text("keep me", encoding="utf-8")
    invoke(home, tmp_path, state="validated")
    assert not ours.exists()
    assert all(path.read_text(encoding="utf-8") == "keep me" for path in theirs)


# -- issue 13: <localfile> blocks for log files the manager reads (the WithSecure forwarder) ---------
LIST_LINE = "    <list>etc/lists/m1038-trusted-companies</list>\n"
FORWARDER_FILE = {"location": "/var/log/m1038-withsecure/events.json", "log_format": "json"}
RESUMING = {**FORWARDER_FILE, "only_future_events": False, "max_size": "1G"}


def manifest_of(home):
    return json.loads((state_dir(home) / "managed.json").read_text(encoding="utf-8"))


def test_localfiles_and_content_files_are_managed_independently(home, tmp_path):
    invoke(home, tmp_path, files=files_of("good"))
    content_manifest = manifest_of(home)
    packaged = (DOUBLE_HOME / "etc" / "ossec.conf").read_text(encoding="utf-8")

    check = invoke(home, tmp_path, localfiles=[RESUMING], check=True, diff=True)
    assert (check["changed"], check["localfiles_added"], check["created"]) == (True, [RESUMING["location"]], [])
    assert changed_lines(conf_entry(check)["prepared"]) == [
        "+  <localfile>",
        "+    <log_format>json</log_format>",
        "+    <location>/var/log/m1038-withsecure/events.json</location>",
        '+    <only-future-events max-size="1G">no</only-future-events>',
        "+  </localfile>",
    ]
    assert manifest_of(home) == content_manifest

    added = invoke(home, tmp_path, localfiles=[RESUMING])
    assert (added["changed"], added["localfiles_added"], added["removed"]) == (True, [RESUMING["location"]], [])
    assert manifest_of(home) == {**content_manifest, "localfiles": [RESUMING]}
    conf = (home / "etc" / "ossec.conf").read_text(encoding="utf-8")
    assert conf.count("<location>/var/log/m1038-withsecure/events.json</location>") == 1
    assert (home / "etc" / "rules" / "m1038-appcontrol_rules.xml").is_file()
    assert invoke(home, tmp_path, localfiles=[RESUMING])["changed"] is False

    # The content run (files only, as the wazuh_manager role's main entry point) keeps the block...
    content = invoke(home, tmp_path, files=files_of("good"))
    assert (content["changed"], content["localfiles_removed"]) == (False, [])
    # ...and an empty list removes exactly what was added, nothing else.
    gone = invoke(home, tmp_path, localfiles=[])
    assert (gone["changed"], gone["localfiles_removed"]) == (True, [RESUMING["location"]])
    assert manifest_of(home) == content_manifest
    conf = (home / "etc" / "ossec.conf").read_text(encoding="utf-8")
    assert conf.replace(LIST_LINE, "") == packaged


def test_restore_takes_a_localfile_block_back_out(home, tmp_path):
    before = tree(home)
    added = invoke(home, tmp_path, localfiles=[FORWARDER_FILE])
    rolled = invoke(home, tmp_path, state="restored", backup=added["backup"])
    assert rolled["restored"] == ["etc/ossec.conf"]
    assert tree(home) == before
    assert manifest_of(home) == {"files": [], "lists": []}


def test_state_present_needs_files_or_localfiles(home, tmp_path):
    with pytest.raises(AnsibleFailJson, match="files, localfiles"):
        invoke(home, tmp_path)


@pytest.mark.parametrize(
    ("localfiles", "message"),
    [
        ([{"location": "var/log/x.json", "log_format": "json"}], r"localfiles\[0\]: location 'var/log/x.json'"),
        ([FORWARDER_FILE, {**FORWARDER_FILE, "log_format": "syslog"}], "listed twice"),
    ],
)
def test_bad_localfiles_are_refused_before_anything_is_written(home, tmp_path, localfiles, message):
    before = tree(home)
    with pytest.raises(AnsibleFailJson, match=message):
        invoke(home, tmp_path, localfiles=localfiles)
    assert tree(home) == before
