"""What the data-set tests share (tests/integration/test_datasets.py, test_shared_dataset.py,
tests/spark/test_spark_dataset.py): the CLI run into a run folder of its own, and a store made to roll one
key's field back to its loaded value (an older valid version the verifier must catch)."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from storagebench.workloads.spec import WorkloadSpec
from storagebench.workloads.values import Values

from storagebench.cli import main
from storagebench.config import RunConfig, store_options
from storagebench.registry import load_adapter
from storagebench.results.files import load_results


def cli(tmp_path: Path, run_id: str, *argv: str) -> tuple[int, list[dict[str, Any]]]:
    """``storagebench ARGV`` writing into ``tmp_path/run_id``: its exit status and the result files there."""
    code = main([*argv, "--results-dir", str(tmp_path), "--run-id", run_id, "--no-report"])
    return code, load_results(tmp_path / run_id) if (tmp_path / run_id).is_dir() else []


def roll_back_to_loaded_value(store: str, namespace: str, key: str, field: str) -> None:
    """Write ``key``'s ``field`` as the load wrote it (seed 42): a valid value, but an old version."""
    spec = WorkloadSpec(name="a")
    adapter = load_adapter(store)(store_options(store, RunConfig()))
    adapter.connect()
    try:
        adapter.update(namespace, key, {field: Values(spec, 42).load_record(key)[field]})
    finally:
        adapter.close()


#: this test session's mark on the data sets it loads on server stores, so that two sessions against one
#: server (helpers side by side, or a rerun after a session killed before its teardown dropped them) never
#: meet on one namespace (a load refuses a namespace another home holds)
SESSION = secrets.token_hex(3)


def unique(base: str) -> str:
    """A data set name of this session: ``base`` and :data:`SESSION` (a-z and 0-9)."""
    return f"{base}{SESSION}"
