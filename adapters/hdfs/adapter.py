"""HDFS through WebHDFS (HdfsCLI, the default) or the NameNode RPC protocol (``hdfs-native``).

Data model (as YCSB's file-store bindings): one directory per namespace, ``<root>/<namespace>/``
(``root`` defaults to ``/sbench``).  Per-operation records live in ``rows/``, one small file per record
named by the percent-encoded key, holding the record's fields as a JSON object.  Batches written with
``write_batch`` are Parquet files in ``batches/`` (one file per call, written by pyarrow into memory and
sent through the same client).

Operations:

* insert: one file create (overwrite).  read: one file open; a missing file is :class:`NotFound`.
* update (EMULATED): read-modify-write of the whole file (HDFS files are immutable once closed).
* delete: one delete; a missing file is :class:`NotFound`.
* scan (EMULATED): list ``rows/``, sort the decoded keys, then open the ``count`` files from
  ``start_key`` on.  HDFS has no ordered range read of files.
* query (EMULATED): list and read every record file and every batch file, filter and aggregate in the
  client (pyarrow compute for the Parquet batches).
* batch write (NATIVE): one Parquet file per batch.  batch read (NATIVE): every Parquet file of
  ``batches/`` plus the record files of ``rows/`` (a record file wins over a batch row with the same
  key), sorted by key.  query sees both areas; per-operation read/scan/update/delete see only
  ``rows/``: a YCSB workload that loads with ``write_batch`` (``loadbatchsize`` > 1) and then reads
  single keys would not find them.

Drivers (option ``driver``):

* ``webhdfs`` (default): REST to the NameNode's HTTP port; data moves through a redirect to the
  DataNode's HTTP port, so each create and open costs two HTTP round trips.
* ``native``: ``hdfs-native`` (Rust client speaking the NameNode RPC and DataNode transfer
  protocols, option ``namenode``).

``server_info`` reads the NameNode's JMX bean ``NameNodeInfo`` over HTTP (option ``url``), for both
drivers.  Permissions are whatever the cluster enforces; ``user`` names the requesting user (WebHDFS
``user.name``; the native client takes ``HADOOP_USER_NAME`` or the OS user).
"""

from __future__ import annotations

import io
import json
import posixpath
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any, ClassVar, Literal
from urllib.parse import quote, unquote

from pydantic import field_validator
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
from storagebench.adapters.hdfs.service import PORTS

from storagebench.durability import Durability, read_hadoop_conf, restart_hint, unknown
from storagebench.errors import AdapterError, NotFound, Unavailable
from storagebench.services.network import Route, proxied_url
from storagebench.services.ports import HOST

if TYPE_CHECKING:
    import pyarrow as pa

ROWS = "rows"
#: what decides an acknowledged write's fate (the last is the local launcher's record of MiniDFSCluster's
#: skipFsyncForTesting, which is not a Hadoop key)
HDFS_DURABILITY_KEYS = ("dfs.datanode.synconclose", "dfs.datanode.sync.behind.writes",
                        "storagebench.minidfs.skip-fsync")
BATCHES = "batches"


class HDFSOptions(AdapterOptions):
    #: the NameNode's HTTP address (WebHDFS and JMX)
    url: str = f"http://{HOST}:{PORTS['webhdfs']}"
    #: the NameNode's RPC address (driver "native")
    namenode: str = f"hdfs://{HOST}:{PORTS['namenode']}"
    user: str = "storagebench"
    driver: Literal["webhdfs", "native"] = "webhdfs"
    #: the directory that holds the namespaces' directories
    root: str = "/sbench"
    #: seconds per HTTP request (WebHDFS and the version query)
    timeout: float = 30.0

    @field_validator("root")
    @classmethod
    def _absolute(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError("root must be an absolute HDFS path")
        return value.rstrip("/") or "/"


class _Driver(ABC):
    """The few filesystem calls the adapter needs; missing paths raise FileNotFoundError."""

    @abstractmethod
    def mkdirs(self, path: str) -> None: ...

    @abstractmethod
    def delete(self, path: str, recursive: bool = False) -> bool: ...

    @abstractmethod
    def write(self, path: str, data: bytes) -> None: ...

    @abstractmethod
    def read(self, path: str) -> bytes: ...

    @abstractmethod
    def list(self, path: str) -> list[str]: ...

    @abstractmethod
    def exists(self, path: str) -> bool: ...

    @abstractmethod
    def du(self, path: str) -> int:
        """Bytes of the files under ``path`` (the NameNode's content summary, before replication)."""

    def close(self) -> None:  # noqa: B027 - optional
        pass


class _WebHdfs(_Driver):
    def __init__(self, options: HDFSOptions) -> None:
        import hdfs

        self.client = hdfs.InsecureClient(options.url, user=options.user, timeout=options.timeout)

    def mkdirs(self, path: str) -> None:
        self.client.makedirs(path)

    def delete(self, path: str, recursive: bool = False) -> bool:
        return bool(self.client.delete(path, recursive=recursive))

    def write(self, path: str, data: bytes) -> None:
        self.client.write(path, data=data, overwrite=True)

    def read(self, path: str) -> bytes:
        with self.client.read(path) as reader:
            data: bytes = reader.read()
            return data

    def list(self, path: str) -> list[str]:
        names: list[str] = self.client.list(path)
        return names

    def exists(self, path: str) -> bool:
        return self.client.status(path, strict=False) is not None

    def du(self, path: str) -> int:
        return int(self.client.content(path)["length"])

    def close(self) -> None:
        session = getattr(self.client, "_session", None)  # HdfsCLI keeps one requests.Session
        if session is not None:
            session.close()


class _Native(_Driver):
    def __init__(self, options: HDFSOptions) -> None:
        import hdfs_native

        self.hdfs_native = hdfs_native
        self.client = hdfs_native.Client(options.namenode)

    def mkdirs(self, path: str) -> None:
        self.client.mkdirs(path, create_parent=True)

    def delete(self, path: str, recursive: bool = False) -> bool:
        return bool(self.client.delete(path, recursive))

    def write(self, path: str, data: bytes) -> None:
        with self.client.create(path, self.hdfs_native.WriteOptions(overwrite=True)) as writer:
            writer.write(data)

    def read(self, path: str) -> bytes:
        with self.client.read(path) as reader:
            return bytes(reader.read())

    def list(self, path: str) -> list[str]:
        return [posixpath.basename(status.path) for status in self.client.list_status(path)]

    def exists(self, path: str) -> bool:
        try:
            self.client.get_file_info(path)
        except FileNotFoundError:
            return False
        return True

    def du(self, path: str) -> int:
        return int(self.client.get_content_summary(path).length)


class HDFSAdapter(Adapter):
    name = "hdfs"
    description = "HDFS, one file per record (WebHDFS via HdfsCLI, or hdfs-native), Parquet batches"
    Options = HDFSOptions
    capabilities: ClassVar[Capabilities] = Capabilities(
        family="file",
        update=Support.EMULATED, scan=Support.EMULATED, query=Support.EMULATED,
        batch_write=Support.NATIVE, batch_read=Support.NATIVE, insert_replaces=True,
        batch_rows_are_records=False)  # a batch is a Parquet file of batches/, which reads never open
    options: HDFSOptions

    @classmethod
    def through_proxy(cls, options: Mapping[str, Any], route: Route) -> tuple[dict[str, Any], str]:
        return ({**options, "url": proxied_url(str(options["url"]), route),
                 "namenode": proxied_url(str(options["namenode"]), route)},
                "DataNode traffic: the NameNode sends the client to each DataNode's own address")

    def __init__(self, options: AdapterOptions | Mapping[str, Any] | None = None) -> None:
        super().__init__(options)
        self._driver: _Driver | None = None

    # -- lifecycle -----------------------------------------------------------------------------------
    def connect(self) -> None:
        with self.translate_errors():
            driver: _Driver = _WebHdfs(self.options) if self.options.driver == "webhdfs" else _Native(self.options)
            driver.exists("/")  # a real round trip: fail here, not on the first operation
        self._driver = driver

    def close(self) -> None:
        if self._driver is not None:
            self._driver.close()
            self._driver = None

    @property
    def fs(self) -> _Driver:
        if self._driver is None:
            raise Unavailable("hdfs: not connected")
        return self._driver

    def _dir(self, namespace: str, *parts: str) -> str:
        return posixpath.join(self.options.root, check_namespace(namespace), *parts)

    def _file(self, namespace: str, key: str) -> str:
        return posixpath.join(self.options.root, namespace, ROWS, quote(key, safe=""))

    def prepare(self, namespace: str, fields: Sequence[str]) -> None:
        with self.translate_errors():
            self.fs.mkdirs(self._dir(namespace, ROWS))
            self.fs.mkdirs(self._dir(namespace, BATCHES))

    def list_namespaces(self) -> list[str]:
        with self.translate_errors():
            return ours(self.fs.list(self.options.root)) if self.fs.exists(self.options.root) else []

    def drop(self, namespace: str) -> None:
        with self.translate_errors():
            self.fs.delete(self._dir(namespace), recursive=True)

    def footprint(self, namespace: str) -> int | None:
        """The NameNode's content summary of the namespace's directory (file lengths, one replica)."""
        with self.translate_errors():
            return self.fs.du(self._dir(namespace))

    def server_info(self) -> ServerInfo:
        import urllib.request

        url = f"{self.options.url}/jmx?qry=Hadoop:service=NameNode,name=NameNodeInfo"
        try:
            with urllib.request.urlopen(url, timeout=self.options.timeout) as response:
                info = json.loads(response.read())["beans"][0]
        except (OSError, ValueError, KeyError, IndexError) as exc:
            raise Unavailable(f"hdfs: cannot read the NameNode version from {url}: {exc}") from exc
        software = str(info.get("SoftwareVersion") or str(info["Version"]).split(",")[0])
        return ServerInfo("HDFS", software, {"driver": self.options.driver,
                                             "live datanodes": str(len(json.loads(info.get("LiveNodes") or "{}")))})

    def durability(self) -> Durability:
        """Read back from the NameNode's ``/conf`` (the configuration the daemons loaded).  One file per
        record, closed by every write: with ``dfs.datanode.synconclose`` the DataNode fsyncs the block
        and its checksums before the close is acknowledged; without it they stay in the page cache."""
        profile = self.options.durability
        try:
            settings = read_hadoop_conf(self.options.url, HDFS_DURABILITY_KEYS, self.options.timeout)
        except (OSError, ValueError) as exc:
            return unknown(profile, f"the NameNode's /conf did not answer ({exc})")
        sync = settings.get("dfs.datanode.synconclose", "false") == "true"
        edits = settings.get("storagebench.minidfs.skip-fsync", "false") != "true"
        durable = sync and edits
        if profile == "durable":
            note = ("the DataNode fsyncs each block on close (synconclose) and the NameNode its edit log"
                    if durable else "blocks are closed without fsync: acknowledged files sit in the page cache; "
                    + restart_hint("hdfs", profile))
            return Durability(profile, settings, True, durable, note)
        note = ("closed blocks stay in the page cache (no synconclose)" if not sync else
                "the DataNode still fsyncs on close; " + restart_hint("hdfs", profile))
        return Durability(profile, settings, True, not sync, note)

    def client_info(self) -> dict[str, str]:
        info = {}
        for package in ("hdfs", "hdfs-native", "pyarrow"):
            try:
                info[package] = version(package)
            except PackageNotFoundError:
                pass
        package = "hdfs" if self.options.driver == "webhdfs" else "hdfs-native"
        info["driver"] = f"{self.options.driver} ({package} {info.get(package, 'missing')})"
        return info

    def map_error(self, exc: Exception) -> AdapterError:
        # hdfs-native raises FileNotFoundError; HdfsCLI an HdfsError naming the Java exception
        if isinstance(exc, FileNotFoundError) or getattr(exc, "exception", None) == "FileNotFoundException":
            return NotFound(f"hdfs: {exc}")
        if isinstance(exc, ImportError):
            return Unavailable(f"hdfs: driver {self.options.driver!r} needs {exc.name}: pip install storagebench[hdfs]")
        import requests

        if isinstance(exc, requests.ConnectionError | requests.Timeout | ConnectionError | TimeoutError):
            return Unavailable(f"hdfs: {type(exc).__name__}: {exc}")
        return AdapterError(f"hdfs: {type(exc).__name__}: {exc}")

    # -- per-operation core ------------------------------------------------------------------------
    @staticmethod
    def _pick(record: Record, fields: Sequence[str] | None) -> Record:
        return record if fields is None else {f: record[f] for f in fields if f in record}

    def _load(self, path: str) -> Record:
        data: Record = json.loads(self.fs.read(path))
        return data

    def insert(self, namespace: str, key: str, values: Mapping[str, str]) -> None:
        with self.translate_errors():
            self.fs.write(self._file(namespace, key), json.dumps(dict(values)).encode())

    def read(self, namespace: str, key: str, fields: Sequence[str] | None = None) -> Record:
        with self.translate_errors():
            return self._pick(self._load(self._file(namespace, key)), fields)

    def update(self, namespace: str, key: str, values: Mapping[str, str]) -> None:
        with self.translate_errors():
            path = self._file(namespace, key)
            self.fs.write(path, json.dumps({**self._load(path), **values}).encode())

    def delete(self, namespace: str, key: str) -> None:
        with self.translate_errors():
            if not self.fs.delete(self._file(namespace, key)):
                raise NotFound(f"hdfs: {namespace}/{key}")

    def _keys(self, namespace: str) -> list[str]:
        return sorted(unquote(name) for name in self.fs.list(self._dir(namespace, ROWS)))

    def scan(self, namespace: str, start_key: str, count: int,
             fields: Sequence[str] | None = None) -> list[tuple[str, Record]]:
        import bisect

        with self.translate_errors():
            keys = self._keys(namespace)
            chosen = keys[bisect.bisect_left(keys, start_key):][:max(count, 0)]
        rows = []
        for key in chosen:
            try:
                rows.append((key, self.read(namespace, key, fields)))
            except NotFound:  # deleted by another worker since the listing
                continue
        return rows

    def query(self, namespace: str, query: Query) -> QueryResult:
        import pyarrow as pa
        import pyarrow.compute as pc

        summing = query.aggregate == "sum" and query.sum_field is not None
        count = total = 0
        records = self.scan(namespace, "", 2**62)
        for _key, record in records:
            if record.get(query.field) == query.equals:
                count += 1
                if summing:
                    total += int(record.get(str(query.sum_field)) or 0)
        shadowed = pa.array([k for k, _r in records], pa.string())
        for part in self._batch_parts(namespace):
            if query.field not in part.column_names:
                continue
            mask = pc.equal(part[query.field], query.equals)
            if len(shadowed):  # a record file wins over a batch row with the same key
                mask = pc.and_(mask, pc.invert(pc.is_in(part["key"], value_set=shadowed)))
            hits = part.filter(mask)
            count += hits.num_rows
            if summing and query.sum_field in hits.column_names:
                total += sum(int(v) for v in hits[query.sum_field].to_pylist() if v)
        return QueryResult(count, total if query.aggregate == "sum" else None)

    # -- batch -----------------------------------------------------------------------------------------
    def write_batch(self, namespace: str, batch: pa.Table) -> None:
        import uuid

        import pyarrow.parquet as pq

        sink = io.BytesIO()
        pq.write_table(batch, sink)
        name = f"part-{uuid.uuid4().hex}.parquet"
        with self.translate_errors():
            self.fs.write(self._dir(namespace, BATCHES, name), sink.getvalue())

    def _batch_parts(self, namespace: str) -> list[pa.Table]:
        """Every Parquet file of ``batches/``, read whole through the client (HDFS has no pushdown)."""
        import pyarrow.parquet as pq

        with self.translate_errors():
            return [pq.read_table(io.BytesIO(self.fs.read(self._dir(namespace, BATCHES, name))))
                    for name in sorted(self.fs.list(self._dir(namespace, BATCHES)))]

    def read_batch(self, namespace: str, fields: Sequence[str] | None = None) -> pa.Table:
        import pyarrow as pa
        import pyarrow.compute as pc

        parts = self._batch_parts(namespace)
        records = self.scan(namespace, "", 2**62, fields)
        names = list(fields) if fields is not None else sorted(
            {c for p in parts for c in p.column_names if c != "key"} | {f for _k, r in records for f in r})
        schema = pa.schema([("key", pa.string()), *((n, pa.string()) for n in names)])
        tables = [pa.table({n: (p.column(n) if n in p.column_names else pa.nulls(p.num_rows, pa.string()))
                            for n in ["key", *names]}).cast(schema) for p in parts]
        if records:
            override = {k for k, _r in records}
            tables = [t.filter(pc.invert(pc.is_in(t.column("key"), pa.array(list(override), pa.string()))))
                      for t in tables]
            tables.append(pa.table({"key": [k for k, _r in records],
                                    **{n: [r.get(n) for _k, r in records] for n in names}}, schema=schema))
        if not tables:
            return schema.empty_table()
        return pa.concat_tables(tables).sort_by("key")
