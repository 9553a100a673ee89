"""What a report must say besides the figures: result files it could not use, runs that did not finish,
and the (store, workload) pairs a run planned but never ran.  Read from the files alone."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from storagebench.results.files import scan_results
from storagebench.results.manifest import MANIFEST, RunManifest, UnreadableManifest

_RESULT_NAME = re.compile(r"^(?P<store>.+?)__(?P<workload>.+?)__(?P<phase>load|run)(__r\d+)?\.json$")


@dataclass
class RunHealth:
    bad_files: list[tuple[Path, str]] = field(default_factory=list)
    #: "run <id> was interrupted by SIGINT" / "... died (pid 123 is gone) before it finished" / "... run.json:
    #: unreadable run manifest ..."
    incomplete: list[str] = field(default_factory=list)
    #: "run <id>: sqlite / c" pairs that have no result file
    never_ran: list[str] = field(default_factory=list)
    results: int = 0

    @property
    def ok(self) -> bool:
        return not (self.bad_files or self.incomplete or self.never_ran)

    def notes(self) -> list[str]:
        out = [f"{path}: {why}" for path, why in self.bad_files]
        out += self.incomplete
        out += self.never_ran
        return out


def run_folders(paths: Iterable[Path]) -> list[Path]:
    """The run folders under the given paths (a run folder, or a folder of run folders)."""
    folders: set[Path] = set()
    for path in paths:
        if not path.is_dir():
            continue
        for marker in (*path.rglob("*__*__*.json"), *path.rglob(MANIFEST)):
            folders.add(marker.parent)
    return sorted(folders)


def inspect(paths: Iterable[Path]) -> RunHealth:
    health = RunHealth()
    for folder in run_folders(paths):
        results, bad = scan_results(folder)
        health.results += len(results)
        health.bad_files.extend(bad)
        try:
            manifest = RunManifest.load(folder)
        except UnreadableManifest as exc:
            health.incomplete.append(f"{exc}; whether the run finished is unknown")
            continue
        if manifest is None:
            continue
        run_id = manifest.data.get("run_id", folder.name)
        state = manifest.effective_state()
        if state == "interrupted":
            health.incomplete.append(f"run {run_id} is incomplete: interrupted by "
                                     f"{manifest.data.get('signal', 'a signal')}")
        elif state == "died":
            health.incomplete.append(f"run {run_id} is incomplete: its process (pid {manifest.data.get('pid')}) "
                                     f"ended before the run finished")
        elif state == "failed":
            health.incomplete.append(f"run {run_id} failed: {manifest.data.get('reason', 'no reason recorded')}")
        elif state == "running":
            health.incomplete.append(f"run {run_id} is still running (pid {manifest.data.get('pid')})")
        ran = {(r["store"], r["workload"]) for r in results}
        ran |= {(m["store"], m["workload"]) for path, _ in bad if (m := _RESULT_NAME.match(path.name))}
        missing = [f"{s} / {w}" for s, w in manifest.planned() if (s, w) not in ran]
        if missing:
            health.never_ran.append(f"run {run_id}: never ran: {', '.join(missing)}")
    return health
