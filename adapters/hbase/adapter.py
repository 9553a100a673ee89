"""Apache HBase through its Thrift (v1) gateway with happybase.

Data model (as YCSB's HBase binding): one HBase table per namespace, named like the namespace
(``sbench_...``; option ``table_prefix`` may put a further ``sbench_...`` prefix in front), with one
column family ``f`` (one version kept).  Row key = record key (UTF-8), one column ``f:<field>`` per
field, values UTF-8.  HBase keeps rows sorted by the bytes of the key, which for UTF-8 is code-point
order, the order the harness expects.

Operations:

* insert, update: one ``mutateRow`` (an HBase put).  A put is an upsert: update does *not* check that
  the row exists first (no check-and-put in Thrift v1; an extra read per update would distort the
  numbers), so ``update_requires_existing=False``, as in YCSB's binding.  Insert overwrites.
* delete: ``deleteAll`` of the row; HBase does not report a missing row (``delete_reports_missing=False``).
* read: ``getRowWithColumns``; an empty answer is :class:`NotFound`.
* scan (NATIVE): a server-side scanner from ``start_key`` with the requested columns and a row limit.
* query (EMULATED): the equality filter runs in the region server (``SingleColumnValueFilter`` with
  ``filterIfMissing``), the scan returns only the filtered and summed columns, and the count/sum is
  computed by the client: Thrift v1 has no aggregation (that needs the AggregateImplementation
  coprocessor and the Java client).
* batch write (NATIVE): ``Table.batch(batch_size=...)``: puts buffered client-side and sent as one
  ``mutateRows`` per ``batch_size`` rows.  batch read (NATIVE): one full scanner, ``scan_batch_size``
  rows per round trip, into an Arrow table.

Errors: Thrift transport and socket errors are :class:`Unavailable`; ``TableNotFoundException`` is
:class:`NotFound`.  ``server_info`` asks the master's info server for the cluster's version
(``/api/v1/admin/cluster_metrics``), since Thrift v1 has no version call.
"""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Mapping, Sequence
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import field_validator
from storagebench.adapters.base import (
    NAMESPACE_PREFIX,
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
    settled_size,
)
from storagebench.adapters.hbase.service import PORTS

from storagebench.durability import Durability, read_hadoop_conf, unknown
from storagebench.errors import AdapterError, NotFound, Unavailable
from storagebench.services.network import Route
from storagebench.services.ports import HOST

if TYPE_CHECKING:
    import happybase
    import pyarrow as pa

FAMILY = "f"


HBASE_DURABILITY_KEYS = ("hbase.wal.hsync", "hbase.hfile.hsync", "hbase.wal.provider", "fs.file.impl",
                         "hbase.rootdir")


class HBaseOptions(AdapterOptions):
    host: str = HOST
    #: the Thrift (v1) server
    port: int = PORTS["thrift"]
    #: must match the Thrift server's (HBase defaults: buffered transport, binary protocol)
    transport: Literal["buffered", "framed"] = "buffered"
    protocol: Literal["binary", "compact"] = "binary"
    #: socket timeout per Thrift call, milliseconds (well under the runner's stall timeout, so a dead
    #: server ends the phase promptly)
    timeout_ms: int = 10_000
    #: the cluster's ZooKeeper, for clients that talk to HBase directly (the Spark connector); not used here
    zookeeper_quorum: str | None = f"{HOST}:{PORTS['zookeeper']}"
    #: the master's info server, asked for the cluster version; None: report the version as unknown
    info_url: str | None = f"http://{HOST}:{PORTS['master_info']}"
    #: put in front of every table name; itself must start with "sbench_" so tables stay ours
    table_prefix: str = ""
    #: rows per mutateRows call in write_batch
    batch_size: int = 1000
    #: rows per scanner round trip in scan/query/read_batch
    scan_batch_size: int = 1000
    #: seconds between refreshes of the table metrics seen on JMX: the larger of
    #: ``hbase.regionserver.metrics.period`` and the metrics2 ``*.period`` (the service here sets both to
    #: 1 s; an HBase left at its defaults refreshes every 10 s)
    metrics_period_s: float = 1.0

    @field_validator("table_prefix")
    @classmethod
    def _prefix_is_ours(cls, value: str) -> str:
        if value and not (value.startswith(NAMESPACE_PREFIX) and re.fullmatch(r"[a-z0-9_]+", value)):
            raise ValueError(f"table_prefix must be empty or start with {NAMESPACE_PREFIX!r} and be [a-z0-9_]")
        return value


def _quote(value: str) -> str:
    """A string literal of HBase's filter language (single quotes doubled)."""
    return "'" + value.replace("'", "''") + "'"


class HBaseAdapter(Adapter):
    name = "hbase"
    description = "Apache HBase via the Thrift v1 gateway (happybase)"
    Options = HBaseOptions
    capabilities: ClassVar[Capabilities] = Capabilities(
        family="wide-column",
        query=Support.EMULATED, batch_write=Support.NATIVE, batch_read=Support.NATIVE,
        update_requires_existing=False, delete_reports_missing=False, insert_replaces=True)
    options: HBaseOptions

    @classmethod
    def through_proxy(cls, options: Mapping[str, Any], route: Route) -> tuple[dict[str, Any], str]:
        # the Thrift gateway is the only server the client talks to (it reaches the region servers itself)
        host, port = route(str(options["host"]), int(options["port"]))
        return {**options, "host": host, "port": port}, ""

    def __init__(self, options: AdapterOptions | Mapping[str, Any] | None = None) -> None:
        super().__init__(options)
        self._connection: happybase.Connection | None = None

    # -- lifecycle -----------------------------------------------------------------------------------
    def connect(self) -> None:
        import happybase

        o = self.options
        connection = happybase.Connection(o.host, o.port, timeout=o.timeout_ms, autoconnect=False,
                                          transport=o.transport, protocol=o.protocol)
        with self.translate_errors():
            connection.open()
            connection.tables()  # a real round trip: fail here, not on the first operation
        self._connection = connection

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    @property
    def connection(self) -> happybase.Connection:
        if self._connection is None:
            raise Unavailable("hbase: not connected")
        return self._connection

    def _table_name(self, namespace: str) -> str:
        return self.options.table_prefix + check_namespace(namespace)

    def _table(self, namespace: str) -> happybase.Table:
        return self.connection.table(self._table_name(namespace))

    def prepare(self, namespace: str, fields: Sequence[str]) -> None:
        name = self._table_name(namespace)
        with self.translate_errors():
            if name.encode() not in self.connection.tables():
                self.connection.create_table(name, {FAMILY: {"max_versions": 1}})

    def list_namespaces(self) -> list[str]:
        prefix = self.options.table_prefix
        with self.translate_errors():
            names = [t.decode() for t in self.connection.tables()]
        return ours(n[len(prefix):] for n in names if n.startswith(prefix))

    def drop(self, namespace: str) -> None:
        name = self._table_name(namespace)
        with self.translate_errors():
            if name.encode() in self.connection.tables():
                self.connection.delete_table(name, disable=True)

    def footprint(self, namespace: str) -> int | None:
        """The region server's own table size (store files + memstore), from its JMX table metrics on the
        info port.  They refresh every ``metrics_period_s``, so the size is read until two readings three
        periods apart agree (CI once saw the empty table's 256 bytes twice, a period it took for 5 s apart
        being 10 s).  A table dropped and created again under the same name can show the old table's size
        until the next refresh (runs use fresh names).  The per-region metrics would
        tell tables apart but refresh only every 45 s.  None without ``info_url``."""
        o = self.options
        if o.info_url is None:
            return None
        metric = f"Namespace_default_table_{self._table_name(namespace)}_metric_tableSize"
        query = "Hadoop:service=HBase,name=RegionServer,sub=Tables"

        def read() -> int | None:
            try:
                with urllib.request.urlopen(f"{o.info_url}/jmx?qry={query}", timeout=o.timeout_ms / 1000) as reply:
                    beans = json.loads(reply.read())["beans"]
            except (OSError, ValueError, KeyError) as exc:
                raise Unavailable(f"hbase: cannot read table metrics from {o.info_url}: {exc}") from exc
            sizes = [int(bean[metric]) for bean in beans if metric in bean]
            return sum(sizes) if sizes else None

        period = o.metrics_period_s
        return settled_size(read, timeout_s=12 * period, interval_s=3 * period)

    def server_info(self) -> ServerInfo:
        o = self.options
        details = {"thrift": f"{o.host}:{o.port}", "transport": o.transport, "protocol": o.protocol}
        if o.info_url is None:
            return ServerInfo("HBase", "unknown", {**details, "version": "not asked (info_url unset)"})
        try:
            with urllib.request.urlopen(f"{o.info_url}/api/v1/admin/cluster_metrics",
                                        timeout=o.timeout_ms / 1000) as response:
                data = json.loads(response.read())["data"]
        except (OSError, ValueError, KeyError) as exc:
            raise Unavailable(f"hbase: cannot read the cluster version from {o.info_url}: {exc}") from exc
        return ServerInfo("HBase", str(data["hbase_version"]), {**details, "cluster_id": str(data["cluster_id"])})

    def durability(self) -> Durability:
        """Read back from the master info server's ``/conf``.  Thrift1 (what happybase speaks) sends every
        put and delete as ``SYNC_WAL``, and HBase's SYNC_WAL hflushes the WAL (to the region server's OS,
        on HDFS to every DataNode's memory) without fsync whatever ``hbase.wal.hsync`` says; only
        ``FSYNC_WAL`` fsyncs, and Thrift1 cannot ask for it (checked with strace: no fsync per put).  So
        ``durable`` cannot be honoured through this client; ``fast`` is what every put gets."""
        profile = self.options.durability
        if self.options.info_url is None:
            return unknown(profile, "info_url unset: the server configuration cannot be read")
        try:
            settings = read_hadoop_conf(self.options.info_url, HBASE_DURABILITY_KEYS, self.options.timeout_ms / 1000)
        except (OSError, ValueError) as exc:
            return unknown(profile, f"the master's /conf did not answer ({exc})")
        settings["mutation durability (Thrift1)"] = "SYNC_WAL"
        if profile == "durable":
            return Durability(profile, settings, True, False,
                              "Thrift1 sends every put as SYNC_WAL: the WAL edit is hflushed to the OS, not "
                              "fsync'd, before the put returns (FSYNC_WAL is not reachable through Thrift1)")
        return Durability(profile, settings, True, True, "the WAL edit is hflushed to the OS page cache "
                                                         "(SYNC_WAL), not fsync'd")

    def client_info(self) -> dict[str, str]:
        info = {}
        for package in ("happybase", "thriftpy2"):
            try:
                info[package] = version(package)
            except PackageNotFoundError:
                pass
        return info

    def map_error(self, exc: Exception) -> AdapterError:
        from thriftpy2.thrift import TException
        from thriftpy2.transport import TTransportException

        if isinstance(exc, TTransportException | OSError):  # OSError covers socket errors and timeouts
            return Unavailable(f"hbase: {type(exc).__name__}: {exc}")
        if isinstance(exc, TException):
            message = getattr(exc, "message", b"") or b""
            text = (message.decode(errors="replace") if isinstance(message, bytes) else str(message))
            first = text.splitlines()[0] if text else type(exc).__name__
            if "TableNotFoundException" in first:
                return NotFound(f"hbase: {first}")
            return AdapterError(f"hbase: {first}")
        return AdapterError(f"hbase: {type(exc).__name__}: {exc}")

    # -- per-operation core ------------------------------------------------------------------------
    @staticmethod
    def _columns(fields: Sequence[str] | None) -> list[bytes] | None:
        return None if fields is None else [f"{FAMILY}:{f}".encode() for f in fields]

    @staticmethod
    def _record(data: Mapping[bytes, bytes]) -> Record:
        # columns come back as b"f:<field>"
        return {column[2:].decode(): value.decode() for column, value in data.items()}

    @staticmethod
    def _cells(values: Mapping[str, str]) -> dict[bytes, bytes]:
        return {f"{FAMILY}:{f}".encode(): v.encode() for f, v in values.items()}

    def insert(self, namespace: str, key: str, values: Mapping[str, str]) -> None:
        with self.translate_errors():
            self._table(namespace).put(key.encode(), self._cells(values))

    def read(self, namespace: str, key: str, fields: Sequence[str] | None = None) -> Record:
        with self.translate_errors():
            data = self._table(namespace).row(key.encode(), columns=self._columns(fields))
        if not data:
            raise NotFound(f"hbase: {namespace}/{key}")
        return self._record(data)

    def update(self, namespace: str, key: str, values: Mapping[str, str]) -> None:
        self.insert(namespace, key, values)  # a put: upsert (update_requires_existing=False)

    def delete(self, namespace: str, key: str) -> None:
        with self.translate_errors():
            self._table(namespace).delete(key.encode())

    def scan(self, namespace: str, start_key: str, count: int,
             fields: Sequence[str] | None = None) -> list[tuple[str, Record]]:
        if count <= 0:
            return []
        with self.translate_errors():
            rows = self._table(namespace).scan(
                row_start=start_key.encode(), limit=count, columns=self._columns(fields),
                batch_size=min(count, self.options.scan_batch_size))
            return [(key.decode(), self._record(data)) for key, data in rows]

    def query(self, namespace: str, query: Query) -> QueryResult:
        wanted = [query.field] + ([query.sum_field] if query.aggregate == "sum" and query.sum_field else [])
        # filterIfMissing=true: rows without the column do not match; latestVersionOnly=true
        condition = (f"SingleColumnValueFilter({_quote(FAMILY)}, {_quote(query.field)}, =, "
                     f"{_quote('binary:' + query.equals)}, true, true)")
        count = total = 0
        column = f"{FAMILY}:{query.sum_field}".encode() if query.sum_field else b""
        with self.translate_errors():
            for _key, data in self._table(namespace).scan(columns=self._columns(list(dict.fromkeys(wanted))),
                                                          filter=condition.encode(),
                                                          batch_size=self.options.scan_batch_size):
                count += 1
                if query.aggregate == "sum" and column in data:
                    total += int(data[column])
        return QueryResult(count, total if query.aggregate == "sum" else None)

    # -- batch -----------------------------------------------------------------------------------------
    def write_batch(self, namespace: str, batch: pa.Table) -> None:
        columns = batch.to_pydict()
        keys = columns.pop("key")
        names = [(f"{FAMILY}:{name}".encode(), values) for name, values in columns.items()]
        with self.translate_errors(), self._table(namespace).batch(batch_size=self.options.batch_size) as b:
            for i, key in enumerate(keys):
                b.put(key.encode(), {column: values[i].encode() for column, values in names})

    def read_batch(self, namespace: str, fields: Sequence[str] | None = None) -> pa.Table:
        import pyarrow as pa

        keys: list[str] = []
        values: dict[str, list[str | None]] = {f: [] for f in fields or ()}
        with self.translate_errors():
            for key, data in self._table(namespace).scan(columns=self._columns(fields),
                                                          batch_size=self.options.scan_batch_size):
                record = self._record(data)
                for f in record.keys() - values.keys():  # a field first seen here (fields=None)
                    values[f] = [None] * len(keys)
                for f, column in values.items():
                    column.append(record.get(f))
                keys.append(key.decode())
        names = list(fields) if fields is not None else sorted(values)
        return pa.table({"key": pa.array(keys, pa.string()),
                         **{f: pa.array(values[f], pa.string()) for f in names}})
