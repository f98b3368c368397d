"""Unit and property tests for the surgical ossec.conf helper (_ossec_conf)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.m1038.appcontrol.plugins.module_utils._ossec_conf import (
    LocalFile,
    OssecConfError,
    decode_conf,
    edit_lists,
    edit_localfiles,
    encode_conf,
    list_path,
    mask_comments,
    read_cluster,
    read_localfiles,
    read_ruleset,
)

DOUBLE_CONF = (
    Path(__file__).resolve().parents[3] / "doubles" / "wazuh-manager" / "root" / "var" / "ossec" / "etc" / "ossec.conf"
)
CONF = DOUBLE_CONF.read_text(encoding="utf-8")

list_names = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,30}", fullmatch=True)


def test_read_ruleset_collects_all_entries_in_order_and_skips_comments():
    ruleset = read_ruleset(CONF)
    assert ruleset.rule_dirs == ["ruleset/rules", "etc/rules"]
    assert ruleset.decoder_dirs == ["ruleset/decoders", "etc/decoders"]
    assert ruleset.rule_excludes == ["0215-double-policy_rules.xml"]
    assert ruleset.lists == ["etc/lists/audit-keys", "etc/lists/security-eventchannel"]


def test_read_cluster_disabled_master_is_writer():
    cluster = read_cluster(CONF)
    assert (cluster.disabled, cluster.node_type, cluster.node_name, cluster.is_writer) == (
        True,
        "master",
        "node01",
        True,
    )


def test_enabled_worker_is_not_writer():
    text = "<ossec_config><cluster><node_type>worker</node_type><disabled>no</disabled></cluster></ossec_config>"
    assert read_cluster(text).is_writer is False


def test_no_cluster_section_means_standalone_writer():
    assert read_cluster("<ossec_config><global/></ossec_config>").is_writer is True


def test_unknown_node_type_is_refused_by_name():
    with pytest.raises(OssecConfError, match="'client'"):
        read_cluster("<ossec_config><cluster><node_type>client</node_type></cluster></ossec_config>")


def test_broken_xml_names_file_and_line():
    with pytest.raises(OssecConfError, match=r"ossec.conf: not well-formed XML at line 3"):
        read_ruleset("<ossec_config>\n<ruleset>\n<list>x</rule>\n</ruleset></ossec_config>")


def test_add_inserts_one_indented_line_before_closing_ruleset_and_nothing_else():
    new, added, removed = edit_lists(CONF, ["m1038-trusted-companies"])
    assert added == ["etc/lists/m1038-trusted-companies"]
    assert removed == []
    inserted = [line for line in new.splitlines() if "m1038-trusted-companies" in line]
    assert inserted == ["    <list>etc/lists/m1038-trusted-companies</list>"]
    assert new.replace("    <list>etc/lists/m1038-trusted-companies</list>\n", "", 1) == CONF
    assert read_ruleset(new).lists[-1] == "etc/lists/m1038-trusted-companies"


def test_add_is_idempotent_and_already_registered_list_is_left_alone():
    once = edit_lists(CONF, ["m1038-a"])[0]
    twice, added, removed = edit_lists(once, ["m1038-a", "audit-keys"])
    assert twice == once
    assert (added, removed) == ([], [])


def test_remove_drops_only_our_live_line_not_the_commented_one():
    text = edit_lists(CONF, ["m1038-commented-out"])[0]
    assert "<!-- <list>etc/lists/m1038-commented-out</list> -->" in text
    back, added, removed = edit_lists(text, [], ["m1038-commented-out"])
    assert removed == ["etc/lists/m1038-commented-out"]
    assert added == []
    assert back == CONF


def test_a_name_both_added_and_removed_is_kept():
    text = edit_lists(CONF, ["m1038-a"])[0]
    same, added, removed = edit_lists(text, ["m1038-a"], ["m1038-a"])
    assert (same, added, removed) == (text, [], [])


def test_ruleset_inside_a_comment_is_not_used():
    text = (
        "<!-- <ruleset></ruleset> -->\n<ossec_config>\n  <ruleset>\n"
        "    <rule_dir>etc/rules</rule_dir>\n  </ruleset>\n</ossec_config>\n"
    )
    new, added, removed = edit_lists(text, ["m1038-x"])
    assert removed == []
    assert new.startswith("<!-- <ruleset></ruleset> -->\n")
    assert "    <list>etc/lists/m1038-x</list>\n  </ruleset>" in new
    assert added == ["etc/lists/m1038-x"]


def test_missing_ruleset_is_an_error_naming_the_file():
    with pytest.raises(OssecConfError, match=r"/x/ossec\.conf: no <ruleset>"):
        edit_lists("<ossec_config><global/></ossec_config>", ["m1038-x"], source="/x/ossec.conf")


@pytest.mark.parametrize("bad", ["", "../etc/passwd", "a/b", ".hidden", "x<y", "a b", "x\n", 'q"'])
def test_bad_list_names_are_refused_with_the_name(bad):
    with pytest.raises(OssecConfError, match="is not a plain file name"):
        list_path(bad)


@given(st.lists(list_names, max_size=6, unique=True), st.lists(list_names, max_size=6, unique=True))
def test_property_edit_registers_exactly_the_wanted_set_and_keeps_other_text(first, second):
    step1 = edit_lists(CONF, first)[0]
    step2 = edit_lists(step1, second, [n for n in first if n not in second])[0]
    registered = read_ruleset(step2).lists
    base = read_ruleset(CONF).lists
    assert set(registered) == set(base) | {list_path(n) for n in second}
    assert len(registered) == len(set(registered))
    ours = {f"    <list>{list_path(n)}</list>\n" for n in set(first) | set(second)} - {
        f"    <list>{p}</list>\n" for p in base
    }
    stripped = "".join(line for line in step2.splitlines(keepends=True) if line not in ours)
    assert stripped == CONF


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=200))
def test_property_mask_comments_keeps_length_and_newlines(text):
    masked = mask_comments(text)
    assert len(masked) == len(text)
    assert [i for i, c in enumerate(masked) if c == "\n"] == [i for i, c in enumerate(text) if c == "\n"]


@given(st.binary(max_size=200))
def test_property_any_bytes_survive_decode_and_encode(data):
    """Issue 8, item 9: os_xml decodes nothing, so ossec.conf may hold bytes that are not UTF-8; keep them."""
    assert encode_conf(decode_conf(data)) == data


@given(st.lists(list_names, min_size=1, max_size=3, unique=True), st.binary(max_size=40))
def test_property_edit_keeps_every_byte_of_a_conf_that_is_not_utf8(names, junk):
    """Bytes that are not UTF-8 in a comment: the edit adds our lines and changes no other byte."""
    raw = CONF.encode("utf-8").replace(b"<!-- Default ruleset -->", b"<!-- " + junk.replace(b"-", b"_") + b" -->")
    text = decode_conf(raw)
    try:
        read_ruleset(text)
    except OssecConfError:
        return  # junk that makes the comment ill-formed XML (e.g. a NUL) is refused, never rewritten
    new_text, added, _removed = edit_lists(text, names)
    new_raw = encode_conf(new_text)
    for path in added:
        new_raw = new_raw.replace(f"    <list>{path}</list>\n".encode(), b"", 1)
    assert new_raw == raw


# -- <localfile> blocks ------------------------------------------------------------------------
EVENTS = LocalFile("/var/log/m1038-withsecure/events.json", "json", only_future_events=False, max_size="1G")
EVENTS_BLOCK = (
    "  <localfile>\n"
    "    <log_format>json</log_format>\n"
    "    <location>/var/log/m1038-withsecure/events.json</location>\n"
    '    <only-future-events max-size="1G">no</only-future-events>\n'
    "  </localfile>\n"
)
locations = st.from_regex(r"(/[a-z0-9._-]{1,8}){1,3}", fullmatch=True).filter(
    lambda p: not any(part in (".", "..") for part in p.split("/"))
)


def test_localfile_goes_before_the_first_closing_ossec_config_indented_and_nothing_else_changes():
    new, added, removed = edit_localfiles(CONF, [EVENTS])
    assert (added, removed) == (["/var/log/m1038-withsecure/events.json"], [])
    assert new.count(EVENTS_BLOCK) == 1
    assert new.replace(EVENTS_BLOCK, "", 1) == CONF
    first_close = new.index("</ossec_config>")
    assert new.index(EVENTS_BLOCK) < first_close < new.index("<cluster>")
    assert read_localfiles(new) == [{"location": EVENTS.location, "log_format": "json"}]


def test_localfile_edit_is_idempotent_and_removal_gives_the_original_back():
    once = edit_localfiles(CONF, [EVENTS])[0]
    assert edit_localfiles(once, [EVENTS]) == (once, [], [])
    back, added, removed = edit_localfiles(once, [], [EVENTS])
    assert (back, added, removed) == (CONF, [], [EVENTS.location])


def test_a_changed_block_replaces_the_one_we_wrote_before():
    once = edit_localfiles(CONF, [EVENTS])[0]
    plain = LocalFile(EVENTS.location, "json")
    new, added, removed = edit_localfiles(once, [plain], [EVENTS])
    assert (added, removed) == ([EVENTS.location], [EVENTS.location])
    assert "only-future-events" not in new
    assert read_localfiles(new) == [{"location": EVENTS.location, "log_format": "json"}]


def test_someone_elses_localfile_for_our_location_is_refused_by_name_and_never_doubled():
    theirs = CONF.replace(
        "</global>",
        "</global>\n  <localfile>\n    <location>/var/log/m1038-withsecure/events.json</location>\n"
        "    <log_format>syslog</log_format>\n  </localfile>",
        1,
    )
    with pytest.raises(OssecConfError, match=r"/var/log/m1038-withsecure/events.json \(log_format syslog\)"):
        edit_localfiles(theirs, [EVENTS])
    # And removing ours never touches theirs.
    assert edit_localfiles(theirs, [], [EVENTS]) == (theirs, [], [])


def test_a_commented_out_copy_of_our_block_is_neither_removed_nor_counted():
    commented = CONF.replace("<!-- A user's setting the role must keep: -->", "<!--\n" + EVENTS_BLOCK + "-->", 1)
    new, added, _removed = edit_localfiles(commented, [EVENTS])
    assert added == [EVENTS.location]
    assert new.count(EVENTS_BLOCK) == 2  # the comment's and ours
    assert edit_localfiles(new, [], [EVENTS])[0] == commented


def test_a_one_line_ossec_config_gets_the_block_on_lines_of_its_own():
    text = "<ossec_config><global/></ossec_config>\n"
    new, added, _removed = edit_localfiles(text, [LocalFile("/var/log/x.json", "json")])
    assert added == ["/var/log/x.json"]
    assert read_localfiles(new) == [{"location": "/var/log/x.json", "log_format": "json"}]
    assert edit_localfiles(new, [], [LocalFile("/var/log/x.json", "json")])[0].replace("\n", "") == text.replace(
        "\n", ""
    )


def test_no_ossec_config_block_is_an_error_naming_the_file():
    with pytest.raises(OssecConfError, match="no <ossec_config> block"):
        edit_localfiles("<!-- empty -->\n", [EVENTS], source="/var/ossec/etc/ossec.conf")


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"location": "relative/path", "log_format": "json"}, "is not an absolute file path"),
        ({"location": "/var/log/*.json", "log_format": "json"}, "is not an absolute file path"),
        ({"location": "/var/log/a&b", "log_format": "json"}, "is not an absolute file path"),
        ({"location": "/var/log/../etc/shadow", "log_format": "json"}, "'.' or '..'"),
        ({"location": "/var/log/x", "log_format": "command"}, "log_format 'command' is not one of"),
        ({"location": "/var/log/x", "log_format": "json", "max_size": "1G"}, "needs only_future_events"),
        ({"location": "/var/log/x", "log_format": "json", "only_future_events": False, "max_size": "1T"}, "max_size"),
        ({"location": "/var/log/x", "log_format": "json", "colour": "red"}, "unknown key"),
        ("/var/log/x", "expected a dict"),
    ],
)
def test_bad_localfile_entries_are_refused_naming_the_value(entry, message):
    with pytest.raises(OssecConfError, match=message):
        LocalFile.from_dict(entry, "localfiles[0]")


@given(st.lists(locations, max_size=4, unique=True), st.lists(locations, max_size=4, unique=True))
def test_property_localfile_edit_holds_exactly_the_wanted_blocks_and_keeps_other_text(first, second):
    one = [LocalFile(loc, "json") for loc in first]
    two = [LocalFile(loc, "syslog", only_future_events=False) for loc in second]
    step1 = edit_localfiles(CONF, one)[0]
    step2 = edit_localfiles(step1, two, one)[0]
    assert sorted(lf["location"] for lf in read_localfiles(step2)) == sorted(second)
    assert edit_localfiles(step2, [], two)[0] == CONF
