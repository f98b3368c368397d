"""Benchmark the software_inventory manager route: a whole fleet through the Wazuh API client.

For each fleet size it starts the Wazuh API TEST DOUBLE (tests/doubles/wazuh-api/wazuh_api_double.py)
as a separate process on loopback, serving a generated fleet (``--packages`` per agent on average,
every agent a Windows agent), then runs, in a fresh interpreter so that the peak RSS is its own, what
the ``wazuh_syscollector`` module runs: log in, page ``GET /agents``, page
``GET /syscollector/{agent_id}/packages`` for every agent with ``--concurrency`` threads, stream one
file per agent into a temporary directory. It runs the route twice: the first run writes every file,
the second (a rerun) reads everything again and writes nothing. It prints, per run, agents per second,
requests, the client's and the double's CPU seconds and the client's peak RSS (``ru_maxrss``).

Bounded memory shows as a peak RSS that does not grow with the fleet. The double serves from
Python on the same 2 cores, so agents per second measures the pair; the CPU columns say which side
was busy. Figures only; it asserts nothing but that every agent got its file.

    .cache/venv/bin/python benchmarks/bench_syscollector.py --agents 1000,10000
    .cache/venv/bin/python benchmarks/bench_syscollector.py --agents 10000 --concurrency 1,4,8 --tls
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "collections"))
DOUBLE = ROOT / "tests" / "doubles" / "wazuh-api" / "wazuh_api_double.py"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a running process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def worker(url: str, ca_path: str, dest: str, concurrency: int, page_size: int) -> dict:
    from ansible_collections.m1038.appcontrol.plugins.module_utils._software_inventory_api import (  # noqa: PLC0415
        ApiSettings,
        WazuhApi,
    )
    from ansible_collections.m1038.appcontrol.plugins.module_utils._software_inventory_fleet import (  # noqa: PLC0415
        run_fleet,
    )
    from ansible_collections.m1038.appcontrol.plugins.module_utils._software_inventory_store import (  # noqa: PLC0415
        ResponseStore,
    )
    from ansible_collections.m1038.appcontrol.plugins.module_utils._software_inventory_syscollector import (  # noqa: PLC0415
        DEFAULT_FIELDS,
        ApiSource,
    )

    runs = []
    for label in ("first", "rerun"):
        settings = ApiSettings(url, "wazuh-reader", "reader-pass", ca_path=ca_path or None, requests_per_minute=0)
        api = WazuhApi(settings)
        source = ApiSource(
            api,
            page_size=page_size,
            agents_page_size=500,
            fields=DEFAULT_FIELDS,
            platform="windows",
            statuses=["active", "disconnected"],
        )
        cpu = time.process_time()
        start = time.perf_counter()
        store = ResponseStore(dest, check_mode=False)
        result = run_fleet(source, store, concurrency=concurrency, on_agent_error="fail")
        elapsed = time.perf_counter() - start
        api.close()
        runs.append(
            {
                "run": label,
                "seconds": elapsed,
                "client_cpu": time.process_time() - cpu,
                "agents": result.agents,
                "packages": result.packages,
                "written": result.written_count,
                "unchanged": result.unchanged,
                "requests": api.stats["requests"],
                "retries": api.stats["retries"],
            }
        )
    files = [name for name in os.listdir(dest) if not name.startswith(".")]
    size = sum(os.path.getsize(os.path.join(dest, name)) for name in files)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"runs": runs, "files": len(files), "bytes": size, "peak_rss_mb": peak_mb}


def start_double(agents: int, packages: int, work: Path, tls: bool) -> tuple[subprocess.Popen, str, str]:
    port_file = work / "double.url"
    command = [sys.executable, str(DOUBLE), "--agents", str(agents), "--packages", str(packages)]
    command += ["--port-file", str(port_file)]
    ca_path = ""
    if tls:
        command += ["--tls-dir", str(work)]
        ca_path = str(work / "ca.pem")
    process = subprocess.Popen(command)
    deadline = time.monotonic() + 60
    while not port_file.exists() or not port_file.read_text().endswith("\n"):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise SystemExit("the Wazuh API TEST DOUBLE did not start")
        time.sleep(0.05)
    return process, port_file.read_text().strip(), ca_path


def measure(agents: int, packages: int, concurrency: int, page_size: int, tls: bool) -> dict:
    work = Path(tempfile.mkdtemp(prefix="bench-syscollector-"))
    process, url, ca_path = start_double(agents, packages, work, tls)
    try:
        double_cpu = cpu_seconds(process.pid)
        arguments = [url, ca_path, str(work / "dest"), str(concurrency), str(page_size)]
        completed = subprocess.run(
            [sys.executable, __file__, "--worker", json.dumps(arguments)],
            capture_output=True,
            text=True,
            check=True,
        )
        figures = json.loads(completed.stdout)
        figures["double_cpu"] = cpu_seconds(process.pid) - double_cpu
    finally:
        process.terminate()
        process.wait()
        shutil.rmtree(work, ignore_errors=True)
    if figures["files"] != agents:
        raise SystemExit(f"{agents} agents but {figures['files']} files")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", default="1000,10000", help="comma-separated fleet sizes")
    parser.add_argument("--packages", type=int, default=150, help="packages per agent, on average")
    parser.add_argument("--concurrency", default="4", help="comma-separated thread counts")
    parser.add_argument("--page-size", type=int, default=500)
    parser.add_argument("--tls", action="store_true", help="HTTPS with a generated CA, verified")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        url, ca_path, dest, concurrency, page_size = json.loads(args.worker)
        print(json.dumps(worker(url, ca_path, dest, int(concurrency), int(page_size))))
        return
    print(
        f"Wazuh API TEST DOUBLE on loopback ({'HTTPS, verified' if args.tls else 'HTTP'}), "
        f"{args.packages} packages per agent, page size {args.page_size}, Python {sys.version.split()[0]}"
    )
    header = (
        f"{'agents':>7} {'threads':>7} {'run':>6} {'seconds':>8} {'agents/s':>9} {'requests':>9} "
        f"{'client CPU':>10} {'packages':>10} {'written':>8} {'files MB':>9} {'peak RSS':>9}"
    )
    print(header)
    for agents in (int(n) for n in args.agents.split(",")):
        for concurrency in (int(n) for n in args.concurrency.split(",")):
            figures = measure(agents, args.packages, concurrency, args.page_size, args.tls)
            for run in figures["runs"]:
                print(
                    f"{agents:>7,} {concurrency:>7} {run['run']:>6} {run['seconds']:>8.1f} "
                    f"{run['agents'] / run['seconds']:>9.0f} {run['requests']:>9,} {run['client_cpu']:>9.1f}s "
                    f"{run['packages']:>10,} {run['written']:>8,} {figures['bytes'] / 1e6:>9.1f} "
                    f"{figures['peak_rss_mb']:>7.0f}MB"
                )
            print(f"{'':>7} {'':>7} the double used {figures['double_cpu']:.1f} s of CPU over both runs")


if __name__ == "__main__":
    main()
