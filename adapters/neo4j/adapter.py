"""Neo4j through the official ``neo4j`` Python driver (Bolt), with ``neo4j-rust-ext`` when installed.

Driver: ``neo4j-rust-ext`` (in the ``neo4j`` extra) is the driver team's drop-in Rust implementation of
the Bolt PackStream encoding and decoding; the same ``neo4j`` API runs on it, faster per record, so it
is the default whenever it is installed.  Result files name what ran (``client.driver``).

Data model: a record is a node whose label is the namespace (``sbench_...``, backtick-quoted) with a
``key`` property and one string property per field (YCSB's usertable row = one node).  ``prepare``
creates a uniqueness constraint on ``key`` for that label (named ``<namespace>_key``), which Neo4j backs
with a range index; every per-key operation is an index seek.

Graph (a namespace whose links were declared, :meth:`Neo4jAdapter.declare_links`): the links field stays a
property (reads return it) and each link is also a relationship ``(a)-[:LINK]->(b)`` between vertices,
nodes labelled ``<namespace>.vertex`` (a second label on every record, with its own uniqueness constraint
on ``key``).  A link to a key with no record leads to a vertex without the namespace's label (a
placeholder: reads, scans and queries never see it); inserting that key later turns the placeholder into
the record, keeping the links that point at it; deleting a record others link to turns it back into a
placeholder (its own links go).  Inserts, batch writes, updates of the links field and deletes keep the
relationships in step with the field, in the same query.  ``neighbors`` (NATIVE) is one
``MATCH (s)-[:LINK*1..k]->(m) RETURN DISTINCT m.key``; ``shortest_path`` (NATIVE) is one
``shortestPath((a)-[:LINK*..k]->(b))``.  Placeholders nothing links to any more (after an update of the
links field) are left in place until the namespace is dropped: they lead nowhere and are never reached.

Operations (each one auto-commit query on the adapter's own session, i.e. one Bolt round trip):

* insert: ``CREATE (n:`ns`) SET n = $props``; a duplicate key violates the constraint -> :class:`AlreadyExists`
  (with links: ``MERGE`` of the vertex, then its relationships; a duplicate creates a second record node,
  which violates the constraint the same way).
* read: ``MATCH (n:`ns` {key: $key}) RETURN n {.f1, .f2}`` (a map projection of the requested fields).
* update / delete: ``MATCH ... SET n += $values`` / ``DETACH DELETE n``, returning the number of matched
  nodes; 0 -> :class:`NotFound`.
* scan: ``WHERE n.key >= $start RETURN ... ORDER BY n.key LIMIT $count``: a range seek on the key index
  that also provides the order.
* query: native Cypher, ``WHERE n.`field` = $value RETURN count(n), sum(toInteger(n.`sum_field`))``
  (fields are not indexed: a label scan, as in the other stores).
* create_index: a range index on the property for the namespace's label (the join workload's join key,
  ``spec.indexed_fields()``, built at the end of the load).
* join (NATIVE): one Cypher query, ``MATCH (u:`ns`) WHERE u.`group` >= $low AND u.`group` <= $high MATCH
  (o:`ns`) WHERE o.`ref` = u.key RETURN u.`group`, count(o), sum(toInteger(o.`sum`))``: the customers of the
  range by a label scan (the region is not indexed, as in the SQL stores), their orders by a seek of the
  reference property's range index (the plan ``PROFILE`` shows at 1,000 records), counted and summed per
  region on the server (records stay nodes with properties: the reference is matched as a value, not
  followed as a relationship).
* documents: the JSON text, plus its top-level scalars as ``field.name`` properties with range indexes on
  ``field.customer`` and ``field.placed`` (an integer property) after the load; find and find_range
  (NATIVE) are one match on that property (``=``; ``>= $lo AND < $hi``), the nested update
  EMULATED (the base class's read and write back: Cypher has no JSON functions without APOC).
* batch write (NATIVE): ``UNWIND $rows AS row CREATE (n:`ns`) SET n = row``, ``batch_size`` rows per query.
* batch read (NATIVE): one ``MATCH ... ORDER BY n.key`` streamed into an Arrow table; filtered batch
  read (NATIVE): the same with ``AND n.`field` = $value``.
* drop: deletes the label's nodes in batches (one transaction per ``batch_size`` nodes), then the label's
  constraints and indexes; nodes with other labels are never matched.

Auth: the local service runs with auth disabled; leave ``user`` empty to connect without credentials,
or give ``user``/``password`` for a server with auth.  ``encrypted``/``trust`` configure TLS on
``bolt://``/``neo4j://`` URIs (``bolt+s://`` URIs carry their own TLS settings).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import SecretStr
from storagebench.adapters.base import (
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
from storagebench.adapters.neo4j.service import PORTS

from storagebench.durability import Durability
from storagebench.errors import AdapterError, AlreadyExists, Unavailable, UsageError
from storagebench.services.network import Route, proxied_url
from storagebench.services.ports import HOST

if TYPE_CHECKING:
    import pyarrow as pa


class Neo4jOptions(AdapterOptions):
    uri: str = f"bolt://{HOST}:{PORTS['bolt']}"
    #: empty: connect without credentials (the local service has auth disabled)
    user: str = ""
    password: SecretStr = SecretStr("")
    database: str = "neo4j"
    #: TLS for bolt:// and neo4j:// URIs
    encrypted: bool = False
    trust: Literal["system", "all", "custom"] = "system"
    #: CA certificates for trust="custom"
    ca_file: Path | None = None
    connection_timeout_s: float = 10.0
    #: server-side timeout of each query; None: the server's default
    query_timeout_s: float | None = None
    #: rows per UNWIND query in write_batch, nodes per transaction in drop
    batch_size: int = 1000


def _quote(name: str) -> str:
    """A Cypher identifier (label or property name), backtick-quoted."""
    return "`" + name.replace("`", "``") + "`"


#: the vertex label of a namespace is the namespace and this (not a namespace name: no '.' in those)
VERTEX = ".vertex"
#: a record, created or made out of its placeholder; a duplicate key creates a second record node, which
#: the namespace's uniqueness constraint refuses (-> AlreadyExists, the transaction rolled back).  Then the
#: record's links, as relationships to vertices (placeholders for keys without a record yet)
_LINKED_WRITE = """MERGE (n:{vertex} {{key: row.props.key}})
WITH n, row, n:{label} AS existed
FOREACH (_ IN CASE WHEN existed THEN [1] ELSE [] END | CREATE (:{label} {{key: row.props.key}}))
SET n:{label}, n = row.props
FOREACH (t IN row.targets | MERGE (m:{vertex} {{key: t}}) CREATE (n)-[:LINK]->(m))"""


def _targets(links: str | None) -> list[str]:
    """The distinct keys a links field names (a repeated link is one relationship)."""
    return list(dict.fromkeys(t for t in (links or "").split(",") if t))


class Neo4jAdapter(Adapter):
    name = "neo4j"
    description = "Neo4j (Bolt, official Python driver)"
    Options = Neo4jOptions
    capabilities: ClassVar[Capabilities] = Capabilities(
        family="graph", graph=Support.NATIVE, shortest_path=Support.NATIVE,
        batch_write=Support.NATIVE, batch_read=Support.NATIVE, batch_filter=Support.NATIVE, find=Support.NATIVE,
        find_range=Support.NATIVE, join=Support.NATIVE)
    options: Neo4jOptions

    @classmethod
    def through_proxy(cls, options: Mapping[str, Any], route: Route) -> tuple[dict[str, Any], str]:
        return {**options, "uri": proxied_url(str(options["uri"]), route)}, ""

    def __init__(self, options: AdapterOptions | Mapping[str, Any] | None = None) -> None:
        super().__init__(options)
        self.driver: Any = None
        self.session: Any = None
        #: namespace -> its links field (declared by the harness)
        self.links: dict[str, str] = {}
        #: namespace -> its document field (declared by the harness)
        self.documents: dict[str, str] = {}

    # -- lifecycle ---------------------------------------------------------------------------------
    def connect(self) -> None:
        import neo4j

        opts = self.options
        auth = (opts.user, opts.password.get_secret_value()) if opts.user else None
        config: dict[str, Any] = {"connection_timeout": opts.connection_timeout_s, "max_connection_pool_size": 2}
        if opts.uri.split("://")[0] in ("bolt", "neo4j"):
            config["encrypted"] = opts.encrypted
            if opts.encrypted:
                if opts.trust == "all":
                    config["trusted_certificates"] = neo4j.TrustAll()
                elif opts.trust == "custom":
                    if opts.ca_file is None:
                        raise ValueError("neo4j: trust='custom' needs ca_file")
                    config["trusted_certificates"] = neo4j.TrustCustomCAs(str(opts.ca_file))
                else:
                    config["trusted_certificates"] = neo4j.TrustSystemCAs()
        with self.translate_errors():
            self.driver = neo4j.GraphDatabase.driver(opts.uri, auth=auth, **config)
            self.driver.verify_connectivity()
            self.session = self.driver.session(database=opts.database)

    def close(self) -> None:
        session, driver, self.session, self.driver = self.session, self.driver, None, None
        for resource in (session, driver):
            if resource is not None:
                try:
                    resource.close()
                except Exception:  # closing must not fail
                    pass

    def _run(self, cypher: str, **params: Any) -> Any:
        """One auto-commit query on this adapter's session (raises Unavailable when not connected)."""
        if self.session is None:
            raise Unavailable("neo4j: adapter is not connected")
        import neo4j

        return self.session.run(neo4j.Query(cypher, timeout=self.options.query_timeout_s), params)

    def declare_links(self, namespace: str, field: str) -> None:
        self.links[check_namespace(namespace)] = field

    def prepare(self, namespace: str, fields: Sequence[str]) -> None:
        check_namespace(namespace)
        labels = [namespace, namespace + VERTEX] if namespace in self.links else [namespace]
        with self.translate_errors():
            for label in labels:
                self._run(f"CREATE CONSTRAINT {_quote(label + '_key')} IF NOT EXISTS "
                          f"FOR (n:{_quote(label)}) REQUIRE n.key IS UNIQUE").consume()
            self._run("CALL db.awaitIndexes($seconds)", seconds=300).consume()

    def create_edge_index(self, namespace: str, field: str) -> bool:
        """Nothing more to build: the links are relationships, written with each record (their cost is in the
        load's time) and found from a node through the unique key constraint ``prepare`` made."""
        return check_namespace(namespace) in self.links

    def create_index(self, namespace: str, field: str) -> bool:
        """A range index on the property, for the namespace's label (dropped with the label's indexes)."""
        check_namespace(namespace)
        with self.translate_errors():
            self._run(f"CREATE INDEX {_quote(namespace + '_' + field)} IF NOT EXISTS "
                      f"FOR (n:{_quote(namespace)}) ON (n.{_quote(field)})").consume()
            self._run("CALL db.awaitIndexes($seconds)", seconds=300).consume()
        return True

    def list_namespaces(self) -> list[str]:
        """Labels with nodes, and labels that only a constraint or index still names."""
        with self.translate_errors():
            labels = {r["label"] for r in self._run("CALL db.labels() YIELD label RETURN label")}
            for r in self._run("SHOW INDEXES YIELD labelsOrTypes RETURN labelsOrTypes"):
                labels.update(r["labelsOrTypes"] or [])
        return ours({label.removesuffix(VERTEX) for label in labels})

    def drop(self, namespace: str) -> None:
        check_namespace(namespace)
        with self.translate_errors():
            for label in (namespace, namespace + VERTEX):  # records, then placeholders
                # one transaction per batch keeps memory bounded (works on every 5.x, unlike CALL (n) {...})
                batch = f"MATCH (n:{_quote(label)}) WITH n LIMIT $size DETACH DELETE n RETURN count(*) AS c"
                while self._run(batch, size=max(1, self.options.batch_size)).single()["c"]:
                    pass
            # constraints first: dropping one also drops the index that backs it
            for kind, plural in (("CONSTRAINT", "CONSTRAINTS"), ("INDEX", "INDEXES")):
                names = [r["name"] for r in self._run(
                    f"SHOW {plural} YIELD name, labelsOrTypes WHERE labelsOrTypes IN [[$label], [$vertex]] "
                    f"RETURN name", label=namespace, vertex=namespace + VERTEX)]
                for name in names:
                    self._run(f"DROP {kind} {_quote(name)} IF EXISTS").consume()

    def server_info(self) -> ServerInfo:
        with self.translate_errors():
            rows = self._run("CALL dbms.components() YIELD name, versions, edition "
                             "RETURN name, versions, edition").data()
        kernel = next((r for r in rows if r["name"] == "Neo4j Kernel"), rows[0])
        return ServerInfo("Neo4j", str(kernel["versions"][0]),
                          {"edition": str(kernel["edition"]), "database": self.options.database})

    def durability(self) -> Durability:
        """Neo4j forces (fsyncs) its transaction log at every commit, grouped when commits overlap; no
        setting turns that off, so ``fast`` cannot be honoured.  The tx-log settings are read back."""
        profile = self.options.durability
        with self.translate_errors():
            rows = self._run("SHOW SETTINGS YIELD name, value WHERE name STARTS WITH 'db.tx_log' "
                             "RETURN name, value").data()
        settings = {str(r["name"]): str(r["value"]) for r in rows}
        if profile == "durable":
            return Durability(profile, settings, True, True, "the transaction log is forced to disk at commit")
        return Durability(profile, settings, True, False, "Neo4j always forces its transaction log at commit: "
                                                          "no setting acknowledges earlier")

    def client_info(self) -> dict[str, str]:
        import neo4j

        info = {"neo4j (Python driver)": str(neo4j.__version__)}
        driver = f"neo4j {neo4j.__version__}"
        try:
            from importlib.metadata import version

            info["neo4j-rust-ext"] = version("neo4j-rust-ext")
            driver += f" + neo4j-rust-ext {info['neo4j-rust-ext']}"
        except Exception:  # not installed: the pure-Python PackStream
            pass
        info["driver"] = driver
        return info

    # -- per operation -----------------------------------------------------------------------------
    @staticmethod
    def _record(props: Mapping[str, Any] | None, fields: Sequence[str] | None) -> Record:
        if props is None:
            return {}
        if fields is None:  # a document's flattened properties (``field.name``) are no fields
            return {k: str(v) for k, v in props.items() if k != "key" and "." not in k and v is not None}
        return {k: str(v) for k, v in props.items() if v is not None}

    @staticmethod
    def _returned(fields: Sequence[str] | None) -> str:
        if fields is None:
            return "properties(n)"
        return "n {" + ", ".join(f".{_quote(f)}" for f in fields) + "}"

    def _linked_write(self, namespace: str) -> str:
        return _LINKED_WRITE.format(label=_quote(namespace), vertex=_quote(namespace + VERTEX))

    def insert(self, namespace: str, key: str, values: Mapping[str, str]) -> None:
        label = _quote(check_namespace(namespace))
        props = {**self._flattened(namespace, values), "key": key}
        with self.translate_errors():
            field = self.links.get(namespace)
            if field is None:
                self._run(f"CREATE (n:{label}) SET n = $props", props=props).consume()
            else:
                self._run(f"WITH $row AS row {self._linked_write(namespace)}",
                          row={"props": props, "targets": _targets(values.get(field))}).consume()

    def read(self, namespace: str, key: str, fields: Sequence[str] | None = None) -> Record:
        label = _quote(check_namespace(namespace))
        with self.translate_errors():
            row = self._run(f"MATCH (n:{label} {{key: $key}}) RETURN {self._returned(fields)} AS p",
                            key=key).single()
        require_found(row is not None, namespace, key)
        return self._record(row["p"], fields)

    def update(self, namespace: str, key: str, values: Mapping[str, str]) -> None:
        label = _quote(check_namespace(namespace))
        field = self.links.get(namespace, "")
        relink, targets = "", []
        if field in values:  # the links change: the relationships follow
            relink = (f"WITH n CALL {{ WITH n MATCH (n)-[r:LINK]->() DELETE r }} "
                      f"FOREACH (t IN $targets | MERGE (m:{_quote(namespace + VERTEX)} {{key: t}}) "
                      f"CREATE (n)-[:LINK]->(m)) ")
            targets = _targets(values[field])
        with self.translate_errors():
            row = self._run(f"MATCH (n:{label} {{key: $key}}) SET n += $values {relink}RETURN count(n) AS c",
                            key=key, values=self._flattened(namespace, values), targets=targets).single()
        require_found(bool(row and row["c"]), namespace, key)

    def delete(self, namespace: str, key: str) -> None:
        label = _quote(check_namespace(namespace))
        if namespace in self.links:
            # its links go; a record others link to stays as a placeholder vertex (the links to it remain)
            cypher = (f"MATCH (n:{label} {{key: $key}}) CALL {{ WITH n MATCH (n)-[r:LINK]->() DELETE r }} "
                      f"WITH n, EXISTS {{ (n)<-[:LINK]-() }} AS linked "
                      f"FOREACH (_ IN CASE WHEN linked THEN [1] ELSE [] END | REMOVE n:{label} SET n = {{key: $key}}) "
                      f"WITH n, linked CALL {{ WITH n, linked WITH n WHERE NOT linked DELETE n }} "
                      f"RETURN count(*) AS c")
        else:
            cypher = f"MATCH (n:{label} {{key: $key}}) DETACH DELETE n RETURN count(n) AS c"
        with self.translate_errors():
            row = self._run(cypher, key=key).single()
        require_found(bool(row and row["c"]), namespace, key)

    def scan(self, namespace: str, start_key: str, count: int,
             fields: Sequence[str] | None = None) -> list[tuple[str, Record]]:
        label = _quote(check_namespace(namespace))
        if count <= 0:
            return []
        with self.translate_errors():
            rows = self._run(f"MATCH (n:{label}) WHERE n.key >= $start "
                             f"RETURN n.key AS k, {self._returned(fields)} AS p ORDER BY n.key LIMIT $count",
                             start=start_key, count=count)
            return [(str(r["k"]), self._record(r["p"], fields)) for r in rows]

    def query(self, namespace: str, query: Query) -> QueryResult:
        label = _quote(check_namespace(namespace))
        match = f"MATCH (n:{label}) WHERE n.{_quote(query.field)} = $value"
        with self.translate_errors():
            if query.aggregate == "count":
                row = self._run(f"{match} RETURN count(n) AS c", value=query.equals).single()
                return QueryResult(int(row["c"]))
            assert query.sum_field is not None, "sum needs sum_field"
            row = self._run(f"{match} RETURN count(n) AS c, sum(toInteger(n.{_quote(query.sum_field)})) AS s",
                            value=query.equals).single()
            return QueryResult(int(row["c"]), int(row["s"]))

    def join(self, namespace: str, join: Join) -> JoinResult:
        """One Cypher query: the range's customers (a label scan), their orders through the reference
        property's range index (``create_index``), counted and summed per region on the server.  An order
        without an amount is counted and adds nothing to the sum, as SQL's ``sum`` of a NULL."""
        label = _quote(check_namespace(namespace))
        group, ref, summed = _quote(join.group_field), _quote(join.ref_field), _quote(join.sum_field)
        with self.translate_errors():
            rows = self._run(f"MATCH (u:{label}) WHERE u.{group} >= $low AND u.{group} <= $high "
                             f"MATCH (o:{label}) WHERE o.{ref} = u.key "
                             f"RETURN u.{group} AS g, count(o) AS c, sum(toInteger(o.{summed})) AS s",
                             low=join.low, high=join.high)
            return {str(r["g"]): (int(r["c"]), int(r["s"] or 0)) for r in rows}

    # -- graph -------------------------------------------------------------------------------------
    def _linked_label(self, namespace: str, field: str) -> str:
        """The namespace's label, for a traversal of ``field``, the links it was declared with."""
        label = _quote(check_namespace(namespace))
        if self.links.get(namespace) != field:
            raise UsageError(f"neo4j: {namespace} keeps no links in {field!r} as relationships "
                             f"(declare_links was not called with it)")
        return label

    def neighbors(self, namespace: str, key: str, hops: int, field: str) -> set[str]:
        """One query: the distinct ends of paths of 1..hops relationships (Neo4j prunes it to a breadth-first
        expansion)."""
        label = self._linked_label(namespace, field)
        if hops < 1:
            return set()
        with self.translate_errors():
            rows = self._run(f"MATCH (s:{label} {{key: $key}})-[:LINK*1..{int(hops)}]->(m) "
                             f"RETURN DISTINCT m.key AS k", key=key)
            reached = {str(r["k"]) for r in rows}
        reached.discard(key)
        return reached

    def shortest_path(self, namespace: str, source: str, target: str, max_hops: int, field: str) -> list[str] | None:
        """One query: ``shortestPath`` from the source record to the target vertex (a bidirectional
        breadth-first search on the server)."""
        label = self._linked_label(namespace, field)
        if source == target:  # shortestPath refuses a path from a node to itself
            return [source]
        if max_hops < 1:
            return None
        with self.translate_errors():
            row = self._run(f"MATCH (a:{label} {{key: $source}}), (b:{_quote(namespace + VERTEX)} {{key: $target}}) "
                            f"MATCH p = shortestPath((a)-[:LINK*..{int(max_hops)}]->(b)) "
                            f"RETURN [x IN nodes(p) | x.key] AS keys", source=source, target=target).single()
        return None if row is None else [str(k) for k in row["keys"]]

    # -- batch -------------------------------------------------------------------------------------
    def write_batch(self, namespace: str, batch: pa.Table) -> None:
        label = _quote(check_namespace(namespace))
        size = max(1, self.options.batch_size)
        field = self.links.get(namespace)
        if field is None:
            cypher = f"UNWIND $rows AS row CREATE (n:{label}) SET n = row"
        else:
            cypher = f"UNWIND $rows AS row {self._linked_write(namespace)}"
        with self.translate_errors():
            for chunk in batch.to_batches(max_chunksize=size):
                rows = [self._flattened(namespace, {k: v for k, v in row.items() if v is not None})
                        for row in chunk.to_pylist()]
                if field is not None:
                    rows = [{"props": row, "targets": _targets(row.get(field))} for row in rows]
                self._run(cypher, rows=rows).consume()

    def read_batch(self, namespace: str, fields: Sequence[str] | None = None) -> pa.Table:
        return self._read_table(namespace, fields, "", None)

    def read_batch_where(self, namespace: str, fields: Sequence[str], field: str, equals: str) -> pa.Table:
        return self._read_table(namespace, fields, f"AND n.{_quote(field)} = $value", equals)

    def _read_table(self, namespace: str, fields: Sequence[str] | None, where: str, value: str | None) -> pa.Table:
        """One query, streamed in key order (the key index provides the order) into an Arrow table."""
        import pyarrow as pa

        label = _quote(check_namespace(namespace))
        with self.translate_errors():
            rows = [(str(r["k"]), self._record(r["p"], fields)) for r in self._run(
                f"MATCH (n:{label}) WHERE n.key >= '' {where} RETURN n.key AS k, {self._returned(fields)} AS p "
                f"ORDER BY n.key", value=value)]
        names = list(fields) if fields is not None else sorted({f for _, rec in rows for f in rec})
        return pa.table({"key": pa.array([k for k, _ in rows], pa.string()),
                         **{f: pa.array([rec.get(f) for _, rec in rows], pa.string()) for f in names}})

    # -- documents: the JSON text, and its top-level scalars as properties with a property index ------------
    def declare_document(self, namespace: str, field: str) -> None:
        self.documents[check_namespace(namespace)] = field

    def _flattened(self, namespace: str, values: Mapping[str, Any]) -> dict[str, Any]:
        """The values to store: with a document, its top-level scalar fields too, as ``field.name``
        properties (what a property index can index; Cypher has no JSON functions without APOC)."""
        field = self.documents.get(namespace)
        if field is None or not isinstance(values.get(field), str):
            return dict(values)
        doc = json.loads(values[field])
        return {**values, **{f"{field}.{k}": v for k, v in doc.items() if isinstance(v, str | int | float | bool)}}

    def create_document_index(self, namespace: str, field: str, path: str, numeric: bool = False) -> bool:
        """A range index (Neo4j 5's default) on the flattened ``field.path`` property: it serves equality
        and, on an integer property, ``>=``/``<`` ranges alike."""
        label = check_namespace(namespace)
        with self.translate_errors():
            self._run(f"CREATE INDEX {_quote(f'{label}_{field}_{path}')} IF NOT EXISTS "
                      f"FOR (n:{_quote(label)}) ON (n.{_quote(f'{field}.{path}')})").consume()
            self._run("CALL db.awaitIndexes($seconds)", seconds=300).consume()
        return True

    def find(self, namespace: str, field: str, path: str, equals: str) -> list[tuple[str, Record]]:
        """One Cypher match on the flattened property (through its index); the nested update stays EMULATED
        (read the JSON text, change it, write it back with its flattened properties)."""
        label = _quote(check_namespace(namespace))
        with self.translate_errors():
            rows = self._run(f"MATCH (n:{label}) WHERE n.{_quote(f'{field}.{path}')} = $value "
                             f"RETURN n.key AS k, properties(n) AS p ORDER BY n.key", value=equals)
            return [(str(r["k"]), self._record(r["p"], None)) for r in rows]

    def find_range(self, namespace: str, field: str, path: str, lo: int, hi: int) -> list[tuple[str, Record]]:
        """One Cypher match on the flattened integer property in ``[lo, hi)`` (through its range index)."""
        label = _quote(check_namespace(namespace))
        prop = _quote(f"{field}.{path}")
        with self.translate_errors():
            rows = self._run(f"MATCH (n:{label}) WHERE n.{prop} >= $lo AND n.{prop} < $hi "
                             f"RETURN n.key AS k, properties(n) AS p ORDER BY n.key", lo=int(lo), hi=int(hi))
            return [(str(r["k"]), self._record(r["p"], None)) for r in rows]

    # -- errors ------------------------------------------------------------------------------------
    def map_error(self, exc: Exception) -> AdapterError:
        from neo4j import exceptions as ne

        message = f"neo4j: {type(exc).__name__}: {exc}"
        if isinstance(exc, ne.ConstraintError) or "ConstraintValidationFailed" in str(
                getattr(exc, "code", "") or ""):
            return AlreadyExists(message)
        if isinstance(exc, ne.ServiceUnavailable | ne.SessionExpired | ne.DatabaseUnavailable | OSError):
            return Unavailable(message)
        return AdapterError(message)
