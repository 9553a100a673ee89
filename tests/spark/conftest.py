"""Spark tests need pyspark 3.5 and a Java 17: with CI=true a missing one fails the test; locally it skips."""

from __future__ import annotations

import pytest

from storagebench.testing.engines import in_ci


def _missing() -> str:
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
    reason = _missing()
    if reason:
        if in_ci():
            pytest.fail(f"CI=true and the Spark engine cannot run: {reason}", pytrace=False)
        pytest.skip(reason)
