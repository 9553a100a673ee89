"""Run profiles: ``--profile quick | standard | nightly``, the one place their sizes live.

A profile sets record counts, run durations in seconds (not operation counts, so slow and fast stores
get equal time), repeats and the sweep ladders.  It sits under everything the user says: a config
file's ``properties`` and ``-p key=value`` override its workload properties, ``--repeat`` its repeats.
The profile is recorded in every result file.  Without ``--profile`` a run keeps the workload files'
own counts (1,000 records, 1,000 operations: the default embedded run takes about a minute).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from storagebench.errors import UsageError

#: YCSB's operationcount=0: the run phase lasts maxexecutiontime seconds
UNTIL_TIME_IS_UP = 0


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    recordcount: int
    #: seconds of the run phase per (store, workload, repeat)
    run_seconds: float
    #: rows per load batch: > 1 loads through the batch interface (native bulk path where the store has one)
    loadbatchsize: int
    repeat: int
    #: sweeps: seconds per step, the client ladder, the record-count ladder
    step_seconds: float
    clients: tuple[int, ...]
    records: tuple[int, ...]

    def properties(self) -> dict[str, Any]:
        """Workload properties this profile sets (under the config file's and ``-p``)."""
        return {"recordcount": self.recordcount, "operationcount": UNTIL_TIME_IS_UP,
                "maxexecutiontime": self.run_seconds, "loadbatchsize": self.loadbatchsize}

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


PROFILES: dict[str, Profile] = {p.name: p for p in (
    Profile("quick", "a first look that can rank: small data, 6 s per workload (enough to settle), one repeat",
            recordcount=1_000, run_seconds=6.0, loadbatchsize=1, repeat=1,
            step_seconds=2.0, clients=(1, 2, 4), records=(1_000, 10_000)),
    Profile("standard", "a comparison that holds up: 10k records, 5 s per workload, 3 repeats",
            recordcount=10_000, run_seconds=5.0, loadbatchsize=1_000, repeat=3,
            step_seconds=4.0, clients=(1, 2, 4, 8), records=(10_000, 100_000, 1_000_000)),
    Profile("nightly", "the nightly record: 100k records, 30 s per workload, 5 repeats",
            recordcount=100_000, run_seconds=30.0, loadbatchsize=1_000, repeat=5,
            step_seconds=10.0, clients=(1, 2, 4, 8, 16), records=(10_000, 100_000, 1_000_000, 10_000_000)),
)}


#: the profile whose ladders and step length `storagebench sweep` uses when none is named
SWEEP_PROFILE = "standard"


def get(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise UsageError(f"unknown profile {name!r}: choose one of {', '.join(PROFILES)}") from None
