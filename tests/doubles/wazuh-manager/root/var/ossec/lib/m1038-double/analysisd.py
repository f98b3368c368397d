# TEST DOUBLE of wazuh-analysisd (m1038.appcontrol tests). Not Wazuh. Run through bin/wazuh-analysisd.
# Supports only `-t`: applies the project's own pre-flight checks
# (plugins/module_utils/_wazuh_preflight.py, _wazuh_rulesyntax.py and _ossec_conf.py, copied in at
# build time) to the files installed here, prints engine-like messages and
# exits non-zero on error. It cannot check what only the real engine parses
# (OS_Regex syntax, field names, decoder logic, option semantics).
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
HOME = os.environ.get("M1038_DOUBLE_HOME", os.path.dirname(os.path.dirname(HERE)))
sys.path.insert(0, HERE)

from _ossec_conf import OssecConfError, read_ruleset  # noqa: E402
from _wazuh_preflight import (  # noqa: E402
    Finding,
    RuleIndex,
    check_cdb_list,
    check_rules,
    parse_rules,
    parse_xml_fragment,
)

PREFIX = "wazuh-analysisd: CRITICAL: (test double)"


def read(path):
    with open(path, encoding="utf-8", errors="replace") as handle:
        return handle.read()


def xml_files(directory, excluded):
    if not os.path.isdir(directory):
        return []
    return [n for n in sorted(os.listdir(directory)) if n.endswith(".xml") and n not in excluded]


def test_config():
    findings = []
    try:
        ruleset = read_ruleset(read(os.path.join(HOME, "etc", "ossec.conf")), "etc/ossec.conf")
    except (OSError, OssecConfError) as exc:
        return [Finding("etc/ossec.conf", str(exc))]
    for decoder_dir in ruleset.decoder_dirs:
        for name in xml_files(os.path.join(HOME, decoder_dir), set(ruleset.decoder_excludes)):
            rel = f"{decoder_dir}/{name}"
            error = parse_xml_fragment(read(os.path.join(HOME, rel)), rel)[1]
            if error:
                findings.append(error)
    registered = set(ruleset.lists)
    present = set()
    for path in ruleset.lists:
        full = os.path.join(HOME, path)
        if not os.path.isfile(full):
            findings.append(Finding("etc/ossec.conf", f"registered CDB list {path} does not exist"))
            continue
        present.add(path)
        findings.extend(check_cdb_list(read(full), path))
    loaded = RuleIndex()
    for rule_dir in ruleset.rule_dirs:
        for name in xml_files(os.path.join(HOME, rule_dir), set(ruleset.rule_excludes)):
            rel = f"{rule_dir}/{name}"
            rules, problems = parse_rules(read(os.path.join(HOME, rel)), rel)
            findings.extend(problems)
            findings.extend(check_rules(rules, loaded, registered, present, id_min=1, id_max=10**9))
            loaded.add(rules)
    return findings


def main(argv):
    if argv[1:] != ["-t"]:
        print("wazuh-analysisd (TEST DOUBLE): only '-t' is supported", file=sys.stderr)
        return 2
    findings = test_config()
    errors = [f for f in findings if f.severity != "warning"]
    for finding in findings:
        if finding.severity == "warning":
            print(f"wazuh-analysisd: WARNING: (test double) {finding}", file=sys.stderr)
        else:
            print(f"{PREFIX} {finding}", file=sys.stderr)
    if errors:
        print("wazuh-analysisd: CRITICAL: (test double) Configuration error. Exiting.", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
