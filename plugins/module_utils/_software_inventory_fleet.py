# -*- coding: utf-8 -*-
# Copyright: contributors to m1038.appcontrol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Manager route: every agent's packages into the saved-responses directory, with bounded memory.

The calling thread walks the agent list page by page and hands agents to ``concurrency`` worker
threads through a queue of ``2 * concurrency`` places, so at most that many agents wait and
``concurrency`` agents are in flight; each worker holds one page of one agent and streams it to
that agent's file (``_software_inventory_store``). What is kept per agent is its file name in a
set and its manifest entry (about 2 KB of Python objects): 10,000 agents never sit in memory with their
packages (``benchmarks/bench_syscollector.py`` measures it).

Per-agent failures (retries exhausted, a malformed page) follow ``on_agent_error``: ``fail`` stops
the run at the first one, ``keep`` leaves that agent's previous file in place and goes on. Failures
that no later request can escape (credentials, permissions, TLS, a foreign file in the way) stop
the run either way, as does a run of ``2 * concurrency`` (at least 10) consecutive agent failures.
Files already written stay written and listed in the manifest; files of agents that are gone are
removed only after a run that completed.
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass, field

from ansible_collections.m1038.appcontrol.plugins.module_utils._software_inventory_api import ApiError, ApiFatalError
from ansible_collections.m1038.appcontrol.plugins.module_utils._software_inventory_store import (
    ResponseStore,
    StoreError,
)
from ansible_collections.m1038.appcontrol.plugins.module_utils._software_inventory_syscollector import (
    Agent,
    AgentGone,
    PageError,
)
from ansible_collections.m1038.appcontrol.plugins.module_utils._software_inventory_text import Tally

MAX_LISTED = 50
ON_AGENT_ERROR = ("fail", "keep")


class FleetError(RuntimeError):
    """The run stopped; the message says why, and ``result`` what was done before."""

    def __init__(self, message: str, result: FleetResult) -> None:
        super().__init__(message)
        self.result = result


@dataclass
class FleetResult:
    source: str
    agents: int = 0
    packages: int = 0
    written_count: int = 0
    unchanged: int = 0
    empty_count: int = 0
    gone: int = 0
    failed_count: int = 0
    written: list = field(default_factory=list)
    empty: list = field(default_factory=list)
    failed: list = field(default_factory=list)
    removed: list = field(default_factory=list)
    foreign: list = field(default_factory=list)
    tally: Tally = field(default_factory=Tally)

    @property
    def changed(self) -> bool:
        return bool(self.written_count or self.removed)

    def to_dict(self) -> dict:
        return {
            "source": self.source,
            "agents": self.agents,
            "packages": self.packages,
            "written_count": self.written_count,
            "written": self.written,
            "unchanged": self.unchanged,
            "empty_count": self.empty_count,
            "empty": self.empty,
            "gone": self.gone,
            "failed_count": self.failed_count,
            "failed": self.failed,
            "removed": self.removed,
            "foreign": self.foreign,
            "normalised": self.tally.to_dict(),
        }


def _listed(items: list, entry) -> None:
    if len(items) < MAX_LISTED:
        items.append(entry)


class _Run:
    def __init__(self, source, store: ResponseStore, concurrency: int, on_agent_error: str) -> None:
        self.source = source
        self.store = store
        self.concurrency = concurrency
        self.on_agent_error = on_agent_error
        self.result = FleetResult(source.kind)
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.fatal: str | None = None
        self.in_a_row = 0
        self.breaker = max(10, 2 * concurrency)

    def _stop(self, message: str) -> None:
        with self.lock:
            if self.fatal is None:
                self.fatal = message
        self.stop.set()

    def _agent(self, agent: Agent) -> None:
        tally = Tally()
        out = self.store.open(agent.id, agent.name)
        try:
            self.source.fetch(agent, out, tally)
        except BaseException:
            out.discard()
            raise
        if out.packages == 0:
            out.discard()
            with self.lock:
                self.result.empty_count += 1
                _listed(self.result.empty, {"agent_id": agent.id, "agent_name": agent.name})
                self.result.tally.merge(tally)
            return
        outcome = self.store.commit(out)
        with self.lock:
            self.in_a_row = 0
            self.result.packages += outcome.packages
            self.result.tally.merge(tally)
            if outcome.status == "written":
                self.result.written_count += 1
                _listed(
                    self.result.written,
                    {
                        "agent_id": agent.id,
                        "agent_name": agent.name,
                        "packages": outcome.packages,
                        "before": outcome.before_packages,
                    },
                )
            else:
                self.result.unchanged += 1

    def _failed(self, agent: Agent, exc: Exception) -> None:
        message = f"agent {agent.id} ({agent.name}): {exc}"
        with self.lock:
            self.result.failed_count += 1
            _listed(self.result.failed, {"agent_id": agent.id, "agent_name": agent.name, "error": str(exc)})
            self.in_a_row += 1
            tripped = self.in_a_row >= self.breaker
        if self.on_agent_error == "fail":
            self._stop(message + " (on_agent_error=fail; set keep to keep its previous file and go on)")
        elif tripped:
            self._stop(f"{self.breaker} agents in a row failed, the API is not answering; the last: {message}")
        else:
            self.store.keep(agent.id)

    def _worker(self, work: queue.Queue) -> None:
        while True:
            agent = work.get()
            if agent is None:
                return
            if self.stop.is_set():
                continue
            try:
                self._agent(agent)
            except AgentGone:
                with self.lock:
                    self.result.gone += 1
            except (ApiFatalError, StoreError, OSError) as exc:
                self._stop(f"agent {agent.id} ({agent.name}): {exc}")
            except (ApiError, PageError) as exc:
                self._failed(agent, exc)
            except Exception as exc:  # a defect: stop cleanly and say where
                self._stop(f"agent {agent.id} ({agent.name}): unexpected {type(exc).__name__}: {exc}")

    def run(self) -> FleetResult:
        work: queue.Queue = queue.Queue(maxsize=2 * self.concurrency)
        threads = [
            threading.Thread(target=self._worker, args=(work,), daemon=True) for _index in range(self.concurrency)
        ]
        for thread in threads:
            thread.start()
        try:
            for agent in self.source.agents():
                if self.stop.is_set():
                    break
                self.result.agents += 1
                work.put(agent)
        except (ApiError, PageError, StoreError, OSError) as exc:
            self._stop(f"listing the agents: {exc}")
        finally:
            for _thread in threads:
                work.put(None)
            for thread in threads:
                thread.join()
            self.store.save_manifest()
        if self.fatal is not None:
            raise FleetError(self.fatal, self.result)
        self.result.removed = self.store.remove_stale()
        self.result.foreign = self.store.foreign()[:MAX_LISTED]
        self.store.save_manifest()
        return self.result


def run_fleet(source, store: ResponseStore, *, concurrency: int, on_agent_error: str) -> FleetResult:
    """Fetch every agent of ``source`` into ``store``; FleetError when the run stops."""
    if on_agent_error not in ON_AGENT_ERROR:
        raise ValueError(f"on_agent_error {on_agent_error!r} is not one of {', '.join(ON_AGENT_ERROR)}")
    if not 1 <= concurrency <= 64:
        raise ValueError(f"concurrency {concurrency} is not between 1 and 64")
    return _Run(source, store, concurrency, on_agent_error).run()


__all__ = ["ON_AGENT_ERROR", "FleetError", "FleetResult", "run_fleet"]
