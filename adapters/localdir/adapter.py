"""A local directory used as an object store (the embedded stand-in for S3 and HDFS).

Data model: one directory per namespace under ``root``; one JSON file per record, named by the
percent-encoded key (as YCSB's S3 binding keeps one object per record).  Writes go to a temp file and
are renamed into place, so a reader never sees half a record.

Emulated operations (declared so): update is read-modify-write of the whole file; scan lists the
directory, sorts the keys and reads the files; query reads every record and filters client-side.
Insert overwrites an existing file (as a PUT would).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import ClassVar
from urllib.parse import quote, unquote

from storagebench.adapters.base import (
    Adapter,
    AdapterOptions,
    Capabilities,
    Query,
    QueryResult,
    Record,
    ServerInfo,
    Support,
    check_namespace,
    ours,
)

from storagebench import __version__
from storagebench.errors import AdapterError, NotFound, Unavailable
from storagebench.services.base import storagebench_home


class LocalDirOptions(AdapterOptions):
    root: Path = storagebench_home() / "data" / "embedded" / "localdir"
    #: fsync every write (like a durable object store); off by default, as with the other embedded stores
    fsync: bool = False


class LocalDirAdapter(Adapter):
    name = "localdir"
    description = "a local directory as an object store (one file per record)"
    default_store = True
    Options = LocalDirOptions
    capabilities: ClassVar[Capabilities] = Capabilities(
        family="object",
        update=Support.EMULATED, scan=Support.EMULATED, query=Support.EMULATED, insert_replaces=True)
    options: LocalDirOptions

    def connect(self) -> None:
        try:
            self.options.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise Unavailable(f"localdir: cannot use {self.options.root}: {exc}") from exc

    def _dir(self, namespace: str) -> Path:
        return self.options.root / namespace

    def _file(self, namespace: str, key: str) -> Path:
        return self.options.root / namespace / quote(key, safe="")

    def prepare(self, namespace: str, fields: Sequence[str]) -> None:
        with self.translate_errors():
            self._dir(check_namespace(namespace)).mkdir(parents=True, exist_ok=True)

    def list_namespaces(self) -> list[str]:
        root = self.options.root
        return ours(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []

    def drop(self, namespace: str) -> None:
        with self.translate_errors():
            shutil.rmtree(self._dir(check_namespace(namespace)), ignore_errors=True)

    def footprint(self, namespace: str) -> int | None:
        """Bytes of the namespace's files (as the file system reports their lengths)."""
        with self.translate_errors():
            return sum(p.stat().st_size for p in self._dir(check_namespace(namespace)).rglob("*") if p.is_file())

    def server_info(self) -> ServerInfo:
        return ServerInfo("local directory", __version__, {"root": str(self.options.root)})

    def map_error(self, exc: Exception) -> AdapterError:
        if isinstance(exc, FileNotFoundError):
            return NotFound(f"localdir: {exc.filename}")
        return AdapterError(f"localdir: {type(exc).__name__}: {exc}")

    def _write(self, path: Path, record: Mapping[str, str]) -> None:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        with os.fdopen(fd, "w") as out:
            json.dump(record, out)
            if self.options.fsync:
                out.flush()
                os.fsync(out.fileno())
        os.replace(tmp, path)

    def _load(self, path: Path) -> dict[str, str]:
        with path.open() as src:
            data: dict[str, str] = json.load(src)
            return data

    @staticmethod
    def _pick(record: dict[str, str], fields: Sequence[str] | None) -> Record:
        return record if fields is None else {f: record[f] for f in fields if f in record}

    def insert(self, namespace: str, key: str, values: Mapping[str, str]) -> None:
        with self.translate_errors():
            self._write(self._file(namespace, key), values)

    def read(self, namespace: str, key: str, fields: Sequence[str] | None = None) -> Record:
        with self.translate_errors():
            return self._pick(self._load(self._file(namespace, key)), fields)

    def update(self, namespace: str, key: str, values: Mapping[str, str]) -> None:
        with self.translate_errors():
            path = self._file(namespace, key)
            self._write(path, {**self._load(path), **values})

    def delete(self, namespace: str, key: str) -> None:
        with self.translate_errors():
            self._file(namespace, key).unlink()

    def _keys(self, namespace: str) -> list[str]:
        return sorted(unquote(name) for name in os.listdir(self._dir(namespace)) if not name.startswith(".tmp-"))

    def scan(self, namespace: str, start_key: str, count: int,
             fields: Sequence[str] | None = None) -> list[tuple[str, Record]]:
        rows: list[tuple[str, Record]] = []
        with self.translate_errors():
            for key in self._keys(namespace):
                if key < start_key:
                    continue
                if len(rows) >= count:
                    break
                try:
                    rows.append((key, self._pick(self._load(self._file(namespace, key)), fields)))
                except FileNotFoundError:  # deleted since the listing
                    continue
        return rows

    def query(self, namespace: str, query: Query) -> QueryResult:
        count = total = 0
        with self.translate_errors():
            for key in self._keys(namespace):
                try:
                    record = self._load(self._file(namespace, key))
                except FileNotFoundError:
                    continue
                if record.get(query.field) == query.equals:
                    count += 1
                    if query.aggregate == "sum":
                        total += int(record.get(query.sum_field or "", "0") or 0)
        return QueryResult(count, total if query.aggregate == "sum" else None)
