"""The adapter interface every store implements.

Shape (after go-ycsb's DB interface and fsspec's AbstractFileSystem):

* lifecycle: ``connect`` / ``close`` (also a context manager); ``prepare(ns)`` / ``drop(ns)`` create and
  remove the harness's own namespace only (names start with :data:`NAMESPACE_PREFIX`);
  ``init_worker`` is a per-worker hook.  Every worker owns its own adapter instance, hence its own
  connection; the runner sets :attr:`Adapter.placement` (how many clients, how many share this
  interpreter, how many cores) before ``connect``, for a driver whose best way to wait depends on it.
* per-operation core with YCSB semantics: insert, read (all or some fields), update, delete,
  scan(start_key, count, fields) in key order, and ``query`` (equality filter on one field, count or sum).
* batch (columnar) interface: ``write_batch`` / ``read_batch`` with Arrow tables.  An adapter that has a
  real bulk path declares ``batch_write=NATIVE``; otherwise the timing proxy runs
  :func:`fallback_write_batch`, which loops over the per-op methods *through the proxy* so every row is
  still measured as an operation.
* ``capabilities`` declares, per operation, native / emulated / unsupported.  Defaults are strict (the
  pyarrow.fs habit): an adapter declares only where it deviates.  Nothing in the harness branches on an
  adapter's name.
* ``server_info()``: the engine and version that actually answered; ``footprint(ns)``: bytes the
  namespace takes, from the engine itself (None when it cannot tell).

Adapters never time themselves: the runner wraps them in :class:`storagebench.measuring.measurement.TimedAdapter`.
Driver exceptions are translated at one boundary per adapter (:meth:`Adapter.translate_errors`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol

from pydantic import BaseModel, ConfigDict

from storagebench.durability import DEFAULT_PROFILE, Durability, Profile, unknown
from storagebench.errors import AdapterError, NotFound, StorageBenchError, Unsupported, UsageError

if TYPE_CHECKING:
    import pyarrow as pa

#: Every table, bucket, directory, collection or label the harness creates starts with this.
NAMESPACE_PREFIX = "sbench_"

Record = dict[str, str]
#: records one scan of the emulated join asks for
JOIN_PAGE = 1000


class Support(StrEnum):
    NATIVE = "native"
    EMULATED = "emulated"
    UNSUPPORTED = "unsupported"


@dataclass(frozen=True)
class Capabilities:
    """What an adapter can do and how.  Strict defaults; declare only deviations."""

    insert: Support = Support.NATIVE
    read: Support = Support.NATIVE
    update: Support = Support.NATIVE
    delete: Support = Support.NATIVE
    scan: Support = Support.NATIVE
    query: Support = Support.NATIVE
    #: records whose document (JSON in a field) has a nested field equal to a value; EMULATED = a scan of
    #: every record filtered on the client (no index)
    find: Support = Support.EMULATED
    #: records whose document has a nested number in [lo, hi); EMULATED = a scan filtered on the client
    find_range: Support = Support.EMULATED
    #: set one nested field of a record's document; EMULATED = read the document, change it, write it back
    update_nested: Support = Support.EMULATED
    #: bulk paths; EMULATED means the generic per-operation fallback runs (and is measured per row)
    batch_write: Support = Support.EMULATED
    batch_read: Support = Support.EMULATED
    #: equality-filtered batch read pushed down to the store (EMULATED: batch read + client-side filter)
    batch_filter: Support = Support.EMULATED
    #: k-hop neighbours over links stored in a field; EMULATED = breadth-first reads (every store can)
    graph: Support = Support.EMULATED
    #: a shortest chain of links between two keys; EMULATED = breadth-first reads (every store can)
    shortest_path: Support = Support.EMULATED
    #: a join of two record types with a group-by (count and sum per group); EMULATED = scans of the namespace
    #: and a client-side join (every store can)
    join: Support = Support.EMULATED
    #: rows that ``write_batch`` writes are records the per-operation calls read (False: the bulk path keeps
    #: them apart, e.g. Parquet objects beside one object per record; a per-record workload's batched load
    #: then writes record by record, through the fallback, so its reads find what it loaded)
    batch_rows_are_records: bool = True
    #: the store keeps what it is given (False only for the null adapter): reads can be verified
    stores_data: bool = True
    #: update of a missing key raises NotFound (instead of silently creating it)
    update_requires_existing: bool = True
    #: delete of a missing key raises NotFound (instead of being a silent no-op)
    delete_reports_missing: bool = True
    #: insert of an existing key replaces the record (an upsert: HBase's put, a file or object written over)
    #: instead of failing with AlreadyExists.  No workload inserts a key twice (run-phase inserts take new
    #: key numbers), so no check depends on it; the conformance suite holds each store to what it declares
    insert_replaces: bool = False
    #: several OS processes may use the store at once (False: the runner refuses processes > 1)
    multiprocess: bool = True
    #: every per-operation call waits for the server through :func:`storagebench.running.coop.wait_readable`
    #: when :attr:`Placement.cooperative` says so: the clients of a process can share one thread
    cooperative: bool = False
    #: what kind of store this is, for the report's filters: relational, document, graph, wide-column,
    #: object, file (or none for the null adapter); a declaration, so the report never matches names
    family: str = "other"
    #: the managed API whose prices a price sheet lists for this store (``apis.<name>`` in
    #: :mod:`storagebench.pricing`, e.g. ``s3``; empty: none), and the billable requests one operation
    #: makes on it: operation -> {request class: count}.  Operations whose request count varies with the data
    #: (a listing and a GET per row) are left out, and the cost model says they were not priced
    priced_api: str = ""
    requests: Mapping[str, Mapping[str, int]] = field(default_factory=dict)

    OPERATIONS: ClassVar[tuple[str, ...]] = (
        "insert", "read", "update", "delete", "scan", "query", "graph", "shortest_path", "join", "batch_write",
        "batch_read", "batch_filter", "find", "find_range", "update_nested",
    )

    def support(self, operation: str) -> Support:
        value = getattr(self, operation)
        assert isinstance(value, Support)
        return value

    def as_dict(self) -> dict[str, Any]:
        return {f.name: (str(v) if isinstance(v := getattr(self, f.name), Support) else v)
                for f in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Capabilities:
        known = {f.name: f for f in dataclasses.fields(cls)}
        kwargs: dict[str, Any] = {}
        for key, value in data.items():
            if key in known:
                kwargs[key] = Support(value) if known[key].type in ("Support", Support) else value
        return cls(**kwargs)


@dataclass(frozen=True)
class Query:
    """An equality filter on one field and an aggregate over the matching records.

    ``sum`` adds the values of ``sum_field`` read as integers (the query workload generates them so).
    """

    field: str
    equals: str
    aggregate: Literal["count", "sum"] = "count"
    sum_field: str | None = None


@dataclass(frozen=True)
class QueryResult:
    count: int
    total: int | None = None


@dataclass(frozen=True)
class Join:
    """A join of two record types in one namespace with a group-by, as SQL writes it::

        SELECT u.<group_field>, count(*), sum(CAST(o.<sum_field> AS BIGINT))
        FROM ns u JOIN ns o ON o.<ref_field> = u.key
        WHERE u.<group_field> BETWEEN low AND high GROUP BY u.<group_field>

    The *parents* (users) are the records whose ``group_field`` lies in ``[low, high]`` (text order); the
    *children* (orders) those whose ``ref_field`` holds a parent's key; ``sum_field`` holds integers.
    """

    group_field: str
    ref_field: str
    sum_field: str
    low: str
    high: str


#: a join's answer: group value -> (children joined, their sum); groups with no child are absent
JoinResult = dict[str, tuple[int, int]]


@dataclass(frozen=True)
class ServerInfo:
    """What actually answered: e.g. engine="FerretDB", version="1.24.2", details={"backend": ...}."""

    engine: str
    version: str
    details: dict[str, str] = field(default_factory=dict)
    #: False when the server does not report its version and ``version`` is what was configured
    version_observed: bool = True

    def label(self) -> str:
        extra = ", ".join(f"{k} {v}" for k, v in self.details.items())
        version = self.version if self.version_observed else f"{self.version} (configured)"
        return f"{self.engine} {version}" + (f" ({extra})" if extra else "")


class AdapterOptions(BaseModel):
    """Base of each adapter's options model; unknown keys are errors, secrets use ``SecretStr``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: what an acknowledged write must mean (see :mod:`storagebench.durability`); set per run
    durability: Profile = DEFAULT_PROFILE


_NS_RE = re.compile(r"^[a-z0-9_]+$")


def check_namespace(namespace: str) -> str:
    """Refuse any namespace the harness does not own (the namespace-safety rule)."""
    if not namespace.startswith(NAMESPACE_PREFIX) or not _NS_RE.match(namespace):
        raise UsageError(f"namespace {namespace!r} must start with {NAMESPACE_PREFIX!r} and be [a-z0-9_]")
    return namespace


@dataclass(frozen=True)
class Placement:
    """Where a phase's clients run: ``clients`` in all, up to ``per_process`` of them sharing one
    interpreter (threads), on a machine with ``cores`` cores."""

    clients: int
    per_process: int
    cores: int
    #: the clients of a process share one thread as greenlets (:mod:`storagebench.running.coop`): a driver must
    #: wait for its server through :func:`storagebench.running.coop.wait_readable`
    cooperative: bool = False

    @property
    def core_to_spare(self) -> bool:
        """Every client has an interpreter of its own and the clients leave at least one core free."""
        return self.per_process == 1 and self.clients < self.cores


class Adapter(ABC):
    """One store.  Subclasses set ``name``, ``Options``, maybe ``capabilities``, and implement the ops."""

    name: ClassVar[str]
    Options: ClassVar[type[AdapterOptions]] = AdapterOptions
    capabilities: ClassVar[Capabilities] = Capabilities()
    description: ClassVar[str] = ""
    #: part of a plain `storagebench run` (embedded: needs no server and no credentials)
    default_store: ClassVar[bool] = False

    def __init__(self, options: AdapterOptions | Mapping[str, Any] | None = None) -> None:
        if isinstance(options, AdapterOptions):
            self.options = options
        else:
            self.options = self.Options.model_validate(dict(options or {}))
        #: set by the runner before :meth:`connect`; None outside a phase (tests, preflight, batch)
        self.placement: Placement | None = None

    # -- lifecycle ---------------------------------------------------------------------------------
    @abstractmethod
    def connect(self) -> None:
        """Open the connection; raise :class:`~storagebench.errors.Unavailable` if the store is not there."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the connection.  Must be safe to call twice."""

    def __enter__(self) -> Adapter:
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @abstractmethod
    def prepare(self, namespace: str, fields: Sequence[str]) -> None:
        """Create the namespace (table / bucket / directory / label) for records with these fields."""

    @abstractmethod
    def drop(self, namespace: str) -> None:
        """Remove the namespace and everything in it; touch nothing else.  No error if absent."""

    def list_namespaces(self) -> list[str]:
        """Every namespace of the harness on this store (names starting with :data:`NAMESPACE_PREFIX`),
        for ``storagebench clean``.  Stores that cannot list theirs keep this default."""
        raise Unsupported(f"{self.name}: cannot list its namespaces")

    def init_worker(self, worker_id: int) -> None:  # noqa: B027 - optional hook
        """Per-worker setup after connect (e.g. prepared statements)."""

    @abstractmethod
    def server_info(self) -> ServerInfo:
        """The engine and version that answered."""

    def client_info(self) -> dict[str, str]:
        """Versions of the client libraries in use (recorded in result files)."""
        return {}

    def footprint(self, namespace: str) -> int | None:
        """Bytes the namespace takes in the store, as the engine itself reports them (relation sizes,
        collection stats, object sizes, file lengths...), or None when the store cannot tell."""
        return None

    def index_bytes(self, namespace: str) -> int | None:
        """Bytes the namespace's secondary indexes and edge table take (what :meth:`create_index`,
        :meth:`create_document_index` and :meth:`create_edge_index` built; never the primary key), as the
        engine itself reports them, or None when it cannot tell (the default).  The harness reads it
        before and after each index it builds: the difference is that index's size."""
        return None

    def durability(self) -> Durability:
        """The durability this connection gets for ``options.durability``, read back from the server
        where it can tell (called once per run, after :meth:`connect`, recorded in every result file)."""
        return unknown(self.options.durability)

    # -- one run ------------------------------------------------------------------------------------
    @classmethod
    def run_options(cls, options: AdapterOptions, run_token: str) -> AdapterOptions:
        """The options one run uses (``run_token`` is unique to the run).  The default keeps them; an
        embedded store whose files one process locks gives each run its own file unless one was chosen."""
        return options

    @classmethod
    def through_proxy(cls, options: Mapping[str, Any],
                      route: Callable[[str, int], tuple[str, int]]) -> tuple[dict[str, Any], str]:
        """Options (plain values) whose connections go through network proxies: ``route(host, port)``
        creates one for an endpoint the driver connects to and gives its address.  Returns the options and
        what the driver still reaches directly ("" when nothing).  The default: no network profiles."""
        raise Unsupported(f"{cls.name}: cannot run under a network profile (its endpoints are not declared)")

    @classmethod  # noqa: B027 - optional hook
    def end_run(cls, options: AdapterOptions) -> None:
        """The run that got ``options`` from :meth:`run_options` is over: release what it was given."""

    # -- per-operation core ------------------------------------------------------------------------
    @abstractmethod
    def insert(self, namespace: str, key: str, values: Mapping[str, str]) -> None: ...

    @abstractmethod
    def read(self, namespace: str, key: str, fields: Sequence[str] | None = None) -> Record:
        """Return the requested fields (all when ``fields`` is None); raise NotFound if absent."""

    @abstractmethod
    def update(self, namespace: str, key: str, values: Mapping[str, str]) -> None:
        """Overwrite the given fields, keep the others."""

    @abstractmethod
    def delete(self, namespace: str, key: str) -> None: ...

    @abstractmethod
    def scan(
        self, namespace: str, start_key: str, count: int, fields: Sequence[str] | None = None
    ) -> list[tuple[str, Record]]:
        """Up to ``count`` records with key >= start_key, in key order."""

    @abstractmethod
    def query(self, namespace: str, query: Query) -> QueryResult: ...

    # -- graph -------------------------------------------------------------------------------------------
    def declare_links(self, namespace: str, field: str) -> None:  # noqa: B027 - optional hook
        """Records of ``namespace`` link to other records through the comma-separated keys in ``field``.

        The harness calls this on every adapter instance of a graph workload, before :meth:`prepare` and
        before the first operation.  A store that models links natively (relationships, an edge table)
        creates what it needs in ``prepare`` and keeps it in step with the field on every write; the
        default keeps nothing (the traversals read the field).
        """

    def create_edge_index(self, namespace: str, field: str) -> bool:
        """Keep the links in ``field`` of the loaded records of ``namespace`` as an edge table too (one row per
        link, indexed on its source), kept in step with every later write by the engine itself; True when
        the store built one, so that its traversals follow the edge table instead of splitting the field.

        The harness calls it at the end of a graph workload's load phase, as :meth:`create_index`, and
        records its build time.  The default builds none (the traversals read the field).
        """
        return False

    # -- relational: a join with a group-by ----------------------------------------------------------------
    def create_index(self, namespace: str, field: str) -> bool:
        """Build an index on ``field`` of the records of ``namespace`` (a join key the workload's schema
        declares); True when the store built one, False when it keeps no secondary index (the default).

        The harness calls it on the loaded namespace at the end of the load phase and records its build time
        apart from the load's; the index is then kept up by every write of the run phase.
        """
        return False

    def join(self, namespace: str, join: Join) -> JoinResult:
        """The answer to ``join`` (see :class:`Join`).

        This default pages through the namespace with :meth:`scan` (the three fields only) and joins on
        the client (EMULATED); stores with a query language override it and declare ``join=NATIVE``.
        """
        fields = [join.group_field, join.ref_field, join.sum_field]
        parents: dict[str, str] = {}
        children: list[tuple[str, str]] = []
        start, last = "", None
        while True:
            rows = self.scan(namespace, start, JOIN_PAGE + (last is not None), fields)
            if last is not None and rows and rows[0][0] == last:
                rows = rows[1:]
            for key, record in rows:
                group = record.get(join.group_field)
                if group is not None and join.low <= group <= join.high:
                    parents[key] = group
                ref = record.get(join.ref_field)
                if ref:
                    children.append((ref, record.get(join.sum_field) or "0"))
            if len(rows) < JOIN_PAGE:
                break
            start = last = rows[-1][0]
        out: JoinResult = {}
        for ref, amount in children:
            group = parents.get(ref)
            if group is not None:
                count, total = out.get(group, (0, 0))
                out[group] = (count + 1, total + int(amount))
        return out

    def _links_of(self, namespace: str, key: str, field: str) -> list[str]:
        """The keys ``key`` links to, read from its record; [] when the record is absent."""
        try:
            links = self.read(namespace, key, [field]).get(field, "")
        except NotFound:
            return []
        return [target for target in links.split(",") if target]

    def neighbors(self, namespace: str, key: str, hops: int, field: str) -> set[str]:
        """Keys reachable from ``key`` in 1..``hops`` steps, following the comma-separated keys stored in
        ``field`` of each record; the start key itself is left out.  Links to absent records count as
        reached but lead nowhere.

        This default walks breadth-first with one ``read`` per visited record (EMULATED); stores that can
        traverse on the server override it and declare ``graph=NATIVE``.
        """
        seen = {key}
        frontier = [key]
        for _ in range(hops):
            following: list[str] = []
            for node in frontier:
                for target in self._links_of(namespace, node, field):
                    if target not in seen:
                        seen.add(target)
                        following.append(target)
            frontier = following
        seen.discard(key)
        return seen

    def shortest_path(self, namespace: str, source: str, target: str, max_hops: int, field: str) -> list[str] | None:
        """The keys of a shortest chain of links from ``source`` to ``target`` (both included), of at most
        ``max_hops`` links, following ``field`` as :meth:`neighbors` does; None when there is none that short.
        ``[source]`` when ``source == target``.

        This default walks breadth-first with one ``read`` per visited record (EMULATED); stores that can
        search on the server override it and declare ``shortest_path=NATIVE``.
        """
        parent: dict[str, str] = {source: source}
        frontier = [source]
        for _ in range(max_hops):
            if target in parent:
                break
            following: list[str] = []
            for node in frontier:
                for step in self._links_of(namespace, node, field):
                    if step not in parent:
                        parent[step] = node
                        following.append(step)
            frontier = following
        if target not in parent:
            return None
        path = [target]
        while path[-1] != source:
            path.append(parent[path[-1]])
        return path[::-1]

    # -- documents ---------------------------------------------------------------------------------------
    def declare_document(self, namespace: str, field: str) -> None:  # noqa: B027 - optional hook
        """Records of ``namespace`` hold a JSON document (an object) in ``field``.

        The harness calls this on every adapter instance of a document workload, before :meth:`prepare` and
        before the first operation.  A store with a document model keeps the field as a document (a
        ``jsonb`` column, an embedded document); it still takes and returns the field as JSON text.  The
        default keeps the text.
        """

    def create_document_index(self, namespace: str, field: str, path: str, numeric: bool = False) -> bool:
        """Build an index on ``path`` (a top-level name) of the documents in ``field``, after the load;
        True when one was built.  ``numeric``: the path holds integers and the index serves
        :meth:`find_range` (ordered as numbers, not as text).  The default builds none (finds scan), and
        says so."""
        return False

    def find(self, namespace: str, field: str, path: str, equals: str) -> list[tuple[str, Record]]:
        """Every record (all its fields) whose document in ``field`` has ``path`` equal to ``equals``, in
        key order.

        This default pages through the namespace with :meth:`scan` and filters on the client (EMULATED);
        stores that can filter on the server (through an index) override it and declare ``find=NATIVE``.
        """
        from storagebench.workloads.documents import path_value

        return self._scan_where(namespace, lambda record: path_value(record.get(field, ""), path) == equals)

    def find_range(self, namespace: str, field: str, path: str, lo: int, hi: int) -> list[tuple[str, Record]]:
        """Every record (all its fields) whose document in ``field`` has at ``path`` an integer in
        ``[lo, hi)``, in key order.

        This default pages through the namespace with :meth:`scan` and filters on the client (EMULATED);
        stores that can filter on the server (through an index) override it and declare ``find_range=NATIVE``.
        """
        from storagebench.workloads.documents import path_value

        def within(value: Any) -> bool:
            return type(value) is int and lo <= value < hi

        return self._scan_where(namespace, lambda record: within(path_value(record.get(field, ""), path)))

    def _scan_where(self, namespace: str, keep: Callable[[Record], bool]) -> list[tuple[str, Record]]:
        """The records of ``namespace`` that ``keep`` accepts, in key order: pages of :meth:`scan`."""
        found: list[tuple[str, Record]] = []
        start, page, last = "", 1000, None
        while True:
            rows = self.scan(namespace, start, page + (1 if last is not None else 0))
            if last is not None and rows and rows[0][0] == last:
                rows = rows[1:]
            found.extend((key, record) for key, record in rows if keep(record))
            if len(rows) < page:
                return found
            start = last = rows[-1][0]

    def update_nested(self, namespace: str, key: str, field: str, path: str, value: str) -> None:
        """Set ``path`` (a top-level name) of the document in ``field`` of ``key`` to the string ``value``,
        keeping the rest of it; NotFound when the record is absent.

        This default reads the document, changes it and writes it back (EMULATED: two round trips, and not
        atomic: a write of the same document in between is overwritten); stores that change a document in
        place override it and declare ``update_nested=NATIVE``.
        """
        from storagebench.workloads.documents import set_path

        document = self.read(namespace, key, [field]).get(field)
        require_found(document is not None, namespace, key)
        self.update(namespace, key, {field: set_path(str(document), path, value)})

    # -- batch (columnar) interface ----------------------------------------------------------------
    def write_batch(self, namespace: str, batch: pa.Table) -> None:
        """Write rows given as an Arrow table with a ``key`` column and one string column per field.

        Only called by the harness when ``capabilities.batch_write`` is NATIVE; otherwise the timing
        proxy runs :func:`fallback_write_batch` so each row is measured.
        """
        raise Unsupported(f"{self.name}: no native batch write")

    def read_batch(self, namespace: str, fields: Sequence[str] | None = None) -> pa.Table:
        """Read every record of the namespace as an Arrow table sorted by ``key``."""
        raise Unsupported(f"{self.name}: no native batch read")

    def read_batch_where(self, namespace: str, fields: Sequence[str], field: str, equals: str) -> pa.Table:
        """Rows whose ``field`` equals ``equals``, sorted by key (called when ``batch_filter`` is NATIVE)."""
        raise Unsupported(f"{self.name}: no native filtered batch read")

    # -- error boundary ----------------------------------------------------------------------------
    @contextlib.contextmanager
    def translate_errors(self) -> Iterator[None]:
        """Wrap driver calls; subclasses override :meth:`map_error` to classify driver exceptions."""
        try:
            yield
        except StorageBenchError:
            raise
        except Exception as exc:
            raise self.map_error(exc) from exc

    def map_error(self, exc: Exception) -> AdapterError:
        return AdapterError(f"{type(exc).__name__}: {exc}")


class PerOperation(Protocol):
    """The part of an adapter the batch fallback needs (an Adapter or the timing proxy around one)."""

    def insert(self, namespace: str, key: str, values: Mapping[str, str]) -> None: ...

    def scan(
        self, namespace: str, start_key: str, count: int, fields: Sequence[str] | None = None
    ) -> list[tuple[str, Record]]: ...


def fallback_write_batch(ops: PerOperation, namespace: str, batch: pa.Table) -> None:
    """Generic batch write: one insert per row (callers pass the timing proxy, so each is measured)."""
    columns = batch.to_pydict()
    keys = columns.pop("key")
    names = list(columns)
    for i, key in enumerate(keys):
        ops.insert(namespace, key, {name: columns[name][i] for name in names})


def fallback_read_batch(ops: PerOperation, namespace: str, fields: Sequence[str], page: int = 1000) -> pa.Table:
    """Generic batch read: page through the namespace with scans, in key order."""
    import pyarrow as pa

    keys: list[str] = []
    columns: dict[str, list[str]] = {f: [] for f in fields}
    start = ""
    while True:
        rows = ops.scan(namespace, start, page + (1 if keys else 0), list(fields))
        if keys and rows and rows[0][0] == keys[-1]:
            rows = rows[1:]
        for key, record in rows:
            keys.append(key)
            for f in fields:
                columns[f].append(record.get(f, ""))
        if len(rows) < page:
            break
        start = keys[-1]
    return pa.table({"key": pa.array(keys, pa.string()),
                     **{f: pa.array(v, pa.string()) for f, v in columns.items()}})


def filter_table(table: pa.Table, field: str, equals: str) -> pa.Table:
    """Client-side equality filter (the emulated filtered batch read)."""
    import pyarrow.compute as pc

    return table.filter(pc.equal(table[field], equals))


def settled_size(read: Callable[[], int | None], timeout_s: float = 20.0, interval_s: float = 1.0) -> int | None:
    """For engines whose size metrics refresh periodically (heartbeats, metrics periods): read until two
    readings a second apart agree on a non-zero size, or the time is up (then the last reading)."""
    import time

    deadline = time.monotonic() + timeout_s
    last = read()
    while time.monotonic() < deadline:
        time.sleep(interval_s)
        current = read()
        if current and current == last:
            return current
        last = current
    return last


def ours(names: Iterable[str]) -> list[str]:
    """The harness's namespaces among a store's names, sorted."""
    return sorted(n for n in names if n.startswith(NAMESPACE_PREFIX) and _NS_RE.match(n))


def require_found(found: bool, namespace: str, key: str) -> None:
    if not found:
        raise NotFound(f"{namespace}/{key}")
