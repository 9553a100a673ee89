"""Toolchains the engine recipes build with: the go tool (Go engines built from the module proxy) and a
JDK with Maven (Java launchers whose classpath a pom resolves).  Shared by every store's service."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

from storagebench.errors import ServiceError
from storagebench.services.base import Service


def go_env(cache: Path) -> dict[str, str]:
    """Environment for the go tool with every download and build artefact under ``<cache>/go``."""
    root = cache / "go"
    return {
        "GOPATH": str(root),
        "GOMODCACHE": str(root / "mod"),
        "GOCACHE": str(root / "build"),
        "GOFLAGS": "-buildvcs=false -modcacherw",
        "GOTOOLCHAIN": os.environ.get("GOTOOLCHAIN", "local"),
        # one compile job at a time: two cores are shared with running engines
        "GOMAXPROCS": os.environ.get("GOMAXPROCS", "2"),
    }


def go_binary() -> str:
    go = shutil.which("go") or ("/usr/local/go/bin/go" if Path("/usr/local/go/bin/go").exists() else None)
    if go is None:
        raise ServiceError("the go tool is needed to build this engine (Go >= 1.22 on PATH)")
    return go


def java_program() -> str:
    java = shutil.which("java")
    if java is None:
        raise ServiceError("java not found on PATH (a JDK 17 is needed for the local HDFS and HBase)")
    return java


def build_java_launcher(svc: Service, target: Path, pom_dir: Path, properties: Mapping[str, str],
                        sources: Sequence[Path] = ()) -> list[str]:
    """Resolve the pom's classpath into ``target/classpath.txt`` and compile ``sources`` into
    ``target/classes``; return the classpath (classes first).  Redone only when the pom, the sources
    or the properties change (a stamp file records their hash).  Shared with the HBase service."""
    digest = hashlib.sha256(json.dumps(sorted(properties.items())).encode())
    for path in (pom_dir / "pom.xml", *sources):
        digest.update(path.read_bytes())
    stamp = target / ".complete"
    cp_file = target / "classpath.txt"
    classes = target / "classes"
    if not (stamp.exists() and stamp.read_text() == digest.hexdigest()):
        target.mkdir(parents=True, exist_ok=True)
        svc.step(f"resolve the {svc.name} classpath with Maven",
                 ["mvn", "-B", "-q", "-f", str(pom_dir / "pom.xml"),
                  f"-Dmaven.repo.local={svc.ctx.cache / 'maven' / 'repo'}",
                  *(f"-D{k}={v}" for k, v in properties.items()),
                  "dependency:build-classpath", f"-Dmdep.outputFile={cp_file}"])
        if sources:
            shutil.rmtree(classes, ignore_errors=True)
            classes.mkdir(parents=True)
            svc.step(f"compile the {svc.name} launcher",
                     ["javac", "-d", str(classes), "-cp", cp_file.read_text().strip(), *map(str, sources)])
        stamp.write_text(digest.hexdigest())
    jars = [j for j in cp_file.read_text().strip().split(":") if j]
    return ([str(classes)] if sources else []) + jars
