"""Fixtures every test folder shares: an isolated home for the embedded stores, and the Spark gate."""

from __future__ import annotations

from pathlib import Path

import pytest

from storagebench.registry import available, load_adapter
from storagebench.testing.engines import in_ci


@pytest.fixture
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """STORAGEBENCH_HOME under the test's temp dir, and every path option of every default (embedded)
    store pointed there too, so no endpoints file or database of a real `services up` leaks in."""
    home = tmp_path / "home"
    monkeypatch.setenv("STORAGEBENCH_HOME", str(home))
    for name in available():
        cls = load_adapter(name)
        if not cls.default_store:
            continue
        for option, info in cls.Options.model_fields.items():
            if info.annotation is Path:
                monkeypatch.setenv(f"STORAGEBENCH_{name.upper()}_{option.upper()}", str(home / f"{name}-{option}"))
    return home


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
