"""Benchmark m1038.appcontrol.applocker_readiness: stream a large alerts.json and judge the fleet.

Generates an alerts file in the shape the Wazuh manager writes (one JSON alert a line): by default
1,000,000 alerts from 10,000 Windows agents over 30 days, 10 % of them AppLocker would-be blocks
(8003/8006/8021) spread over 3,000 binaries (signed ones with an FQBN, unsigned ones with a hash),
the rest Sysmon and other alerts of the usual size; then, each in a fresh interpreter so that the
peak RSS (``ru_maxrss``) is its own and alternating ``--repeat`` times (best time, worst peak), times

* ``json.loads`` of every line (the floor of any reader of this format), and
* the readiness pipeline: stream every line into the evidence counters, judge every host, build
  the report, render readiness.json, readiness.html and suggestions.yml (not written).

Figures only: it asserts nothing but the number of alerts read.

    .cache/venv/bin/python benchmarks/bench_applocker_readiness.py --alerts 1000000 --hosts 10000 [--gzip]
"""

from __future__ import annotations

import argparse
import bisect
import copy
import gzip
import itertools
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "collections"))

WINDOW = ("2026-11-01T00:00:00Z", "2026-12-01T00:00:00Z")
START = 1_793_491_200  # 2026-11-01T00:00:00Z


def templates() -> tuple[dict, dict]:
    from ansible_collections.m1038.appcontrol.plugins.module_utils._wazuh_escape import (  # noqa: PLC0415
        eventchannel_value as ev,
    )

    sysmon = {
        "timestamp": "",
        "rule": {
            "level": 5,
            "description": "M1038: process from untrusted vendor Contoso Ltd started: "
            + ev("C:\\Program Files\\Contoso\\app.exe"),
            "id": "100202",
            "mitre": {"id": ["T1204.002"], "tactic": ["Execution"], "technique": ["Malicious File"]},
            "firedtimes": 1,
            "mail": False,
            "groups": ["m1038", "application_control", "m1038_sysmon", "m1038_untrusted_vendor"],
        },
        "agent": {"id": "", "name": "", "ip": "10.0.0.1"},
        "manager": {"name": "wazuh-manager"},
        "id": "",
        "decoder": {"name": "windows_eventchannel"},
        "data": {
            "win": {
                "system": {
                    "providerName": "Microsoft-Windows-Sysmon",
                    "eventID": "1",
                    "channel": "Microsoft-Windows-Sysmon/Operational",
                    "computer": "",
                    "severityValue": "INFORMATION",
                    "systemTime": "",
                },
                "eventdata": {
                    "image": ev("C:\\Program Files\\Contoso\\app.exe"),
                    "company": "Contoso Ltd",
                    "commandLine": ev('"C:\\Program Files\\Contoso\\app.exe" --update --quiet'),
                    "parentImage": ev("C:\\Windows\\explorer.exe"),
                    "user": ev("CORP\\alice"),
                    "hashes": "SHA256=" + "AB" * 32,
                },
            }
        },
        "location": "EventChannel",
    }
    applocker = copy.deepcopy(sysmon)
    applocker["rule"].update(id="100211", level=7, groups=["m1038", "application_control", "m1038_applocker"])
    applocker["data"]["win"] = {
        "system": {
            "providerName": "Microsoft-Windows-AppLocker",
            "eventID": "8003",
            "channel": "Microsoft-Windows-AppLocker/EXE and DLL",
            "computer": "",
            "severityValue": "WARNING",
            "systemTime": "",
        },
        "ruleAndFileData": {"policyName": "EXE", "targetUser": "", "filePath": "", "fullFilePath": ""},
    }
    return sysmon, applocker


def generate(path: Path, alerts: int, hosts: int, share: float, seed: int = 1038) -> int:
    from ansible_collections.m1038.appcontrol.plugins.module_utils._wazuh_escape import (  # noqa: PLC0415
        eventchannel_value as ev,
    )

    rng = random.Random(seed)
    sysmon, applocker = templates()
    binaries = []
    for index in range(3000):
        signed = index % 3 != 0
        name = f"TOOL{index:04d}.EXE"
        binaries.append(
            {
                "fqbn": ev(
                    f"O=VENDOR {index % 400:03d} LTD, L=CITY, S=STATE, C=US\\PRODUCT {index}\\{name}\\1.{index % 9}.0.0"
                )
                if signed
                else None,
                "fileHash": f"{index:064X}",
                "name": name,
            }
        )
    # A few binaries on many hosts: weights 1/rank, drawn through their cumulative sums.
    cumulative = list(itertools.accumulate(1.0 / (rank + 1) for rank in range(len(binaries))))
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wt", encoding="utf-8") as out:
        for number in range(alerts):
            host = rng.randrange(hosts)
            seconds = START + rng.randrange(30 * 86400)
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{number % 1000:03d}+0000"
            if rng.random() < share:
                alert = applocker
                binary = binaries[bisect.bisect_left(cumulative, rng.random() * cumulative[-1])]
                user = f"S-1-5-21-1004336348-1177238915-682003330-{1000 + host % 5000}"
                data = alert["data"]["win"]["ruleAndFileData"]
                data.update(
                    targetUser=user,
                    filePath=ev(f"%OSDRIVE%\\USERS\\U{host}\\APPDATA\\LOCAL\\{binary['name']}"),
                    fullFilePath=ev(f"C:\\Users\\u{host}\\AppData\\Local\\{binary['name'].lower()}"),
                    fileHash=binary["fileHash"],
                )
                if binary["fqbn"]:
                    data["fqbn"] = binary["fqbn"]
                else:
                    data.pop("fqbn", None)
            else:
                alert = sysmon
            alert["timestamp"] = stamp
            alert["agent"]["id"] = f"{host + 1:05d}"
            alert["agent"]["name"] = f"ws-{host:05d}"
            alert["id"] = f"{seconds}.{number}"
            alert["data"]["win"]["system"]["computer"] = f"ws-{host:05d}.corp.example"
            alert["data"]["win"]["system"]["systemTime"] = stamp.replace("+0000", "0000Z")
            out.write(json.dumps(alert, separators=(",", ":")) + "\n")
    return path.stat().st_size


def worker(kind: str, path: str, hosts: int) -> dict:
    start = time.perf_counter()  # reset below, after the imports
    if kind == "json.loads":
        opener = gzip.open if path.endswith(".gz") else open
        count = 0
        with opener(path, "rt", encoding="utf-8") as handle:
            for line in handle:
                json.loads(line)
                count += 1
        result = {"alerts": count}
    else:
        from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_readiness import (  # noqa: PLC0415
            Evidence,
            make_window,
        )
        from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_readiness_output import (  # noqa: PLC0415
            render_files,
        )
        from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_readiness_sources import (  # noqa: PLC0415
            read_alerts,
        )
        from ansible_collections.m1038.appcontrol.plugins.module_utils._applocker_readiness_thresholds import (  # noqa: PLC0415
            parse_thresholds,
        )

        start = time.perf_counter()
        window = make_window(start=WINDOW[0], end=WINDOW[1])
        evidence = Evidence(window, parse_thresholds({}), [f"ws-{n:05d}" for n in range(hosts)])
        sources = read_alerts([path], evidence)
        read = time.perf_counter() - start
        report = evidence.report(sources)
        files = render_files(report)
        summary = report["summary"]
        result = {
            "alerts": sources[0]["alerts"],
            "read_s": round(read, 2),
            "ready": summary["ready"],
            "not_ready": summary["not_ready"],
            "no_evidence": summary["no_evidence"],
            "binaries": summary["binaries"],
            "json_mb": round(len(files["readiness.json"]) / 1e6, 1),
            "html_mb": round(len(files["readiness.html"]) / 1e6, 1),
        }
    result["seconds"] = round(time.perf_counter() - start, 2)
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return result


def measure(kind: str, path: Path, hosts: int) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--worker", kind, "--file", str(path), "--hosts", str(hosts)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--alerts", type=int, default=1_000_000)
    parser.add_argument("--hosts", type=int, default=10_000)
    parser.add_argument("--share", type=float, default=0.1, help="share of AppLocker would-be blocks")
    parser.add_argument("--repeat", type=int, default=2, help="runs of each measurement (best time, worst peak)")
    parser.add_argument("--gzip", action="store_true", help="write and read the file gzip-compressed (rotated form)")
    parser.add_argument("--worker")
    parser.add_argument("--file")
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.file, args.hosts)))
        return
    with tempfile.TemporaryDirectory(prefix="m1038-bench-readiness-") as directory:
        path = Path(directory) / ("alerts.json.gz" if args.gzip else "alerts.json")
        began = time.perf_counter()
        size = generate(path, args.alerts, args.hosts, args.share)
        print(
            f"generated {args.alerts:,} alerts for {args.hosts:,} hosts ({args.share:.0%} AppLocker) "
            f"in {time.perf_counter() - began:.1f} s: {path.name}, {size / 1e6:,.1f} MB"
        )
        # Alternate the two, --repeat times each: best time, worst peak (the machine is shared).
        runs: dict[str, list[dict]] = {"json.loads": [], "readiness": []}
        for _round in range(args.repeat):
            for kind, results in runs.items():
                results.append(measure(kind, path, args.hosts))
        baseline, readiness = (
            {**min(results, key=lambda r: r["seconds"]), "peak_rss_mb": max(r["peak_rss_mb"] for r in results)}
            for results in runs.values()
        )
        assert baseline["alerts"] == readiness["alerts"] == args.alerts, (baseline, readiness)
        print(f"{'':24} {'seconds':>8} {'peak RSS MB':>12}")
        print(f"{'json.loads every line':24} {baseline['seconds']:>8} {baseline['peak_rss_mb']:>12}")
        print(f"{'readiness (all of it)':24} {readiness['seconds']:>8} {readiness['peak_rss_mb']:>12}")
        print(
            f"readiness: read {readiness['read_s']} s, judged {args.hosts:,} hosts (ready {readiness['ready']}, "
            f"not ready {readiness['not_ready']}, no evidence {readiness['no_evidence']}), "
            f"{readiness['binaries']:,} binaries; readiness.json {readiness['json_mb']} MB, "
            f"readiness.html {readiness['html_mb']} MB; time x{readiness['seconds'] / baseline['seconds']:.2f} "
            f"of json.loads; file {size / 1e6:,.1f} MB vs peak RSS {readiness['peak_rss_mb']} MB"
        )


if __name__ == "__main__":
    main()
