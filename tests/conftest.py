"""Fixtures every test folder shares: an isolated home for the embedded stores, and the Spark gate."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from storagebench.registry import available, load_adapter
from storagebench.testing.engines import in_ci


@pytest.fixture
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """STORAGEBENCH_HOME under the test's temp dir, and every path option of every default (embedded)
    store pointed there too, so no endpoints file or database of a real `services up` leaks in.  After the
    test, the data sets this home loaded are dropped from their stores (a server outlives the temp dir, and
    a later load of the same name is refused while the store holds it)."""
    home = tmp_path / "home"
    monkeypatch.setenv("STORAGEBENCH_HOME", str(home))
    for name in available():
        cls = load_adapter(name)
        if not cls.default_store:
            continue
        for option, info in cls.Options.model_fields.items():
            if info.annotation is Path:
                monkeypatch.setenv(f"STORAGEBENCH_{name.upper()}_{option.upper()}", str(home / f"{name}-{option}"))
    yield home
    from storagebench.config import RunConfig, store_options
    from storagebench.running.datasets import all_datasets

    for ds in all_datasets(None):
        try:
            with load_adapter(ds.store)(store_options(ds.store, RunConfig())) as adapter:
                adapter.drop(ds.namespace)
        except Exception:  # an engine already down: the next load of that name says what it found
            pass


def _spark_missing() -> str:
    try:
        import pyspark
    except ImportError:
        return "pyspark is not importable (pip install 'storagebench[spark]')"
    if not pyspark.__version__.startswith("3.5"):
        return f"pyspark {pyspark.__version__} found, 3.5.x needed"
    from storagebench.spark.session import java_problem

    return java_problem()


@pytest.fixture(scope="session")
def spark_ready() -> None:
    """Spark tests need pyspark 3.5 and a Java 17: with CI=true a missing one fails the test; locally it skips."""
    reason = _spark_missing()
    if reason:
        if in_ci():
            pytest.fail(f"CI=true and the Spark engine cannot run: {reason}", pytrace=False)
        pytest.skip(reason)
