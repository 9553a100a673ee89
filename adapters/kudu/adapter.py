"""Apache Kudu through the official Java client (``kudu-client``), driven from Python with JPype.

Why Java: ``kudu-python`` needs the Kudu C++ client library, which no package registry ships; the Java
client is on Maven Central.  ``storagebench services up kudu`` resolves its jars into the cache
(:func:`storagebench.adapters.kudu.service.kudu_client_classpath`); option ``classpath`` points elsewhere.

Data model: one Kudu table per namespace, named exactly like the namespace (``sbench_...``), with
``key STRING PRIMARY KEY`` and one nullable ``STRING`` column per field (YCSB's usertable maps 1:1).
Partitioning: **range** partitioning on ``key`` with a single unbounded range (one tablet), so that a
fault-tolerant (snapshot) scan returns rows in primary-key order: hash partitions would be scanned
tablet after tablet and not come back in key order.  ``num_replicas`` defaults to 1 (one tablet server).

Operations:

* insert / update / delete: one ``Insert`` / ``Update`` / ``Delete`` applied through a ``KuduSession``
  in ``AUTO_FLUSH_SYNC`` (one round trip each); a row error ``NOT_FOUND`` (update or delete of a
  missing key) becomes :class:`NotFound`, ``ALREADY_PRESENT`` becomes :class:`AlreadyExists`.
* read: a scan with an equality predicate on ``key``, the requested columns projected, limit 1.
* scan: predicate ``key >= start`` + projection + limit, fault tolerant (ordered, READ_AT_SNAPSHOT).
* query: the equality filter is pushed down to the tablet server as a predicate and only the needed
  column is projected; Kudu has no server-side aggregates, so count/sum are computed by the client
  over the matching rows: declared ``query=EMULATED``.
* batch write (NATIVE): one session in ``MANUAL_FLUSH`` with a mutation buffer of ``batch_size`` rows,
  flushed per buffer (the client groups the buffered rows per tablet server into write RPCs).
* batch read (NATIVE): one ordered full-table scan with projection, converted to an Arrow table;
  filtered batch read (NATIVE): the same with the equality predicate pushed down.

JPype: the JVM is started once per process (classpath fixed at that point); Python threads are attached
to it as daemon threads on first use, so each worker thread can own an adapter.  When the first
use is in a worker thread, the JVM is started from a helper thread that detaches itself, so that
destroying the JVM at interpreter exit does not wait for an ended thread (that would hang for ever).
A JVM does not survive ``fork()``: child processes must be started with the ``spawn`` method (they
start their own JVM); using the adapter in a forked child of a process that already started the JVM
raises :class:`Unavailable`.
"""

from __future__ import annotations

import json
import os
import threading
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Literal

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
    require_found,
    settled_size,
)
from storagebench.adapters.kudu.service import PORTS

from storagebench.durability import Durability, restart_hint, unknown
from storagebench.errors import AdapterError, AlreadyExists, NotFound, Unavailable
from storagebench.services.network import Route
from storagebench.services.ports import HOST

if TYPE_CHECKING:
    import pyarrow as pa

_JVM_LOCK = threading.Lock()
_JVM_PID: int | None = None
_ATTACHED = threading.local()


KUDU_DURABILITY_FLAGS = ("log_force_fsync_all", "cfile_do_on_finish", "default_num_replicas")


class KuduOptions(AdapterOptions):
    #: comma-separated master RPC addresses
    master_addresses: str = f"{HOST}:{PORTS['master']}"
    #: a master's web UI, read for the server version (Kudu's Java client does not expose it); None: skip
    web_ui: str | None = f"http://{HOST}:{PORTS['master_http']}"
    #: a tablet server's web UI, read (``/varz``) for the flags that decide durability; None: skip
    tserver_web_ui: str | None = f"http://{HOST}:{PORTS['tserver_http']}"
    #: jars of the Java client; None: the ones ``storagebench services up kudu`` put in the cache
    classpath: list[str] | None = None
    #: JVM options, used only if this process has not started a JVM yet
    jvm_options: tuple[str, ...] = ("-Xmx512m", "-XX:+UseSerialGC", "-Xss1m")
    #: per-operation timeout: well under the runner's stall timeout, so a dead cluster ends the phase promptly
    operation_timeout_ms: int = 10_000
    admin_timeout_ms: int = 15_000
    connection_negotiation_timeout_ms: int = 10_000
    #: netty worker threads of each client (one client per adapter instance)
    worker_threads: int = 2
    #: rows buffered per flush by write_batch (MANUAL_FLUSH)
    batch_size: int = 1000
    num_replicas: int = 1
    #: RPC security (Kudu authenticates with Kerberos or its own tokens; there is no password)
    require_authentication: bool = False
    encryption_policy: Literal["optional", "required_remote", "required"] = "optional"
    sasl_protocol_name: str = "kudu"


def start_jvm(classpath: Sequence[str] | None = None, jvm_options: Sequence[str] = ()) -> Any:
    """Start the process's JVM once (with the Kudu client on the classpath) and return the ``jpype`` module.

    Also attaches the calling thread (as a daemon thread, so it never blocks interpreter exit).
    """
    global _JVM_PID
    import jpype

    with _JVM_LOCK:
        if not jpype.isJVMStarted():
            from storagebench.adapters.kudu.service import kudu_client_classpath

            jars = list(classpath) if classpath else kudu_client_classpath()
            if threading.current_thread() is threading.main_thread():
                jpype.startJVM(*jvm_options, classpath=jars, convertStrings=False)
            else:
                _start_jvm_off_thread(jpype, jars, jvm_options)
            _JVM_PID = os.getpid()
        elif _JVM_PID is not None and _JVM_PID != os.getpid():
            raise Unavailable("kudu: this process was forked from one that had started a JVM, which does not "
                              "survive fork(); start worker processes with the 'spawn' method")
    if not getattr(_ATTACHED, "done", False):
        thread = jpype.JClass("java.lang.Thread")
        if not thread.isAttached():
            thread.attachAsDaemon()
        _ATTACHED.done = True
    return jpype


def _start_jvm_off_thread(jpype: Any, jars: list[str], jvm_options: Sequence[str]) -> None:
    """Start the JVM from a helper thread that detaches itself before it ends.

    At interpreter exit JPype destroys the JVM, which waits for every non-daemon Java thread, and the
    thread that created the JVM counts as one.  When that is a worker thread that has already ended
    (the runner's spawned processes connect from worker threads), exit would hang for ever.
    """
    failure: list[BaseException] = []

    def boot() -> None:
        try:
            jpype.startJVM(*jvm_options, classpath=jars, convertStrings=False)
            jpype.JClass("java.lang.Thread").detach()
        except BaseException as exc:
            failure.append(exc)

    helper = threading.Thread(target=boot, name="kudu-jvm-start")
    helper.start()
    helper.join()
    if failure:
        raise failure[0]


class KuduAdapter(Adapter):
    name = "kudu"
    description = "Apache Kudu (Java client through JPype)"
    Options = KuduOptions
    capabilities: ClassVar[Capabilities] = Capabilities(
        family="wide-column",
        query=Support.EMULATED, batch_write=Support.NATIVE, batch_read=Support.NATIVE, batch_filter=Support.NATIVE)
    options: KuduOptions

    @classmethod
    def through_proxy(cls, options: Mapping[str, Any], route: Route) -> tuple[dict[str, Any], str]:
        masters = []
        for address in str(options["master_addresses"]).split(","):
            host, _, port = address.strip().rpartition(":")
            proxy_host, proxy_port = route(host, int(port))
            masters.append(f"{proxy_host}:{proxy_port}")
        return ({**options, "master_addresses": ",".join(masters)},
                "tablet servers: the master sends the client to each tablet server's own address")

    def __init__(self, options: AdapterOptions | Mapping[str, Any] | None = None) -> None:
        super().__init__(options)
        self.client: Any = None
        self.session: Any = None
        self._tables: dict[str, Any] = {}
        self._j: Any = None  # Java classes, looked up once per adapter

    # -- lifecycle ---------------------------------------------------------------------------------
    def connect(self) -> None:
        opts = self.options
        try:
            jpype = start_jvm(opts.classpath, opts.jvm_options)
        except AdapterError:
            raise
        except Exception as exc:
            raise Unavailable(f"kudu: cannot start the JVM with the Kudu client: {exc}") from exc
        with self.translate_errors():
            j = _JavaClasses(jpype)
            builder = (j.KuduClientBuilder(opts.master_addresses)
                       .defaultOperationTimeoutMs(opts.operation_timeout_ms)
                       .defaultAdminOperationTimeoutMs(opts.admin_timeout_ms)
                       .connectionNegotiationTimeoutMs(opts.connection_negotiation_timeout_ms)
                       .workerCount(opts.worker_threads)
                       .saslProtocolName(opts.sasl_protocol_name)
                       .requireAuthentication(opts.require_authentication)
                       .encryptionPolicy(getattr(j.EncryptionPolicy, opts.encryption_policy.upper())))
            self._j = j
            self.client = builder.build()
            # one round trip to the master so connect() fails fast when nothing is there
            self.client.getTablesList()
            self.session = self.client.newSession()
            self.session.setFlushMode(j.FlushMode.AUTO_FLUSH_SYNC)

    def close(self) -> None:
        client, self.client, self.session = self.client, None, None
        self._tables.clear()
        if client is not None:
            start_jvm()
            try:
                client.close()
            except Exception:  # closing must not fail; the JVM cleans up at exit
                pass

    def init_worker(self, worker_id: int) -> None:
        start_jvm()  # attach this thread

    def _table(self, namespace: str) -> Any:
        table = self._tables.get(check_namespace(namespace))
        if table is None:
            table = self._tables[namespace] = self.client.openTable(namespace)
        return table

    def _ready(self) -> Any:
        """The client, after attaching the calling thread to the JVM if it is new."""
        if self.client is None:
            raise Unavailable("kudu: adapter is not connected")
        start_jvm()  # attach the calling thread if it is new
        return self.client

    def prepare(self, namespace: str, fields: Sequence[str]) -> None:
        check_namespace(namespace)
        with self.translate_errors():
            client, j = self._ready(), self._j
            if client.tableExists(namespace):
                return
            columns = j.ArrayList()
            columns.add(j.ColumnSchemaBuilder("key", j.Type.STRING).key(True).build())
            for f in fields:
                columns.add(j.ColumnSchemaBuilder(f, j.Type.STRING).nullable(True).build())
            range_columns = j.ArrayList()
            range_columns.add("key")
            create = j.CreateTableOptions().setRangePartitionColumns(range_columns)
            create.setNumReplicas(self.options.num_replicas)
            client.createTable(namespace, j.Schema(columns), create)

    def list_namespaces(self) -> list[str]:
        with self.translate_errors():
            return ours(str(name) for name in self._ready().getTablesList().getTablesList())

    def drop(self, namespace: str) -> None:
        check_namespace(namespace)
        self._tables.pop(namespace, None)
        with self.translate_errors():
            client = self._ready()
            if client.tableExists(namespace):
                try:
                    client.deleteTable(namespace)
                except Exception as exc:  # dropped concurrently by another worker: fine
                    if not _status(exc, "isNotFound"):
                        raise

    def footprint(self, namespace: str) -> int | None:
        """The table's on-disk size as the master reports it (KuduTable.getTableStatistics: tablet data
        and WAL, refreshed on tablet-server heartbeats: read until it settles)."""
        def read() -> int:
            with self.translate_errors():
                self._ready()
                return int(self.client.openTable(check_namespace(namespace)).getTableStatistics().getOnDiskSize())

        return settled_size(read)

    def server_info(self) -> ServerInfo:
        details = {"masters": self.options.master_addresses}
        version = "unknown"
        with self.translate_errors():
            details["tablet servers"] = str(self._ready().listTabletServers().getTabletServersCount())
        if self.options.web_ui:
            try:
                with urllib.request.urlopen(f"{self.options.web_ui.rstrip('/')}/version", timeout=10) as resp:
                    version = str(json.load(resp)["version_info"]["version_string"])
            except (OSError, ValueError, KeyError) as exc:
                details["version error"] = str(exc)
        return ServerInfo("Kudu", version, details)

    def durability(self) -> Durability:
        """The tablet server's flags from its ``/varz`` page: with ``--log_force_fsync_all`` each WAL
        append is fsync'd before the write is acknowledged (one replica here, so no other copy)."""
        profile = self.options.durability
        if not self.options.tserver_web_ui:
            return unknown(profile, "tserver_web_ui unset: the tablet server's flags cannot be read")
        try:
            with urllib.request.urlopen(f"{self.options.tserver_web_ui.rstrip('/')}/varz?raw", timeout=10) as resp:
                text = resp.read().decode(errors="replace")
        except OSError as exc:
            return unknown(profile, f"the tablet server's /varz did not answer ({exc})")
        settings = {}
        for line in text.splitlines():
            name, _, value = line.strip().removeprefix("--").partition("=")
            if name in KUDU_DURABILITY_FLAGS:
                settings[name] = value
        fsync = settings.get("log_force_fsync_all") == "true"
        if profile == "durable":
            note = ("each WAL append is fsync'd before the write is acknowledged" if fsync else
                    "WAL appends are not fsync'd; " + restart_hint("kudu", profile))
            return Durability(profile, settings, True, fsync, note)
        note = ("WAL appends reach the page cache, no fsync per write" if not fsync else
                "WAL appends are still fsync'd; " + restart_hint("kudu", profile))
        return Durability(profile, settings, True, not fsync, note)

    def client_info(self) -> dict[str, str]:
        import jpype

        info = {"JPype1": str(jpype.__version__)}
        if jpype.isJVMStarted():
            start_jvm()
            info["JVM"] = str(jpype.JClass("java.lang.System").getProperty("java.version"))
            version = self._j.KuduClient.class_.getPackage().getImplementationVersion() if self._j else None
            if version is not None:
                info["kudu-client (Java)"] = str(version)
        return info

    # -- per operation -----------------------------------------------------------------------------
    def _apply(self, namespace: str, op: Any) -> None:
        response = self.session.apply(op)
        if response is not None and response.hasRowError():
            raise _row_error(namespace, response.getRowError())

    def _mutation(self, namespace: str, kind: str, key: str, values: Mapping[str, str]) -> Any:
        table = self._table(namespace)
        op = getattr(table, kind)()
        row = op.getRow()
        row.addString("key", key)
        for name, value in values.items():
            row.addString(name, value)
        return op

    def insert(self, namespace: str, key: str, values: Mapping[str, str]) -> None:
        with self.translate_errors():
            self._ready()
            self._apply(namespace, self._mutation(namespace, "newInsert", key, values))

    def update(self, namespace: str, key: str, values: Mapping[str, str]) -> None:
        with self.translate_errors():
            self._ready()
            self._apply(namespace, self._mutation(namespace, "newUpdate", key, values))

    def delete(self, namespace: str, key: str) -> None:
        with self.translate_errors():
            self._ready()
            self._apply(namespace, self._mutation(namespace, "newDelete", key, {}))

    def _columns(self, table: Any, fields: Sequence[str] | None) -> list[str]:
        if fields is not None:
            return list(fields)
        return [str(c.getName()) for c in table.getSchema().getColumns() if str(c.getName()) != "key"]

    def _scan(self, table: Any, columns: Sequence[str], predicates: Sequence[Any], limit: int | None,
              ordered: bool) -> Iterator[Any]:
        j = self._j
        projected = j.ArrayList()
        for c in columns:
            projected.add(c)
        builder = self.client.newScannerBuilder(table).setProjectedColumnNames(projected)
        for p in predicates:
            builder = builder.addPredicate(p)
        if limit is not None:
            builder = builder.limit(limit)
        if ordered:
            # fault-tolerant scans return each tablet's rows in primary-key order (READ_AT_SNAPSHOT)
            builder = builder.setFaultTolerant(True)
        scanner = builder.build()
        try:
            while scanner.hasMoreRows():
                rows = scanner.nextRows()
                while rows.hasNext():
                    yield rows.next()
        finally:
            scanner.close()

    def _key_predicate(self, table: Any, op: str, key: str) -> Any:
        j = self._j
        column = table.getSchema().getColumn("key")
        return j.KuduPredicate.newComparisonPredicate(column, getattr(j.ComparisonOp, op), key)

    @staticmethod
    def _record(row: Any, fields: Sequence[str], offset: int) -> Record:
        record: Record = {}
        for i, name in enumerate(fields, offset):
            if not row.isNull(i):
                record[name] = str(row.getString(i))
        return record

    def read(self, namespace: str, key: str, fields: Sequence[str] | None = None) -> Record:
        with self.translate_errors():
            self._ready()
            table = self._table(namespace)
            columns = self._columns(table, fields)
            match = self._key_predicate(table, "EQUAL", key)
            rows = list(self._scan(table, columns, [match], 1, ordered=False))
            require_found(bool(rows), namespace, key)
            return self._record(rows[0], columns, 0)

    def scan(self, namespace: str, start_key: str, count: int,
             fields: Sequence[str] | None = None) -> list[tuple[str, Record]]:
        if count <= 0:
            return []
        with self.translate_errors():
            self._ready()
            table = self._table(namespace)
            columns = self._columns(table, fields)
            predicates = [self._key_predicate(table, "GREATER_EQUAL", start_key)] if start_key else []
            rows = self._scan(table, ["key", *columns], predicates, count, ordered=True)
            return [(str(row.getString(0)), self._record(row, columns, 1)) for row in rows][:count]

    def query(self, namespace: str, query: Query) -> QueryResult:
        with self.translate_errors():
            self._ready()
            j = self._j
            table = self._table(namespace)
            column = table.getSchema().getColumn(query.field)
            predicate = j.KuduPredicate.newComparisonPredicate(column, j.ComparisonOp.EQUAL, query.equals)
            if query.aggregate == "count":
                # project only the key (cheapest column that is never null)
                count = sum(1 for _ in self._scan(table, ["key"], [predicate], None, ordered=False))
                return QueryResult(count)
            assert query.sum_field is not None, "sum needs sum_field"
            count = total = 0
            for row in self._scan(table, [query.sum_field], [predicate], None, ordered=False):
                count += 1
                if not row.isNull(0):
                    total += int(str(row.getString(0)))
            return QueryResult(count, total)

    # -- batch -------------------------------------------------------------------------------------
    def write_batch(self, namespace: str, batch: pa.Table) -> None:
        columns = batch.to_pydict()
        keys = columns.pop("key")
        names = list(columns)
        size = max(1, self.options.batch_size)
        with self.translate_errors():
            client, j = self._ready(), self._j
            table = self._table(namespace)
            schema = table.getSchema()
            index = [schema.getColumnIndex(name) for name in names]
            session = client.newSession()
            try:
                session.setFlushMode(j.FlushMode.MANUAL_FLUSH)
                session.setMutationBufferSpace(size)
                for start in range(0, len(keys), size):
                    for i in range(start, min(start + size, len(keys))):
                        op = table.newInsert()
                        row = op.getRow()
                        row.addString(0, keys[i])
                        for c, name in zip(index, names, strict=True):
                            value = columns[name][i]
                            if value is not None:
                                row.addString(c, value)
                        session.apply(op)
                    for response in session.flush():
                        if response.hasRowError():
                            raise _row_error(namespace, response.getRowError())
            finally:
                session.close()

    def read_batch(self, namespace: str, fields: Sequence[str] | None = None) -> pa.Table:
        return self._read_table(namespace, fields, None)

    def read_batch_where(self, namespace: str, fields: Sequence[str], field: str, equals: str) -> pa.Table:
        return self._read_table(namespace, fields, (field, equals))

    def _read_table(self, namespace: str, fields: Sequence[str] | None,
                    where: tuple[str, str] | None) -> pa.Table:
        """One ordered scan (the equality filter pushed down as a predicate) into an Arrow table."""
        import pyarrow as pa

        with self.translate_errors():
            self._ready()
            j = self._j
            table = self._table(namespace)
            columns = self._columns(table, fields)
            predicates = []
            if where is not None:
                column = table.getSchema().getColumn(where[0])
                predicates.append(j.KuduPredicate.newComparisonPredicate(column, j.ComparisonOp.EQUAL, where[1]))
            keys: list[str] = []
            values: dict[str, list[str | None]] = {c: [] for c in columns}
            for row in self._scan(table, ["key", *columns], predicates, None, ordered=True):
                keys.append(str(row.getString(0)))
                for i, c in enumerate(columns, 1):
                    values[c].append(None if row.isNull(i) else str(row.getString(i)))
            return pa.table({"key": pa.array(keys, pa.string()),
                             **{c: pa.array(v, pa.string()) for c, v in values.items()}})

    # -- errors ------------------------------------------------------------------------------------
    def map_error(self, exc: Exception) -> AdapterError:
        message = f"kudu: {_java_message(exc)}"
        if _status(exc, "isNotFound"):
            return NotFound(message)
        if _status(exc, "isAlreadyPresent"):
            return AlreadyExists(message)
        if any(_status(exc, s) for s in ("isNetworkError", "isTimedOut", "isServiceUnavailable")):
            return Unavailable(message)
        return AdapterError(message)


class _JavaClasses:
    """The Java classes the adapter uses, resolved once the JVM runs."""

    def __init__(self, jpype: Any) -> None:
        jc = jpype.JClass
        self.KuduClient = jc("org.apache.kudu.client.KuduClient")
        self.KuduClientBuilder = jc("org.apache.kudu.client.KuduClient$KuduClientBuilder")
        self.EncryptionPolicy = jc("org.apache.kudu.client.AsyncKuduClient$EncryptionPolicy")
        self.FlushMode = jc("org.apache.kudu.client.SessionConfiguration$FlushMode")
        self.ColumnSchemaBuilder = jc("org.apache.kudu.ColumnSchema$ColumnSchemaBuilder")
        self.Type = jc("org.apache.kudu.Type")
        self.Schema = jc("org.apache.kudu.Schema")
        self.CreateTableOptions = jc("org.apache.kudu.client.CreateTableOptions")
        self.KuduPredicate = jc("org.apache.kudu.client.KuduPredicate")
        self.ComparisonOp = jc("org.apache.kudu.client.KuduPredicate$ComparisonOp")
        self.ArrayList = jc("java.util.ArrayList")


def _status(exc: BaseException, check: str) -> bool:
    """Ask a KuduException's Status (``isNotFound`` ...); False for anything else."""
    get_status = getattr(exc, "getStatus", None)
    if get_status is None:
        return False
    try:
        return bool(getattr(get_status(), check)())
    except Exception:
        return False


def _java_message(exc: BaseException) -> str:
    message = getattr(exc, "getMessage", None)
    if callable(message):
        try:
            return f"{type(exc).__name__}: {message()}"
        except Exception:
            pass
    return f"{type(exc).__name__}: {exc}"


def _row_error(namespace: str, error: Any) -> AdapterError:
    status = error.getErrorStatus()
    message = f"kudu: {namespace}: {status.toString()}"
    if status.isNotFound():
        return NotFound(message)
    if status.isAlreadyPresent():
        return AlreadyExists(message)
    if status.isTimedOut() or status.isServiceUnavailable() or status.isNetworkError():
        return Unavailable(message)
    return AdapterError(message)
