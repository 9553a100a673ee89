"""What the driver ships to executors that lack storagebench (no Spark needed to check these)."""

from __future__ import annotations

import ast
import zipfile
from pathlib import Path

from storagebench.spark.ship import PACKAGES, build_code_zip, needed_distributions

ROOT = Path(__file__).resolve().parents[2]


def test_code_zip_holds_every_package_dir_root_and_the_entry_points(tmp_path: Path) -> None:
    tree = ast.parse((ROOT / "setup.py").read_text())
    roots = next(ast.literal_eval(node.value) for node in tree.body
                 if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "ROOTS")
    assert set(PACKAGES) == set(roots), "ship.PACKAGES must follow setup.py's ROOTS"
    names = zipfile.ZipFile(build_code_zip(tmp_path)).namelist()
    for package in PACKAGES:
        assert f"{package.replace('.', '/')}/__init__.py" in names, package
    # a store's folder travels whole: its adapter and its Spark connector
    assert {"storagebench/adapters/postgres/adapter.py", "storagebench/adapters/postgres/spark.py"} <= set(names)
    (entry_points,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
    text = zipfile.ZipFile(build_code_zip(tmp_path)).read(entry_points).decode()
    assert "[storagebench.adapters]" in text and "postgres" in text


def test_needed_distributions_are_the_workers_imports_and_the_adapters_extra() -> None:
    needed = needed_distributions("postgres")
    assert {"numpy", "pydantic", "hdrhistogram", "psycopg", "psycopg-binary", "psycopg2-binary"} <= set(needed)
    # driver-only parts of storagebench are not what workers need, nor is what executors run on
    assert not {"plotly", "rich", "jinja2", "pyspark", "py4j", "storagebench"} & set(needed), needed
