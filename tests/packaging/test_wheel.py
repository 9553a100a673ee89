"""The wheel, installed into a fresh venv, works from outside the checkout: every package and data file is
in it (services, spark, testing, adapters, workloads, report templates, docker/ poms and Java mains).

Building and installing take seconds; installing the third-party dependencies again would take minutes
(pyarrow, pandas, duckdb), so the fresh venv borrows them: a .pth file points at a folder of links to
this environment's site-packages minus anything of storagebench's own (no editable finder, no
dist-info), and the wheel goes in with --no-deps.  The wheel's declared dependencies are checked against
pyproject.toml instead."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
_ANYWHERE = shutil.ignore_patterns(".venv", ".git", "*.egg-info", "__pycache__", ".pytest_cache", ".mypy_cache",
                                   ".ruff_cache", ".benchmarks")
#: top-level folders only: storagebench/results is a package, the checkout's results/ holds run outputs
_TOP = {"results", "build", "dist", "tests"}


def IGNORED(folder: str, names: list[str]) -> set[str]:
    skipped = set(_ANYWHERE(folder, names))
    return skipped | (_TOP & set(names) if Path(folder) == REPO else set())


def _isolation() -> list[str]:
    """Build with this environment's setuptools when it is new enough (fast, offline), else isolated."""
    try:
        import setuptools

        if int(setuptools.__version__.split(".")[0]) >= 77:
            return ["--no-build-isolation"]
    except (ImportError, ValueError):
        pass
    return []


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("wheel")
    source = work / "src"
    shutil.copytree(REPO, source, ignore=IGNORED)  # build from a copy: no build/ left in the checkout
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", *_isolation(),
                    "-w", str(work / "dist"), str(source)], check=True, timeout=300)
    (built,) = (work / "dist").glob("storagebench-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("venv")
    env = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env)], check=True, timeout=120)
    borrowed = root / "deps"
    borrowed.mkdir()
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
        name = entry.name.lower()
        if not (name.startswith(("storagebench", "__editable__")) or name.endswith(".pth")):
            (borrowed / entry.name).symlink_to(entry)
    site = Path(subprocess.run([str(env / "bin" / "python"), "-c", "import sysconfig; "
                                "print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    (site / "borrowed-deps.pth").write_text(f"{borrowed}\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(env / "bin" / "python"), "install", "-q",
                    "--no-deps", str(wheel)], check=True, timeout=300)
    return env


def test_wheel_holds_every_package_and_data_file(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for package in ("services", "spark", "testing", "adapters", "workloads", "report", "docker"):
        assert f"storagebench/{package}/__init__.py" in names, package
    for data in ("workloads/a.yaml", "report/templates/report.html.j2", "docker/compose.yaml",
                 "adapters/kudu/pom.xml", "adapters/hdfs/MiniDFS.java", "adapters/neo4j/Neo4jServer.java",
                 "adapters/hbase/pom.xml", "adapters/postgres/compose.yaml", "services/spark.compose.yaml"):
        assert f"storagebench/{data}" in names, data
    assert not any(n.split("/")[0] in ("adapters", "workloads", "report", "docker") for n in names), \
        "no top-level import names that could collide with other distributions"
    metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
    requires = {line.split(":", 1)[1].strip() for line in zipfile.ZipFile(wheel).read(metadata).decode().splitlines()
                if line.startswith("Requires-Dist:") and "extra ==" not in line}
    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    assert {r.replace(" ", "") for r in requires} == {d.replace(" ", "") for d in declared}


def test_installed_wheel_runs_from_outside_the_checkout(venv: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["STORAGEBENCH_HOME"] = str(tmp_path / "home")
    exe = str(venv / "bin" / "storagebench")

    def sb(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([exe, *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)

    where = subprocess.run([str(venv / "bin" / "python"), "-c",
                            "import storagebench, storagebench.adapters.kudu.service as k;"
                            "print(storagebench.__file__); print(k.HERE)"],
                           cwd=tmp_path, env=env, capture_output=True, text=True, check=True).stdout.split()
    assert all(p.startswith(str(venv)) for p in where), where  # the wheel's files, not the checkout's
    assert (Path(where[1]) / "pom.xml").is_file()

    listed = sb("list")
    assert listed.returncode == 0, listed.stderr
    assert "postgres" in listed.stdout and "sqlite" in listed.stdout and "built-in workloads" in listed.stdout
    helped = sb("services", "--help")
    assert helped.returncode == 0 and "up" in helped.stdout, helped.stderr
    ran = sb("run", "--stores", "sqlite,duckdb", "--workloads", "c", "--results-dir", str(tmp_path / "r"),
             "--run-id", "w", "-p", "recordcount=50", "-p", "operationcount=50")
    assert ran.returncode == 0, ran.stderr
    assert Path(ran.stdout.strip().splitlines()[-1]) == tmp_path / "r" / "w" / "report.html"
    assert (tmp_path / "r" / "w" / "sqlite__c__run.json").is_file()
