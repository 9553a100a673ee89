"""The keys of the histogram maps: ``"op|status"`` (``read|OK``, ``update|UNEXPECTED``, ``verify|OK``).
Parsed and formatted here, nowhere else."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple

OK, NOT_FOUND = "OK", "NOT_FOUND"
#: histogram records that are checks, not operations of the workload
VERIFY = "verify"


class HistKey(NamedTuple):
    """One histogram's key: the operation and the status it ended with."""

    op: str
    status: str

    @classmethod
    def parse(cls, text: str) -> HistKey:
        op, sep, status = text.partition("|")
        if not sep or not op or not status:
            raise ValueError(f"not an operation|status key: {text!r}")
        return cls(op, status)

    def __str__(self) -> str:
        return f"{self.op}|{self.status}"

    @property
    def is_operation(self) -> bool:
        """An operation of the workload (not a verification record)."""
        return self.op != VERIFY

    @property
    def succeeded(self) -> bool:
        """Counted as done (YCSB counts a NOT_FOUND read as a completed operation)."""
        return self.status in (OK, NOT_FOUND)


def keyed(histograms: Mapping[str, Any]) -> Iterator[tuple[HistKey, Any]]:
    """``(HistKey, value)`` of a histogram map, in the map's order."""
    for text, value in histograms.items():
        yield HistKey.parse(text), value
