"""MongoDB wire protocol through pymongo: real MongoDB or FerretDB (the local engine).

Data model: one collection per namespace, named exactly like the namespace (``sbench_...``), in the
database ``database`` (default ``storagebench``).  A YCSB record is one document: ``_id`` = the record
key, one string field per YCSB field (``{"_id": "user42", "field0": "...", ...}``).

Operations:

* insert ``insert_one`` (duplicate ``_id`` -> :class:`AlreadyExists`); read ``find_one`` by ``_id``
  with a projection; update ``update_one`` with ``$set`` (``matched_count == 0`` -> :class:`NotFound`);
  delete ``delete_one`` (``deleted_count == 0`` -> :class:`NotFound`).
* scan: ``find({"_id": {"$gte": start}}).sort("_id", 1).limit(n)``; string ``_id`` order is binary,
  the same as every other store's.  On MongoDB this walks the ``_id`` index.  FerretDB 1.24 on
  PostgreSQL pushes down only equality filters, and writes them as ``_jsonb->'_id' @> value``, which
  its btree ``_id`` index cannot serve: reads are sequential scans and range scans fetch and sort the
  whole collection inside FerretDB (``explain`` shows ``filterPushdown``/``sortPushdown``).  That is
  the server's cost, measured as such; the adapter sends the same single request as to MongoDB.
  Checked against the built binary (``ferretdb --help``) and its source: the PostgreSQL handler's only
  pushdown switches are ``--test-disable-pushdown`` and ``--test-enable-nested-pushdown`` (dot
  notation; irrelevant to ``_id``); ``$gt``/``$gte`` are never pushed down (FerretDB issue 1875), and
  sorts are pushed down only for ``$natural`` (record id order).  No flag makes ``_id`` lookups, range
  scans or ``_id`` sorts use the index, so the service runs FerretDB's defaults (pushdown on).
* durability: FerretDB ignores write concerns; what its PostgreSQL database's connections get
  (``synchronous_commit``, set per profile by ``services up --durability``) decides, and is read back
  through ``backend_postgres_dsn``.  Against real MongoDB ``durable`` asks for ``j: true``.
* query: count is ``count_documents`` (an aggregation on the server).  The sum needs the string field
  read as a number: real MongoDB does that on the server (``$group`` with ``$sum: {$toLong: ...}``), but
  FerretDB 1.x does not implement ``$toLong`` (error 238), so against FerretDB the sum is computed by
  the client over the matching documents (filter and projection still run on the server).  Hence the
  class declares ``query=EMULATED``; an adapter connected to a real MongoDB reports NATIVE.
* batch write (NATIVE): ``insert_many`` in chunks of ``batch_size``; batch read (NATIVE): one cursor over
  the whole collection sorted by ``_id``, fetched in large batches; the filtered batch read (NATIVE)
  is the same cursor with the equality filter evaluated by the server.
* create_index: ``create_index(field)`` (the join workload's join key, built at the end of the load).
* join: on real MongoDB NATIVE, one aggregation: ``$match`` of the customers of the region range,
  ``$lookup`` of their orders by the reference field, ``$unwind``, ``$group`` per region with ``$sum: 1``
  and ``$sum: {$toLong: amount}`` (the instance reports NATIVE; untested: the harness's engines hold no
  real MongoDB).  FerretDB 1.24.2 cannot (tried 2026-12-07): ``$lookup`` is refused with
  "`aggregate` stage "$lookup" is not implemented yet" (error 238, NotImplemented), and the other way
  round, ``$match`` of the orders + ``$group`` by reference, counts on the server but cannot sum: the
  amounts are strings, which ``$sum`` skips (0), and every conversion is refused ("Invalid $group ::
  caused by :: The operator $toLong is not implemented yet", the same for ``$toInt``, ``$toDouble``,
  ``$toDecimal``, ``$convert``; ``$add``/``$multiply`` and the ``$push`` accumulator are not implemented
  either).  So against FerretDB the class declares ``join=EMULATED`` and sends two filtering requests:
  ``find`` of the customers whose region is in the range (key and region returned) and ``find`` of the
  orders whose reference is ``$in`` those keys (reference and amount returned, :data:`JOIN_PAGE` keys
  per request); both filters run in FerretDB (neither is pushed down to PostgreSQL: ``explain`` says
  ``filterPushdown: false`` for ``$gte``/``$lte`` and ``$in``), the join, the grouping and the sums on the
  client.  That replaces the base class's pages of ``scan`` over the whole namespace.
* documents (NATIVE): a document workload's field is an embedded document (JSON text in and out),
  ``create_index([(field.customer, 1)])`` and ``create_index([(field.placed, 1)])`` after the load,
  ``find({field.path: value})``, the range query ``find({field.placed: {$gte: lo, $lt: hi}})`` and
  ``$set: {field.path: value}`` on the server; FerretDB 1.24.2 does not push the nested filter down (see
  :meth:`MongoAdapter.find`).
* graph and shortest path (EMULATED, the base class's breadth-first walk, one ``find_one`` per visited
  record): MongoDB's server-side traversal is ``$graphLookup``, but FerretDB 1.24.2 answers it with
  "`aggregate` stage "$graphLookup" is not implemented yet" (error 238, NotImplemented; tried 2026-12-06).
* reads by key on FerretDB 1.24.2 scan the whole collection: ``find_one({_id: key})`` becomes
  ``SELECT _jsonb FROM ... WHERE _jsonb->$1 @> $2`` (seen in ``pg_stat_activity``), which the B-tree FerretDB
  builds on ``(_jsonb -> '_id')`` cannot serve (``explain``: ``Seq Scan``; FerretDB issue #4646).  A read's
  cost grows with the collection: 6.5 ms a ``find_one`` at 20,000 documents, and at 100,000 records the
  harness's read-back of 20,000 keys had not finished after 7 minutes (2026-12-07).

``server_info()`` reads ``buildInfo``: FerretDB identifies itself with a ``ferretdbVersion`` field and is
then reported as FerretDB (the wire-protocol version it imitates goes in the details), never as MongoDB.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import SecretStr
from storagebench.adapters.base import (
    JOIN_PAGE,
    Adapter,
    AdapterOptions,
    Capabilities,
    Join,
    JoinResult,
    Query,
    QueryResult,
    Record,
    ServerInfo,
    Support,
    check_namespace,
    ours,
    require_found,
)
from storagebench.adapters.mongodb.service import PORTS

from storagebench.durability import Durability, restart_hint, unknown
from storagebench.errors import AdapterError, AlreadyExists, Unavailable, Unsupported
from storagebench.services.network import Route
from storagebench.services.ports import HOST

if TYPE_CHECKING:
    import pyarrow as pa

#: MongoDB's "not implemented" error code (FerretDB answers it for operators it lacks)
NOT_IMPLEMENTED = 238


class MongoOptions(AdapterOptions):
    #: a full connection string (may hold credentials, hence secret); overrides host/port when set
    uri: SecretStr | None = None
    host: str = HOST
    port: int = PORTS["wire"]
    username: str | None = None
    password: SecretStr | None = None
    auth_source: str = "admin"
    database: str = "storagebench"
    tls: bool = False
    tls_ca_file: str | None = None
    tls_allow_invalid_certificates: bool = False
    #: talk to this one server (no replica-set discovery); ignored when ``uri`` is given
    direct_connection: bool = True
    connect_timeout_ms: int = 10_000
    server_selection_timeout_ms: int = 10_000
    socket_timeout_ms: int | None = None
    #: write concern ``w`` (1 = acknowledged by the primary, as YCSB's default)
    write_concern: int | str = 1
    #: documents per ``insert_many`` call and per cursor batch in batch reads
    batch_size: int = 1000
    #: FerretDB only: libpq DSN of its PostgreSQL database, to read back the durability settings its
    #: connections get (FerretDB ignores write concerns; its backend decides); written by services up
    backend_postgres_dsn: SecretStr | None = None


class MongoAdapter(Adapter):
    name = "mongodb"
    description = "MongoDB wire protocol (pymongo): collection per namespace, _id = key"
    Options = MongoOptions
    capabilities: ClassVar[Capabilities] = Capabilities(
        family="document",
        query=Support.EMULATED, batch_write=Support.NATIVE, batch_read=Support.NATIVE,
        batch_filter=Support.NATIVE, find=Support.NATIVE, find_range=Support.NATIVE,
        update_nested=Support.NATIVE)
    options: MongoOptions

    @classmethod
    def through_proxy(cls, options: Mapping[str, Any], route: Route) -> tuple[dict[str, Any], str]:
        if options.get("uri"):
            raise Unsupported("mongodb: a network profile needs host/port options, not a connection string")
        host, port = route(str(options["host"]), int(options["port"]))
        return {**options, "host": host, "port": port, "direct_connection": True}, ""

    def __init__(self, options: AdapterOptions | Mapping[str, Any] | None = None) -> None:
        super().__init__(options)
        self.client: Any = None
        self.db: Any = None
        self._build_info: dict[str, Any] = {}
        self._native_sum = False
        #: namespace -> the field holding each record's document (kept as an embedded document)
        self._documents: dict[str, str] = {}

    # -- lifecycle ---------------------------------------------------------------------------------
    def connect(self) -> None:
        import pymongo
        from pymongo.write_concern import WriteConcern

        o = self.options
        kwargs: dict[str, Any] = {
            "connectTimeoutMS": o.connect_timeout_ms, "serverSelectionTimeoutMS": o.server_selection_timeout_ms,
            "socketTimeoutMS": o.socket_timeout_ms, "tls": o.tls, "appname": "storagebench",
            # one connection per adapter instance: each worker owns its adapter
            "maxPoolSize": 1,
        }
        if o.tls_ca_file:
            kwargs["tlsCAFile"] = o.tls_ca_file
        if o.tls_allow_invalid_certificates:
            kwargs["tlsAllowInvalidCertificates"] = True
        if o.username is not None:
            kwargs.update(username=o.username, authSource=o.auth_source,
                          password=o.password.get_secret_value() if o.password else None)
        try:
            if o.uri is not None:
                self.client = pymongo.MongoClient(o.uri.get_secret_value(), **kwargs)
            else:
                self.client = pymongo.MongoClient(host=o.host, port=o.port, directConnection=o.direct_connection,
                                                  **kwargs)
            self._build_info = dict(self.client.admin.command("buildInfo"))
        except Exception as exc:
            self.close()
            raise Unavailable(f"mongodb: cannot reach {self._where()}: {exc}") from exc
        # durable: the write is in the on-disk journal before the server answers (j); FerretDB ignores it
        journal = o.durability == "durable"
        self.db = self.client.get_database(o.database, write_concern=WriteConcern(w=o.write_concern, j=journal))
        # FerretDB cannot convert strings to numbers on the server ($toLong): sum on the client there
        self._native_sum = "ferretdbVersion" not in self._build_info
        if self._native_sum:
            # the instance reports what this server does; the class declares the FerretDB case
            self.capabilities = dataclasses.replace(  # type: ignore[misc]
                type(self).capabilities, query=Support.NATIVE, join=Support.NATIVE)

    def _where(self) -> str:
        return "the configured uri" if self.options.uri is not None else f"{self.options.host}:{self.options.port}"

    def close(self) -> None:
        if self.client is not None:
            try:
                self.client.close()
            finally:
                self.client = None
                self.db = None

    def prepare(self, namespace: str, fields: Sequence[str]) -> None:
        from pymongo.errors import CollectionInvalid

        check_namespace(namespace)
        with self.translate_errors():
            if not self.db.list_collection_names(filter={"name": namespace}):
                try:
                    self.db.create_collection(namespace)
                except CollectionInvalid:  # another worker created it first
                    pass

    def create_index(self, namespace: str, field: str) -> bool:
        """An ascending single-field index (FerretDB keeps it in its backend too)."""
        check_namespace(namespace)
        with self.translate_errors():
            self.db[namespace].create_index(field, name=f"{field}_idx")
        return True

    def list_namespaces(self) -> list[str]:
        with self.translate_errors():
            return ours(self.db.list_collection_names())

    def drop(self, namespace: str) -> None:
        check_namespace(namespace)
        with self.translate_errors():
            self.db.drop_collection(namespace)

    def server_info(self) -> ServerInfo:
        with self.translate_errors():
            info = dict(self.client.admin.command("buildInfo"))
        wire = str(info.get("version", ""))
        if "ferretdbVersion" in info:
            return ServerInfo("FerretDB", str(info["ferretdbVersion"]).removeprefix("v"),
                              {"wire protocol": f"MongoDB {wire}"})
        return ServerInfo("MongoDB", wire)

    def durability(self) -> Durability:
        profile = self.options.durability
        if "ferretdbVersion" not in self._build_info:
            return Durability(profile, {"write_concern": f"w={self.options.write_concern}, j={profile == 'durable'}"},
                              False, True, "MongoDB acknowledges j:true writes once they are in the on-disk "
                              "journal; j:false within the journal commit interval (100 ms)")
        dsn = self.options.backend_postgres_dsn
        if dsn is None:
            return unknown(profile, "FerretDB on PostgreSQL: durability is its backend's, whose address is "
                                    "not configured (option backend_postgres_dsn)")
        import psycopg2
        from storagebench.adapters.postgres.adapter import postgres_durability

        try:
            with psycopg2.connect(dsn.get_secret_value(), connect_timeout=5) as conn, conn.cursor() as cur:
                seen = postgres_durability(cur, profile)
        except psycopg2.Error as exc:
            return unknown(profile, f"FerretDB on PostgreSQL: its backend did not answer ({exc})".strip())
        hint = "" if seen.honoured else "; " + restart_hint("mongodb", profile)
        return dataclasses.replace(seen, note=f"FerretDB on PostgreSQL (write concern ignored), the backend "
                                              f"database's defaults: {seen.note}{hint}")

    def client_info(self) -> dict[str, str]:
        import pymongo

        return {"pymongo": pymongo.version, "driver": f"pymongo {pymongo.version}"}

    def footprint(self, namespace: str) -> int | None:
        """collStats: storage of the collection plus its indexes (what the server reports)."""
        if self.db is None:
            raise Unavailable("mongodb: not connected (call connect() first)")
        with self.translate_errors():
            stats = self.db.command("collStats", check_namespace(namespace))
        if "totalSize" in stats:
            return int(stats["totalSize"])
        if "storageSize" in stats:
            return int(stats["storageSize"]) + int(stats.get("totalIndexSize", 0))
        return int(stats["size"]) if "size" in stats else None

    def index_bytes(self, namespace: str) -> int | None:
        """collStats: the collection's indexes other than ``_id_`` (the server's ``indexSizes``)."""
        if self.db is None:
            raise Unavailable("mongodb: not connected (call connect() first)")
        with self.translate_errors():
            sizes = self.db.command("collStats", check_namespace(namespace)).get("indexSizes")
        if not isinstance(sizes, dict):
            return None
        return sum(int(size) for name, size in sizes.items() if name != "_id_")

    # -- per operation -----------------------------------------------------------------------------
    def _collection(self, namespace: str) -> Any:
        if self.db is None:
            raise Unavailable("mongodb: not connected (call connect() first)")
        return self.db[check_namespace(namespace)]

    def insert(self, namespace: str, key: str, values: Mapping[str, str]) -> None:
        collection = self._collection(namespace)
        with self.translate_errors():
            collection.insert_one({**self._embedded(namespace, values), "_id": key})

    def read(self, namespace: str, key: str, fields: Sequence[str] | None = None) -> Record:
        collection = self._collection(namespace)
        with self.translate_errors():
            doc = collection.find_one({"_id": key}, _projection(fields))
        require_found(doc is not None, namespace, key)
        return _record(doc)

    def update(self, namespace: str, key: str, values: Mapping[str, str]) -> None:
        collection = self._collection(namespace)
        with self.translate_errors():
            result = collection.update_one({"_id": key}, {"$set": self._embedded(namespace, values)})
        require_found(result.matched_count > 0, namespace, key)

    def delete(self, namespace: str, key: str) -> None:
        collection = self._collection(namespace)
        with self.translate_errors():
            result = collection.delete_one({"_id": key})
        require_found(result.deleted_count > 0, namespace, key)

    def scan(self, namespace: str, start_key: str, count: int,
             fields: Sequence[str] | None = None) -> list[tuple[str, Record]]:
        collection = self._collection(namespace)
        if count <= 0:
            return []
        projection = _projection(fields, keep_id=True)
        with self.translate_errors():
            docs = list(collection.find({"_id": {"$gte": start_key}}, projection)
                        .sort("_id", 1).limit(count).batch_size(min(count, self.options.batch_size)))
        return [(str(doc["_id"]), _record(doc)) for doc in docs]

    def query(self, namespace: str, query: Query) -> QueryResult:
        collection = self._collection(namespace)
        match = {query.field: query.equals}
        if query.aggregate == "count":
            with self.translate_errors():
                return QueryResult(int(collection.count_documents(match)))
        target = query.sum_field or ""
        if self._native_sum:
            from pymongo.errors import OperationFailure

            pipeline = [{"$match": match},
                        {"$group": {"_id": None, "count": {"$sum": 1}, "total": {"$sum": {"$toLong": f"${target}"}}}}]
            try:
                with self.translate_errors():
                    rows = list(collection.aggregate(pipeline))
                if not rows:
                    return QueryResult(0, 0)
                return QueryResult(int(rows[0]["count"]), int(rows[0]["total"]))
            except AdapterError as exc:
                if not (isinstance(exc.__cause__, OperationFailure) and exc.__cause__.code == NOT_IMPLEMENTED):
                    raise
                self._native_sum = False  # a server without $toLong: fall through to the client-side sum
        with self.translate_errors():
            values = [doc.get(target) for doc in collection.find(match, {target: 1, "_id": 0})
                      .batch_size(self.options.batch_size)]
        return QueryResult(len(values), sum(int(v) for v in values if v is not None))

    def join(self, namespace: str, join: Join) -> JoinResult:
        """Real MongoDB: one aggregation with ``$lookup`` (NATIVE).  FerretDB (no ``$lookup``, no conversion
        of the string amounts): the customers of the range and their orders found by the server, joined,
        grouped and summed here (EMULATED; see the module docstring for what FerretDB refused)."""
        collection = self._collection(namespace)
        group, ref, summed = join.group_field, join.ref_field, join.sum_field
        in_range = {group: {"$gte": join.low, "$lte": join.high}}
        if self._native_sum:
            pipeline = [{"$match": in_range},
                        {"$lookup": {"from": namespace, "localField": "_id", "foreignField": ref, "as": "o"}},
                        {"$unwind": "$o"},
                        {"$group": {"_id": f"${group}", "count": {"$sum": 1},
                                    "total": {"$sum": {"$toLong": f"$o.{summed}"}}}}]
            with self.translate_errors():
                rows = list(collection.aggregate(pipeline))
            return {str(r["_id"]): (int(r["count"]), int(r["total"] or 0)) for r in rows}
        with self.translate_errors():
            parents = {str(doc["_id"]): str(doc[group]) for doc in collection.find(in_range, {group: 1})
                       .batch_size(self.options.batch_size)}
            keys = list(parents)
            out: JoinResult = {}
            for start in range(0, len(keys), JOIN_PAGE):
                orders = collection.find({ref: {"$in": keys[start:start + JOIN_PAGE]}}, {ref: 1, summed: 1, "_id": 0})
                for doc in orders.batch_size(self.options.batch_size):
                    region = parents[str(doc[ref])]
                    count, total = out.get(region, (0, 0))
                    out[region] = (count + 1, total + int(doc.get(summed) or 0))
        return out

    # -- batch -------------------------------------------------------------------------------------
    def write_batch(self, namespace: str, batch: pa.Table) -> None:
        collection = self._collection(namespace)
        columns = batch.to_pydict()
        keys = columns.pop("key")
        names = list(columns)
        size = max(1, self.options.batch_size)
        for start in range(0, len(keys), size):
            docs = []
            for i in range(start, min(start + size, len(keys))):
                doc: dict[str, Any] = {"_id": keys[i]}
                for name in names:
                    if (value := columns[name][i]) is not None:
                        doc[name] = value
                docs.append(self._embedded(namespace, doc))
            with self.translate_errors():
                collection.insert_many(docs, ordered=True)

    def read_batch(self, namespace: str, fields: Sequence[str] | None = None) -> pa.Table:
        return self._find_all(namespace, {}, fields)

    def read_batch_where(self, namespace: str, fields: Sequence[str], field: str, equals: str) -> pa.Table:
        return self._find_all(namespace, {field: equals}, fields)

    def _find_all(self, namespace: str, match: dict[str, str], fields: Sequence[str] | None) -> pa.Table:
        """One cursor, sorted by ``_id``, fetched ``batch_size`` documents at a time, into Arrow."""
        import pyarrow as pa

        collection = self._collection(namespace)
        with self.translate_errors():
            docs = list(collection.find(match, _projection(fields, keep_id=True)).sort("_id", 1)
                        .batch_size(self.options.batch_size))
        names = list(fields) if fields is not None else _field_names(docs)
        return pa.table({"key": pa.array([str(d["_id"]) for d in docs], pa.string()),
                         **{n: pa.array([d.get(n) for d in docs], pa.string()) for n in names}})

    # -- documents: embedded documents, an index on the nested field ------------------------------------
    def declare_document(self, namespace: str, field: str) -> None:
        self._documents[namespace] = field

    def _embedded(self, namespace: str, values: Mapping[str, Any]) -> dict[str, Any]:
        """The values to store: a document workload's JSON text as an embedded document."""
        document = self._documents.get(namespace)
        if document is None or not isinstance(values.get(document), str):
            return dict(values)
        return {**values, document: json.loads(values[document])}

    def create_document_index(self, namespace: str, field: str, path: str, numeric: bool = False) -> bool:
        """``createIndex`` on ``field.path`` (an ascending index serves equality and ranges alike)."""
        with self.translate_errors():
            self._collection(namespace).create_index([(f"{field}.{path}", 1)])
        return True

    def find(self, namespace: str, field: str, path: str, equals: str) -> list[tuple[str, Record]]:
        """One ``find`` on the server.  FerretDB 1.24 (PostgreSQL backend) keeps the index (``listIndexes``
        shows it) but does not push a filter on a nested path down to PostgreSQL (``explain``:
        ``filterPushdown: false``): it reads every document of the collection and filters them itself."""
        collection = self._collection(namespace)
        with self.translate_errors():
            docs = list(collection.find({f"{field}.{path}": equals}).sort("_id", 1)
                        .batch_size(self.options.batch_size))
        return [(str(doc["_id"]), _record(doc)) for doc in docs]

    def find_range(self, namespace: str, field: str, path: str, lo: int, hi: int) -> list[tuple[str, Record]]:
        """One ``find`` with ``{"field.path": {"$gte": lo, "$lt": hi}}`` on the server (numbers only: MongoDB
        compares within a type).  FerretDB: filtered as :meth:`find` is (see there)."""
        collection = self._collection(namespace)
        with self.translate_errors():
            docs = list(collection.find({f"{field}.{path}": {"$gte": int(lo), "$lt": int(hi)}}).sort("_id", 1)
                        .batch_size(self.options.batch_size))
        return [(str(doc["_id"]), _record(doc)) for doc in docs]

    def update_nested(self, namespace: str, key: str, field: str, path: str, value: str) -> None:
        collection = self._collection(namespace)
        with self.translate_errors():
            result = collection.update_one({"_id": key}, {"$set": {f"{field}.{path}": value}})
        require_found(result.matched_count > 0, namespace, key)

    # -- errors ------------------------------------------------------------------------------------
    def map_error(self, exc: Exception) -> AdapterError:
        from pymongo import errors

        if isinstance(exc, errors.DuplicateKeyError):
            return AlreadyExists(f"mongodb: {exc}")
        if isinstance(exc, errors.ConnectionFailure | errors.ServerSelectionTimeoutError):
            return Unavailable(f"mongodb: {exc}")
        return AdapterError(f"mongodb: {type(exc).__name__}: {exc}")


def _projection(fields: Sequence[str] | None, keep_id: bool = False) -> dict[str, int] | None:
    if fields is None:
        return None
    projection = {f: 1 for f in fields}
    if not keep_id:
        projection["_id"] = 0
    return projection


def _record(doc: Mapping[str, Any]) -> Record:
    """A stored document as a record: an embedded document (a document workload's) as its JSON text."""
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in doc.items() if k != "_id" and v is not None}


def _field_names(docs: Sequence[Mapping[str, Any]]) -> list[str]:
    seen: dict[str, None] = {}
    for doc in docs:
        for name in doc:
            if name != "_id":
                seen.setdefault(name, None)
    return sorted(seen)
