"""Reading and editing a Windows agent's ossec.conf (_wazuh_agent_ossec, _wazuh_agent_ossec_edit).

Fixtures in tests/unit/fixtures/wazuh_agent/ossec/ (README there). They are stored with LF line endings;
each test that matters runs them with CRLF too, as the agent's installer writes them on Windows.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.m1038.appcontrol.plugins.module_utils._ossec_conf import decode_conf, encode_conf
from ansible_collections.m1038.appcontrol.plugins.module_utils._wazuh_agent_ossec import (
    BEGIN_MARK,
    END_MARK,
    AgentOssecError,
    read_conf,
)
from ansible_collections.m1038.appcontrol.plugins.module_utils._wazuh_agent_ossec_edit import (
    Desired,
    edit,
    render_block,
)
from ansible_collections.m1038.appcontrol.plugins.module_utils._wazuh_channels import channels
from ansible_collections.m1038.appcontrol.plugins.module_utils._wazuh_osxml import read

FIXTURES = Path(__file__).resolve().parents[3] / "unit" / "fixtures" / "wazuh_agent" / "ossec"
MANAGER = "wazuh.corp.example.com"
TABLE = channels()
ENDINGS = pytest.mark.parametrize("newline", ["\n", "\r\n"], ids=["lf", "crlf"])


def fixture(name: str, newline: str = "\n") -> str:
    return decode_conf((FIXTURES / name).read_bytes()).replace("\n", newline)


def desired(**overrides) -> Desired:
    settings = {"manager_address": MANAGER, "agent_name": "ws-0101", "groups": "m1038-windows", "channels": TABLE}
    settings.update(overrides)
    return Desired(**settings)


def outline(text: str) -> list:
    """Every element as the agent reads it, minus what the role owns (client values, the managed block)."""
    conf = read_conf(text)
    owned = {"address", "port", "agent_name", "groups", "manager_address", "enabled", "authorization_pass_path"}
    result = []

    def walk(node, path):
        for child in node.children:
            here = f"{path}/{child.element}"
            if here.startswith("/client") and child.element in owned | {"enrollment", "server"} and not child.children:
                continue
            if not here.startswith("/client/enrollment") and here != "/client/server":
                result.append((here, tuple(child.attributes), child.content if not child.children else ""))
            walk(child, here)

    for root in conf.roots:
        walk(root, "")
    return result


@ENDINGS
def test_default_configuration_gets_the_manager_the_enrollment_and_the_block(newline):
    text = fixture("default-4x.conf", newline)
    result = edit(text, desired())
    assert result.changes == [
        "<client><server><address>: '0.0.0.0' -> 'wazuh.corp.example.com'",
        "<client><enrollment> added: agent_name=ws-0101, groups=m1038-windows",
        "managed block added (5 channels)",
    ]
    # The default configuration collects the whole Application channel: WithSecure's events are in it already.
    assert [c["location"] for c in result.channels] == [c["location"] for c in TABLE[:5]]
    assert "Application: ossec.conf already collects it" in result.warnings[0]
    new = result.text
    assert newline + "    <enrollment>" + newline + "      <agent_name>ws-0101</agent_name>" + newline in new
    assert new.startswith(text[: text.index("<address>") + len("<address>")])
    assert new.endswith(render_block(result.channels, newline))
    if newline == "\r\n":
        assert "\n" not in new.replace("\r\n", "")  # no bare LF was introduced
    assert outline(new) == outline(text)  # every other setting as the agent reads it
    conf = read_conf(new)
    assert conf.server_values() == [{"address": MANAGER, "port": "1514", "protocol": "tcp"}]
    assert conf.enrollment() == {"agent_name": "ws-0101", "groups": "m1038-windows"}
    assert conf.block_channels == result.channels
    again = edit(new, desired())
    assert again.text == new and again.changes == []


@ENDINGS
def test_hand_edited_file_keeps_every_byte_outside_the_role_values(newline):
    raw = (FIXTURES / "multi-block-user.conf").read_bytes().replace(b"\n", newline.encode())
    text = decode_conf(raw)
    result = edit(text, desired(password_file=True))
    assert result.changes == [
        "<client><server><address>: 'wazuh-old.corp.example.com' -> 'wazuh.corp.example.com'",
        "<client><enrollment><groups>: 'default,desktops' -> 'm1038-windows'",
        "<client><enrollment><manager_address>: 'wazuh-old.corp.example.com' -> 'wazuh.corp.example.com'",
        "managed block added (5 channels)",
    ]
    assert "Microsoft-Windows-Sysmon/Operational: ossec.conf already collects it" in result.warnings[0]
    assert "query Event/System[EventID=1 or EventID=3]" in result.warnings[0]
    data = encode_conf(result.text)
    assert b"r\xe9seau" in data  # the Latin-1 byte survives: Wazuh reads bytes, so must we
    # Exactly three values and the appended block differ; the rest is byte for byte the same.
    head = raw[: raw.index(b"<!-- m1038")] if b"<!-- m1038" in raw else raw
    assert data.startswith(
        head.replace(b"wazuh-old.corp", b"wazuh.corp").replace(b"default,desktops", b"m1038-windows")
    )
    assert outline(result.text) == outline(text)
    powershell = next(f for f in read_conf(result.text).localfiles if "PowerShell" in f.location)
    assert powershell.query == "Event/System[EventID<4105 or EventID>4106]"  # the user's escape, as the agent reads it
    assert edit(result.text, desired(password_file=True)).changes == []


def test_a_stale_block_is_rewritten_and_what_follows_it_survives():
    text = fixture("managed-stale.conf")
    result = edit(text, desired())
    assert result.changes == [
        "<client><enrollment><agent_name> added: ws-0101",
        "managed block rewritten (2 -> 5 channels)",
    ]
    assert result.text.endswith(text[text.index("\n<ossec_config>\n  <!-- added by hand") :])
    assert read_conf(result.text).block_channels == result.channels
    assert outline(result.text) == outline(text)


@ENDINGS
def test_central_collection_removes_the_block_and_restores_the_file(newline):
    original = fixture("default-4x.conf", newline)
    with_block = edit(original, desired()).text
    central = edit(with_block, desired(channels=[]))
    assert central.changes == ["managed block removed (5 channels)"]
    assert central.text == edit(original, desired(channels=[])).text
    assert BEGIN_MARK not in central.text
    stripped = edit(original, desired(channels=[]))
    assert "managed block" not in " ".join(stripped.changes)


def test_queries_and_names_are_written_with_the_agent_readers_escape():
    special = [{"location": "Security", "query": "*[System[EventID>=4688 and EventID<=4689]] and \\x"}]
    result = edit(
        fixture("failover.conf").split("<server>")[0] + "</client></ossec_config>\n", desired(channels=special)
    )
    assert "<query>*[System[EventID>=4688 and EventID\\<=4689]] and \\\\x</query>" in result.text
    assert read_conf(result.text).block_channels == special


def test_missing_client_and_server_are_added_indented_like_their_neighbours():
    text = "<ossec_config>\n\t<localfile>\n\t\t<location>System</location>\n\t</localfile>\n</ossec_config>\n"
    result = edit(text, desired(channels=[], groups="", agent_name=""))
    assert result.text == text.replace(
        "</ossec_config>",
        "\t<client>\n\t\t<server>\n\t\t\t<address>wazuh.corp.example.com</address>\n\t\t\t<port>1514</port>\n"
        "\t\t</server>\n\t</client>\n</ossec_config>",
    )
    bare = "<ossec_config><client><notify_time>10</notify_time></client></ossec_config>"
    result = edit(bare, desired(channels=[], manager_port=1515, enrollment_port=1516))
    conf = read_conf(result.text)
    assert conf.server_values() == [{"address": MANAGER, "port": "1515", "protocol": None}]
    assert conf.enrollment() == {"agent_name": "ws-0101", "groups": "m1038-windows", "port": "1516"}
    assert edit(result.text, desired(channels=[], manager_port=1515, enrollment_port=1516)).changes == []


def test_enrollment_settings_that_would_send_the_key_request_elsewhere_are_corrected():
    text = (
        fixture("multi-block-user.conf")
        .replace("<enabled>yes</enabled>", "<enabled>no</enabled>")
        .replace("<authorization_pass_path>authd.pass<", "<authorization_pass_path>C:\\secrets\\pw.txt<")
    )
    result = edit(text, desired(password_file=True, channels=[]))
    assert "<client><enrollment><enabled>: 'no' -> 'yes'" in result.changes
    assert "<client><enrollment><authorization_pass_path>: 'C:\\\\secrets\\\\pw.txt' -> 'authd.pass'" in result.changes
    # Without a password file the role leaves the file's own password path alone.
    assert not any("authorization_pass_path" in c for c in edit(text, desired(channels=[])).changes)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        (
            "broken-unclosed.conf",
            r"Wazuh's XML reader refuses it: XMLERR: Element 'localfile' not closed\. \(line 10\)",
        ),
        ("failover.conf", r"lists 2 managers in <client><server> \(lines 3, 7, failover\)"),
    ],
)
def test_files_the_role_must_not_edit_are_refused_naming_the_line(name, message):
    with pytest.raises(AgentOssecError, match=message):
        edit(fixture(name), desired())


GOOD_BLOCK = render_block(TABLE[:1])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("<ossec_config></ossec_config>\n" + GOOD_BLOCK + GOOD_BLOCK, r"markers are broken \(2 BEGIN, 2 END"),
        (f"<ossec_config></ossec_config>\n{END_MARK}\n{BEGIN_MARK}\n<ossec_config/>\n", r"markers are broken"),
        (
            f"<ossec_config>\n{BEGIN_MARK}\n</ossec_config>\n<ossec_config/>\n{END_MARK}\n",
            r"lies inside <ossec_config>",
        ),
        (
            f"<ossec_config/>\n{BEGIN_MARK}\n<ossec_config/>\n<ossec_config/>\n{END_MARK}\n",
            r"must hold exactly one <ossec_config> element, it holds 2",
        ),
        ("<ossec_config/>\n<agent_config/>\n", r"line 2 holds a top-level <agent_config>"),
        ("<!-- nothing -->\n", r"holds no <ossec_config> element"),
        ("<ossec_config><client><server-ip>10.0.0.1</server-ip></client></ossec_config>", r"<server-ip>"),
        (
            "<ossec_config><client><server><address>a</address><address>b</address></server></client></ossec_config>",
            r"sets <client><server><address> twice",
        ),
        (GOOD_BLOCK, r"holds only the role's managed block"),
    ],
    ids=["two-blocks", "end-first", "marker-inside", "two-elements", "other-root", "empty", "legacy", "twice", "only"],
)
def test_broken_or_unexpected_files_are_reported(text, message):
    with pytest.raises(AgentOssecError, match=message):
        edit(text, desired())


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"manager_address": "wazuh<x"}, r"manager address 'wazuh<x' is not a host name"),
        ({"manager_address": ""}, r"manager address '' is not a host name"),
        ({"manager_port": 0}, r"manager port 0 is not a TCP port"),
        ({"enrollment_port": True}, r"enrollment port True is not a TCP port"),
        ({"agent_name": "ws 01"}, r"agent name 'ws 01' must be 2-128"),
        ({"groups": "m1038-windows,,x"}, r"agent group '' may hold only"),
        ({"channels": [{"location": "A", "query": "<!-- x -->"}]}, r"wazuh_agent_channels: .* holds '<!'"),
        ({"channels": [{"location": "A"}, {"location": "A"}]}, r"wazuh_agent_channels: channel #2: channel 'A'"),
    ],
)
def test_bad_settings_are_named_before_the_file_is_read(overrides, message):
    with pytest.raises(AgentOssecError, match=message):
        edit("not even xml <", desired(**overrides))


_QUERY = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\r\n"), max_size=30
).filter(lambda q: "<!" not in q and q.strip() == q)


@given(
    subset=st.lists(st.sampled_from(range(len(TABLE))), unique=True, max_size=len(TABLE)),
    query=_QUERY,
    newline=st.sampled_from(["\n", "\r\n"]),
)
def test_property_edit_is_idempotent_reads_back_and_leaves_the_rest(subset, query, newline):
    wanted = [TABLE[i] for i in sorted(subset)] + [{"location": "Custom/Operational", "query": query}]
    original = fixture("default-4x.conf", newline)
    result = edit(original, desired(channels=wanted))
    assert read_conf(result.text).block_channels == result.channels
    assert {"location": "Custom/Operational", "query": query} in result.channels
    assert outline(result.text) == outline(original)
    assert edit(result.text, desired(channels=wanted)).changes == []
    # Switching to central collection removes exactly what the role added.
    assert edit(result.text, desired(channels=[])).text == edit(original, desired(channels=[])).text


def test_block_offsets_cover_the_marker_lines():
    text = fixture("managed-stale.conf")
    block = read_conf(text).block
    assert text[block.start : block.end].startswith(BEGIN_MARK)
    assert text[block.start : block.end].endswith(END_MARK + "\n")
    assert read(text[block.start : block.end]).children[0].element == "ossec_config"
