"""``storagebench clean``: find namespaces that runs left on the stores, and drop them.

Two sources: run manifests (``run.json``) of runs that are no longer alive but still list namespaces
(a SIGKILL, a crash, a drop that failed), and each store's own listing of names with the ``sbench_``
prefix that no live run claims.  The second finds what older runs or other results folders left too;
it cannot see runs started from another machine or results folder, so the list is shown for
confirmation before anything is dropped.

Data sets (``sbench_dataset_<name>``, :mod:`storagebench.running.datasets`) are never leftovers, whether or
not this machine's ``$STORAGEBENCH_HOME`` knows them: they are listed as kept (``storagebench datasets drop``
drops one).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from storagebench.adapters.base import Adapter
from storagebench.config import RunConfig, store_options
from storagebench.errors import StorageBenchError, Unsupported
from storagebench.registry import load_adapter
from storagebench.results.manifest import RunManifest, UnreadableManifest
from storagebench.running.datasets import NAMESPACE_PREFIX, Dataset, is_dataset_namespace


@dataclass(frozen=True)
class Leftover:
    store: str
    namespace: str
    #: why it is listed: the run that left it, or "found by prefix"
    source: str
    run_dir: Path | None = None


def manifests(results_dir: Path, unreadable: Callable[[str], None] | None = None) -> list[RunManifest]:
    """The readable manifests of the run folders; each unreadable one is passed to ``unreadable``."""
    if not results_dir.is_dir():
        return []
    found = []
    for folder in sorted(d for d in results_dir.iterdir() if d.is_dir()):
        try:
            manifest = RunManifest.load(folder)
        except UnreadableManifest as exc:
            if unreadable:
                unreadable(f"{exc}; the namespaces it lists are found only by their prefix")
            continue
        if manifest is not None:
            found.append(manifest)
    return found


def _adapter(store: str, known_options: dict[str, Any]) -> Adapter:
    config = RunConfig(options={store: known_options} if known_options else {})
    return load_adapter(store)(store_options(store, config))


def find_leftovers(results_dir: Path, stores: Iterable[str] | None,
                   note: Callable[[str], None]) -> tuple[list[Leftover], int]:
    """The leftovers, and how many places could not be looked at (an unreadable run.json, a store that
    cannot list its namespaces), each said through ``note``: the list may then be incomplete.  Each data
    set's namespace found is said through ``note`` as kept."""
    problems: list[str] = []

    def problem(message: str) -> None:
        problems.append(message)
        note(message)

    runs = manifests(results_dir, problem)
    live = {(e["store"], e["namespace"]) for m in runs if m.alive() for e in m.data.get("namespaces", [])}
    options: dict[str, dict[str, Any]] = {}
    leftovers: dict[tuple[str, str], Leftover] = {}
    for m in runs:
        for store, opts in (m.data.get("store_options") or {}).items():
            options.setdefault(store, opts)
        if m.alive():
            continue
        for e in m.data.get("namespaces", []):
            key = (e["store"], e["namespace"])
            leftovers.setdefault(key, Leftover(*key, f"run {m.data.get('run_id')} ({m.effective_state()})",
                                               m.run_dir))
    scan = list(dict.fromkeys(stores if stores is not None else [s for m in runs for s in m.data.get("stores", [])]))
    for store in scan:
        try:
            adapter = _adapter(store, options.get(store, {}))
            adapter.connect()
            try:
                names = adapter.list_namespaces()
            finally:
                adapter.close()
        except Unsupported as exc:
            note(f"{store}: {exc}; only namespaces named in run manifests are cleaned")
            continue
        except (StorageBenchError, Exception) as exc:  # an unreachable store: say so, clean the others
            problem(f"{store}: cannot list namespaces ({type(exc).__name__}: {exc})")
            continue
        for name in names:
            if is_dataset_namespace(name):
                known = Dataset(store, name[len(NAMESPACE_PREFIX):]).exists()
                note(f"{store}: {name} kept: a data set{'' if known else ' (not in this $STORAGEBENCH_HOME)'}; "
                     f"`storagebench datasets drop` drops one")
                continue
            key = (store, name)
            if key not in live and key not in leftovers:
                leftovers[key] = Leftover(store, name, "found by its sbench_ prefix; no live run here claims it")
    return sorted(leftovers.values(), key=lambda lo: (lo.store, lo.namespace)), len(problems)


def drop_leftovers(results_dir: Path, leftovers: list[Leftover], echo: Callable[[str], None]) -> int:
    """Drop them store by store; returns how many could not be dropped."""
    options = {s: o for m in manifests(results_dir) for s, o in (m.data.get("store_options") or {}).items()}
    failed = 0
    for store in dict.fromkeys(lo.store for lo in leftovers):
        mine = [lo for lo in leftovers if lo.store == store]
        try:
            adapter = _adapter(store, options.get(store, {}))
            adapter.connect()
        except Exception as exc:
            echo(f"{store}: cannot connect ({type(exc).__name__}: {exc}); {len(mine)} namespace(s) left")
            failed += len(mine)
            continue
        try:
            for lo in mine:
                try:
                    adapter.drop(lo.namespace)
                except Exception as exc:
                    echo(f"{store}: could not drop {lo.namespace} ({type(exc).__name__}: {exc})")
                    failed += 1
                    continue
                echo(f"{store}: dropped {lo.namespace}")
                if lo.run_dir is not None:
                    try:
                        manifest = RunManifest.load(lo.run_dir)
                    except UnreadableManifest:  # it became unreadable since it was listed: nothing to update
                        manifest = None
                    if manifest is not None:
                        manifest.namespace_dropped(store, lo.namespace)
        finally:
            adapter.close()
    return failed
