"""What executors need to run harness workers, and shipping it to them.

* **Code**: the project's packages plus its ``dist-info`` (so the adapter entry points resolve on the
  executors too) zipped once per driver process and added with ``addPyFile``: executors need no
  storagebench installed, and a different installed version does not shadow the driver's (pyFiles come
  first on ``sys.path``).  An adapter registered by another distribution is zipped alongside.
* **Python dependencies**: the distributions a worker imports (found by importing the runner and the
  adapter in a clean interpreter here) and the adapter's extra (e.g. ``psycopg-binary`` for
  ``postgres``), with their requirements.  A probe job asks the executors which of them they lack; when
  their Python version and platform match the driver's, the missing ones are copied from the driver's
  environment into one archive (cached under ``$STORAGEBENCH_HOME/cache/spark-ship``) and added with
  ``addArchive``; otherwise :func:`ship` raises with the list to install there.  pyspark itself (with
  py4j) must be on the executors: it is the Python side of their workers.

This module imports nothing outside the standard library at module level: executors unpickle its
functions before any shipped dependency is on their path.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata as md
import json
import os
import re
import subprocess
import sys
import sysconfig
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from storagebench.errors import UsageError
from storagebench.services.base import storagebench_home

DISTRIBUTION = "storagebench"
#: the package roots of setup.py's ROOTS (tests/spark/test_ship.py checks they agree)
PACKAGES = ("storagebench", "storagebench.adapters", "storagebench.workloads", "storagebench.report",
            "storagebench.docker")
#: on the executors already (their Python workers run on it), never shipped
PROVIDED = frozenset({"pyspark", "py4j"})


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass
class Shipment:
    """What the driver added to the SparkContext for the executors."""

    code: str = ""
    #: distributions copied from the driver, name -> version
    dependencies: dict[str, str] = field(default_factory=dict)
    #: the dependency archives' directory names under SparkFiles' root on the executors, in order
    archives: list[str] = field(default_factory=list)
    #: what the probe saw: one entry per distinct executor environment
    executors: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "dependencies": self.dependencies, "executors": self.executors}


# -- the code zip ---------------------------------------------------------------------------------------
def _adapter_module(adapter: str) -> str:
    from storagebench.registry import available

    return available().get(adapter, "").partition(":")[0]


def _write_tree(archive: zipfile.ZipFile, root: Path, prefix: Path, written: set[str]) -> None:
    for path in sorted(root.rglob("*")):
        arcname = str(prefix / path.relative_to(root))
        if path.is_file() and "__pycache__" not in path.parts and arcname not in written:
            archive.write(path, arcname)
            written.add(arcname)


def _write_metadata(archive: zipfile.ZipFile, dist: md.Distribution) -> None:
    """A dist-info with the distribution's metadata and entry points (from a dist-info or an egg-info)."""
    name, version = dist.metadata["Name"], dist.version
    info = f"{_norm(name).replace('-', '_')}-{version}.dist-info"
    metadata = dist.read_text("METADATA") or dist.read_text("PKG-INFO") or \
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    archive.writestr(f"{info}/METADATA", metadata)
    archive.writestr(f"{info}/entry_points.txt", dist.read_text("entry_points.txt") or "")


def build_code_zip(target_dir: Path) -> Path:
    """The project's packages and its dist-info (so the adapter entry points resolve on executors)."""
    dist = md.distribution(DISTRIBUTION)
    target = target_dir / f"storagebench-{dist.version}-code.zip"
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        written: set[str] = set()
        for name in PACKAGES:  # the subpackages live outside storagebench/ (package-dir in pyproject.toml)
            root = Path(importlib.import_module(name).__file__ or "").parent
            _write_tree(archive, root, Path(*name.split(".")), written)
        _write_metadata(archive, dist)
    return target


def build_adapter_zip(adapter: str, target_dir: Path) -> Path | None:
    """An adapter registered by another distribution: its top-level package and dist-info (else None)."""
    top = _adapter_module(adapter).split(".")[0]
    if not top or top == DISTRIBUTION:
        return None
    target = target_dir / f"{top}-adapter.zip"
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        location = Path(importlib.import_module(top).__file__ or "")
        if location.name == "__init__.py":
            _write_tree(archive, location.parent, Path(top), set())
        else:
            archive.write(location, location.name)
        for dist_name in md.packages_distributions().get(top, [])[:1]:
            _write_metadata(archive, md.distribution(dist_name))
    return target


# -- which distributions a worker needs -----------------------------------------------------------------
_IMPORTED = """
import importlib, json, sys
import storagebench.running.runner
module = sys.argv[1]
if module:
    importlib.import_module(module)
print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))
"""


def _imported_distributions(adapter: str) -> set[str]:
    """Distributions whose modules a worker imports: the runner and the adapter, in a clean interpreter."""
    proc = subprocess.run([sys.executable, "-c", _IMPORTED, _adapter_module(adapter)], capture_output=True,
                          text=True, timeout=120, check=False)
    if proc.returncode != 0:
        raise UsageError(f"spark: cannot import the worker code here: {proc.stderr.strip().splitlines()[-1:]}")
    owners = md.packages_distributions()
    found: set[str] = set()
    for module in json.loads(proc.stdout):
        found.update(_norm(d) for d in owners.get(module, []))
    return found


def _requirements(dist_name: str) -> Iterator[str]:
    """The unconditional requirements of an installed distribution (its extras are not wanted)."""
    from packaging.requirements import Requirement

    for text in md.requires(dist_name) or []:
        req = Requirement(text)
        if req.marker is None or req.marker.evaluate({"extra": ""}):
            yield _norm(req.name)


def _extra_requirements(adapter: str) -> set[str]:
    """The requirements of the adapter's extra of this distribution (``storagebench[postgres]``)."""
    from packaging.requirements import Requirement

    out = set()
    for text in md.requires(DISTRIBUTION) or []:
        req = Requirement(text)
        if req.marker is not None and req.marker.evaluate({"extra": adapter}) \
                and not req.marker.evaluate({"extra": ""}) and _norm(req.name) != DISTRIBUTION:
            out.add(_norm(req.name))
    return out


def needed_distributions(adapter: str) -> dict[str, str]:
    """name -> version of every third-party distribution a worker of ``adapter`` needs (installed here)."""
    todo = (_imported_distributions(adapter) | _extra_requirements(adapter)) - {DISTRIBUTION}
    seen: dict[str, str] = {}
    while todo:
        name = todo.pop()
        if name in seen or name in PROVIDED:
            continue
        try:
            seen[name] = md.version(name)
        except md.PackageNotFoundError:
            continue  # optional on this platform (a marker we did not evaluate); the probe will tell
        todo.update(r for r in _requirements(name) if r not in seen)
    return dict(sorted(seen.items()))


# -- on the executors ------------------------------------------------------------------------------------
def environment_of_executor(names: list[str]) -> dict[str, Any]:
    """Runs on an executor: its Python, platform and which of ``names`` it lacks."""
    import platform
    import socket

    missing = []
    for name in names:
        try:
            md.version(name)
        except md.PackageNotFoundError:
            missing.append(name)
    origin = str(getattr(importlib.import_module(DISTRIBUTION), "__file__", ""))
    return {"host": socket.gethostname(), "python": platform.python_version(), "executable": sys.executable,
            "platform": sysconfig.get_platform(), "missing": missing,
            "storagebench": "shipped" if "-code.zip" in origin else "installed"}


def use_archives(names: list[str]) -> None:
    """Runs on an executor: put the unpacked dependency archives first on ``sys.path``."""
    if not names:
        return
    from pyspark import SparkFiles

    for name in names:
        path = os.path.join(SparkFiles.getRootDirectory(), name)
        if path not in sys.path:
            sys.path.insert(0, path)
    importlib.invalidate_caches()


# -- the driver side -------------------------------------------------------------------------------------
def _archive(dists: dict[str, str]) -> Path:
    """The distributions' installed files (per their RECORD) in one zip, cached by content."""
    key = json.dumps([sys.version_info[:2], sysconfig.get_platform(), sorted(dists.items())])
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    target = storagebench_home() / "cache" / "spark-ship" / f"sbench-deps-{digest}.zip"
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".tmp")
    os.close(fd)
    try:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
            for name in dists:
                dist = md.distribution(name)
                for file in dist.files or []:
                    if file.parts[0] == ".." or "__pycache__" in file.parts:
                        continue  # scripts in bin/, byte code
                    source = Path(str(dist.locate_file(file)))
                    if source.is_file():
                        archive.write(source, str(file))
        os.replace(tmp, target)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return target


def ship(context: Any, adapter: str, slots: int) -> Shipment:
    """Add the code (and the dependencies the executors lack) to ``context``, once per adapter."""
    state: dict[str, Any] = context.__dict__.setdefault(
        "_storagebench_shipped", {"added": set(), "archives": [], "dependencies": {}})
    if adapter in state:
        return state[adapter]  # type: ignore[no-any-return]
    added: set[str] = state["added"]
    shipment = Shipment()
    scratch = Path(tempfile.mkdtemp(prefix="sbench-spark-"))
    for zipped in (build_code_zip(scratch), build_adapter_zip(adapter, scratch)):
        if zipped is not None and zipped.name not in added:  # Spark refuses a file name added twice
            context.addPyFile(str(zipped))
            added.add(zipped.name)
    shipment.code = f"storagebench-{md.version(DISTRIBUTION)}-code.zip"
    needed = needed_distributions(adapter)
    names = sorted(needed)
    earlier: list[str] = list(state["archives"])  # what an adapter shipped before is on the path too

    def probe(_index: int) -> dict[str, Any]:
        use_archives(earlier)
        return environment_of_executor(names)

    probes = context.parallelize(range(max(1, slots)), max(1, slots)).map(probe).collect()
    distinct = {json.dumps(p, sort_keys=True): p for p in probes}
    shipment.executors = list(distinct.values())
    missing = sorted({m for p in probes for m in p["missing"]})
    if missing:
        here = (".".join(map(str, sys.version_info[:2])), sysconfig.get_platform())
        foreign = [p for p in probes if (p["python"].rsplit(".", 1)[0], p["platform"]) != here]
        if foreign:
            p = foreign[0]
            wanted = " ".join(f"{m}=={needed[m]}" for m in missing)
            raise UsageError(f"spark: executors on {p['host']} (Python {p['python']}, {p['platform']}) lack "
                             f"{', '.join(missing)} and cannot take this driver's copies (Python {here[0]}, "
                             f"{here[1]}); install them there: pip install {wanted}")
        deps = {m: needed[m] for m in missing}
        archive = _archive(deps)
        if archive.name not in added:
            context.addArchive(str(archive))
            added.add(archive.name)
            state["archives"].append(archive.name)
        state["dependencies"].update(deps)
    shipment.archives = list(state["archives"])
    shipment.dependencies = {k: v for k, v in state["dependencies"].items() if k in needed}
    state[adapter] = shipment
    return shipment
