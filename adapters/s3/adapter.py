"""S3 through obstore or boto3: the local versitygw, any S3-compatible server, or AWS itself.

Drivers (option ``driver``) for the per-record requests (insert, read, update, delete and the GETs of
scan and query):

* ``obstore`` (default): the Rust ``object_store`` crate behind a thin Python binding.  Chosen from
  measurements on this project's versitygw: about 0.27 ms of client CPU per GET against boto3's 2.5 ms
  (same server, same 1 kB objects, alternated; ``benchmarks/peers.py`` shows the effect on YCSB C), so
  the store rather than the client sets the figure.  Conditional writes map to its ``mode="create"``
  (If-None-Match: *) and ``mode={"e_tag": ...}`` (If-Match).
* ``boto3``: the design card's client (botocore's pure-Python HTTP, signing and parsing).

Bucket creation and removal, listings, footprint and the batch Parquet objects go through boto3 with
either driver (they are not per-operation hot paths).

Data model: one bucket per namespace, ``sbench_a_b`` -> bucket ``sbench-a-b`` (bucket names allow no
underscores; the mapping is one-to-one because namespaces are ``[a-z0-9_]``).  One object per record:
object key = record key, body = the record's fields as a JSON object (``{"field0": "...", ...}``).

Operations and their honest cost:

* insert: one PUT with ``If-None-Match: *`` (a conditional write: an existing key is
  :class:`AlreadyExists`, as on the databases).  ``conditional_writes=False`` drops the header for
  servers without conditional writes.
* read: one GET (``NoSuchKey`` -> :class:`NotFound`); field subsets are cut on the client.
* update (EMULATED): read-modify-write of the whole object: GET, merge, PUT with ``If-Match: <etag>``
  so a concurrent writer is not silently overwritten (retried on a lost race).
* delete: one DELETE.  S3 answers 204 whether or not the key existed and telling would need a HEAD
  first, so no HEAD is made: ``delete_reports_missing=False``.
* scan (EMULATED): ``ListObjectsV2`` from just before ``start_key`` (``StartAfter``; S3 lists in UTF-8
  byte order), then one GET per record.
* query (EMULATED): list every object and GET it, filter and aggregate on the client.
* batch write (NATIVE): the Arrow batch is written as one Parquet object under the reserved prefix
  ``_sbench_batch/`` (multipart upload by boto3 when large).  batch read (NATIVE): every Parquet object
  under that prefix (plus any per-record objects) read back into one Arrow table sorted by key.  Records
  written by ``write_batch`` live in Parquet, so per-record ``read`` does not see them: the batch
  workload uses write_batch/read_batch only.  Listings for scan/query skip the reserved prefix.  The
  filtered batch read stays EMULATED (whole read, then a client-side filter): S3 Select is not offered
  by versitygw and is closed to new AWS customers.

``server_info()`` reads the ``Server`` response header (versitygw answers ``VERSITYGW``, AWS
``AmazonS3``).  S3 has no version API: for versitygw the version comes from ``server_version_hint``,
which ``storagebench services up s3`` fills with the version it built, and is labelled as such.
"""

from __future__ import annotations

import dataclasses
import io
import json
import uuid
from collections.abc import Iterator, Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import SecretStr, field_validator
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
from storagebench.adapters.s3.service import PORTS

from storagebench.durability import Durability, unknown
from storagebench.errors import AdapterError, AlreadyExists, NotFound, Unavailable, Unsupported
from storagebench.services.network import Route, proxied_url
from storagebench.services.ports import HOST

if TYPE_CHECKING:
    import pyarrow as pa

#: objects written by write_batch live under this prefix (never a record key of the per-op workloads)
BATCH_PREFIX = "_sbench_batch/"
LOCAL_ENDPOINT = f"http://{HOST}:{PORTS['http']}"
#: engine names for known ``Server`` headers
SERVER_NAMES = {"VERSITYGW": "versitygw", "AmazonS3": "Amazon S3"}


def bucket_name(namespace: str) -> str:
    bucket = check_namespace(namespace).replace("_", "-")
    if not 3 <= len(bucket) <= 63 or bucket.endswith("-"):
        raise ValueError(f"namespace {namespace!r} does not map to a valid bucket name ({bucket!r})")
    return bucket


class S3Options(AdapterOptions):
    #: None: AWS itself, region endpoint and the standard credential chain (env, profile, role)
    endpoint_url: str | None = LOCAL_ENDPOINT
    region: str = "us-east-1"
    #: None: the standard credential chain
    access_key: SecretStr | None = None
    secret_key: SecretStr | None = None
    session_token: SecretStr | None = None
    #: path-style addressing (http://host/bucket/key), which most local servers need; None: path style
    #: for a custom endpoint_url, virtual-hosted style for AWS
    path_style: bool | None = None
    #: verify TLS certificates (or a CA bundle path)
    verify_tls: bool | str = True
    connect_timeout_s: float = 10.0
    read_timeout_s: float = 60.0
    max_attempts: int = 3
    #: insert with If-None-Match: * (conditional write); off for servers that lack it
    conditional_writes: bool = True
    #: the server's version when the protocol cannot tell (set by `storagebench services up s3`)
    server_version_hint: str | None = None
    #: objects per ListObjectsV2 page
    list_page_size: int = 1000
    #: client for per-record requests (see the module docstring): "obstore" (default, measured fastest)
    #: or "boto3"; bucket admin, listings and batches always use boto3
    driver: Literal["obstore", "boto3"] = "obstore"

    @field_validator("endpoint_url", mode="before")
    @classmethod
    def _empty_means_aws(cls, value: Any) -> Any:
        # an environment override can only give a string: "" (or "aws") selects AWS
        return None if isinstance(value, str) and value.strip().lower() in ("", "aws", "none") else value


class S3Adapter(Adapter):
    name = "s3"
    description = "S3 (obstore or boto3): bucket per namespace, one JSON object per record, Parquet for batches"
    Options = S3Options
    capabilities: ClassVar[Capabilities] = Capabilities(
        family="object",
        update=Support.EMULATED, scan=Support.EMULATED, query=Support.EMULATED,
        batch_write=Support.NATIVE, batch_read=Support.NATIVE, delete_reports_missing=False,
        # a batch is one Parquet object beside the objects of single records: a read never looks in it
        batch_rows_are_records=False,
        # the fewest requests each operation makes (an update that loses a race GETs and PUTs again);
        # scan and query list and GET per row: their count varies, so they are not priced
        priced_api="s3", requests={"insert": {"put": 1}, "read": {"get": 1}, "update": {"get": 1, "put": 1},
                                   "delete": {"delete": 1}})
    options: S3Options

    @classmethod
    def through_proxy(cls, options: Mapping[str, Any], route: Route) -> tuple[dict[str, Any], str]:
        if not options.get("endpoint_url"):
            raise Unsupported("s3: a network profile needs an endpoint_url (AWS itself is already remote)")
        return {**options, "endpoint_url": proxied_url(str(options["endpoint_url"]), route)}, ""

    def __init__(self, options: AdapterOptions | Mapping[str, Any] | None = None) -> None:
        super().__init__(options)
        self.client: Any = None
        self.records: _ObstoreRecords | None = None  # the obstore driver's per-record path

    # -- lifecycle ---------------------------------------------------------------------------------
    def connect(self) -> None:
        import boto3
        from botocore.config import Config

        o = self.options
        if not o.conditional_writes:  # a put without If-None-Match writes over an existing object
            self.capabilities = dataclasses.replace(type(self).capabilities, insert_replaces=True)  # type: ignore[misc]
        credentials: dict[str, Any] = {}
        if o.access_key is not None and o.secret_key is not None:
            credentials = {"aws_access_key_id": o.access_key.get_secret_value(),
                           "aws_secret_access_key": o.secret_key.get_secret_value()}
            if o.session_token is not None:
                credentials["aws_session_token"] = o.session_token.get_secret_value()
        path_style = o.endpoint_url is not None if o.path_style is None else o.path_style
        config = Config(s3={"addressing_style": "path" if path_style else "virtual"},
                        connect_timeout=o.connect_timeout_s, read_timeout=o.read_timeout_s,
                        retries={"max_attempts": o.max_attempts, "mode": "standard"},
                        max_pool_connections=4,
                        # only send/verify checksums where S3 requires them (many servers lack the new ones)
                        request_checksum_calculation="when_required",
                        response_checksum_validation="when_required")
        try:
            session = boto3.session.Session(region_name=o.region, **credentials)
            self.client = session.client("s3", endpoint_url=o.endpoint_url, verify=o.verify_tls, config=config)
            self.records = _ObstoreRecords(o, path_style, session) if o.driver == "obstore" else None
        except ImportError as exc:
            raise Unavailable(f"s3: driver {o.driver!r} needs {exc.name}: pip install storagebench[s3]") from exc
        except Exception as exc:
            raise Unavailable(f"s3: cannot create a client for {o.endpoint_url or 'AWS'}: {exc}") from exc

    def close(self) -> None:
        self.records = None
        if self.client is not None:
            try:
                self.client.close()
            finally:
                self.client = None

    def prepare(self, namespace: str, fields: Sequence[str]) -> None:
        bucket = bucket_name(namespace)
        kwargs: dict[str, Any] = {"Bucket": bucket}
        if self.options.region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": self.options.region}
        try:
            with self.translate_errors():
                self._client().create_bucket(**kwargs)
        except AdapterError as exc:
            if _code(exc.__cause__) != "BucketAlreadyOwnedByYou":
                raise

    def list_namespaces(self) -> list[str]:
        with self.translate_errors():
            buckets = self._client().list_buckets().get("Buckets", [])
        return ours(b["Name"].replace("-", "_") for b in buckets)

    def drop(self, namespace: str) -> None:
        bucket = bucket_name(namespace)
        client = self._client()
        try:
            with self.translate_errors():
                while True:
                    page = client.list_objects_v2(Bucket=bucket, MaxKeys=1000)
                    keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
                    if not keys:
                        break
                    client.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
                client.delete_bucket(Bucket=bucket)
        except NotFound:
            return  # no such bucket: nothing to drop

    def footprint(self, namespace: str) -> int | None:
        """Sum of the object sizes in the namespace's bucket (ListObjectsV2)."""
        total = 0
        with self.translate_errors():
            for page in self._client().get_paginator("list_objects_v2").paginate(Bucket=bucket_name(namespace)):
                total += sum(int(item["Size"]) for item in page.get("Contents", []))
        return total

    def server_info(self) -> ServerInfo:
        with self.translate_errors():
            reply = self._client().list_buckets()
        header = str(reply["ResponseMetadata"]["HTTPHeaders"].get("server", ""))
        engine = SERVER_NAMES.get(header, header or "unknown S3 server")
        details = {"Server header": header}
        if header == "VERSITYGW" and self.options.server_version_hint:
            # S3 has no version API and versitygw's Server header carries none: the version is the one
            # `storagebench services up s3` built, labelled as configured, not observed
            return ServerInfo(engine, self.options.server_version_hint,
                              {**details, "version source": "configured (the server does not report it)"},
                              version_observed=False)
        return ServerInfo(engine, "unreported", details, version_observed=False)

    def durability(self) -> Durability:
        profile = self.options.durability
        header = self._server_header()
        if header == "VERSITYGW":
            # read from versitygw v1.8.0's source: the posix backend writes a temp file and links it into
            # place; nothing calls fsync, and no option adds one
            settings = {"server": "versitygw posix backend", "fsync": "never (no option)"}
            if profile == "durable":
                return Durability(profile, settings, False, False,
                                  "versitygw's posix backend never fsyncs: an acknowledged object is in the "
                                  "page cache only; it cannot give the durable promise")
            return Durability(profile, settings, False, True, "acknowledged in the page cache")
        if header == "AmazonS3":
            return Durability(profile, {"server": "Amazon S3"}, False, profile == "durable",
                              "Amazon S3 stores an object redundantly before it acknowledges the PUT")
        return unknown(profile, f"S3 server {header or 'unknown'}: durability not known to this adapter")

    def _server_header(self) -> str:
        with self.translate_errors():
            reply = self._client().list_buckets()
        return str(reply["ResponseMetadata"]["HTTPHeaders"].get("server", ""))

    def client_info(self) -> dict[str, str]:
        import boto3
        import botocore

        info = {"boto3": boto3.__version__, "botocore": botocore.__version__}
        if self.options.driver == "obstore":
            import obstore

            info["obstore"] = obstore.__version__
        info["driver"] = f"{self.options.driver} {info[self.options.driver]}"
        return info

    # -- per operation -----------------------------------------------------------------------------
    def insert(self, namespace: str, key: str, values: Mapping[str, str]) -> None:
        if self.records is not None:
            with self.translate_errors():
                self.records.put(bucket_name(namespace), key, _encode(values),
                                 "create" if self.options.conditional_writes else "overwrite")
            return
        extra = {"IfNoneMatch": "*"} if self.options.conditional_writes else {}
        with self.translate_errors():
            self._client().put_object(Bucket=bucket_name(namespace), Key=key, Body=_encode(values),
                                      ContentType="application/json", **extra)

    def read(self, namespace: str, key: str, fields: Sequence[str] | None = None) -> Record:
        record, _etag = self._get(bucket_name(namespace), key)
        return _subset(record, fields)

    def update(self, namespace: str, key: str, values: Mapping[str, str]) -> None:
        bucket = bucket_name(namespace)
        for _attempt in range(5):
            record, etag = self._get(bucket, key)
            record.update(values)
            extra = {"IfMatch": etag} if self.options.conditional_writes and etag else {}
            try:
                if self.records is not None:
                    with self.translate_errors():
                        self.records.put(bucket, key, _encode(record), {"e_tag": etag} if extra else "overwrite")
                    return
                with self.translate_errors():
                    self._client().put_object(Bucket=bucket, Key=key, Body=_encode(record),
                                              ContentType="application/json", **extra)
                return
            except AlreadyExists:  # 412: somebody wrote in between; read again
                continue
        raise AdapterError(f"s3: update of {bucket}/{key} kept losing races with other writers")

    def delete(self, namespace: str, key: str) -> None:
        with self.translate_errors():
            if self.records is not None:
                self.records.delete(bucket_name(namespace), key)
                return
            self._client().delete_object(Bucket=bucket_name(namespace), Key=key)

    def scan(self, namespace: str, start_key: str, count: int,
             fields: Sequence[str] | None = None) -> list[tuple[str, Record]]:
        bucket = bucket_name(namespace)
        out: list[tuple[str, Record]] = []
        # list little more than needed: keys between start_key's parent prefix and start_key are skipped
        for key in self._keys(bucket, start_key, page_size=min(max(count, 0) + 16, self.options.list_page_size)):
            if len(out) >= count:
                break
            try:
                record, _etag = self._get(bucket, key)
            except NotFound:  # deleted between listing and GET
                continue
            out.append((key, _subset(record, fields)))
        return out

    def query(self, namespace: str, query: Query) -> QueryResult:
        """Over all the namespace's data: per-record objects and the batch prefix's Parquet objects (a
        record object wins over a batch row with the same key), as HDFS and the local directory answer."""
        import pyarrow as pa
        import pyarrow.compute as pc

        bucket = bucket_name(namespace)
        summing = query.aggregate == "sum" and query.sum_field is not None
        count = total = 0
        seen: list[str] = []
        for key in self._keys(bucket, ""):
            try:
                record, _etag = self._get(bucket, key)
            except NotFound:
                continue
            seen.append(key)
            if record.get(query.field) == query.equals:
                count += 1
                if summing:
                    total += int(record.get(query.sum_field or "", "0") or 0)
        shadowed = pa.array(seen, pa.string())
        for part in self._batch_parts(bucket):
            if query.field not in part.column_names:
                continue
            mask = pc.equal(part[query.field], query.equals)
            if len(shadowed):
                mask = pc.and_(mask, pc.invert(pc.is_in(part["key"], value_set=shadowed)))
            hits = part.filter(mask)
            count += hits.num_rows
            if summing and query.sum_field in hits.column_names:
                total += sum(int(v) for v in hits[query.sum_field].to_pylist() if v)
        return QueryResult(count, total if query.aggregate == "sum" else None)

    # -- batch: Parquet objects --------------------------------------------------------------------
    def write_batch(self, namespace: str, batch: pa.Table) -> None:
        import pyarrow.parquet as pq

        buffer = io.BytesIO()
        pq.write_table(batch, buffer, compression="zstd")
        buffer.seek(0)
        key = f"{BATCH_PREFIX}part-{uuid.uuid4().hex}.parquet"
        with self.translate_errors():
            self._client().upload_fileobj(buffer, bucket_name(namespace), key)

    def read_batch(self, namespace: str, fields: Sequence[str] | None = None) -> pa.Table:
        import pyarrow as pa

        parts = list(self._batch_parts(bucket_name(namespace), fields))
        singles = self.scan(namespace, "", 2**62, fields)  # per-record objects, if any
        if singles:
            names = list(fields) if fields is not None else sorted({n for _k, r in singles for n in r})
            parts.append(pa.table({"key": [k for k, _ in singles],
                                   **{n: pa.array([r.get(n) for _k, r in singles], pa.string()) for n in names}}))
        if not parts:
            return pa.table({c: pa.array([], pa.string()) for c in ["key", *(fields or [])]})
        table = pa.concat_tables(parts, promote_options="default")
        return table.sort_by("key")

    def _batch_parts(self, bucket: str, fields: Sequence[str] | None = None) -> Iterator[pa.Table]:
        """Each Parquet object under the batch prefix, as a table (``key`` and ``fields``; all columns)."""
        import pyarrow.parquet as pq

        columns = ["key", *fields] if fields is not None else None
        with self.translate_errors():
            for page in self._client().get_paginator("list_objects_v2").paginate(
                    Bucket=bucket, Prefix=BATCH_PREFIX, PaginationConfig={"PageSize": self.options.list_page_size}):
                for item in page.get("Contents", []):
                    body = self._client().get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
                    yield pq.read_table(io.BytesIO(body), columns=columns)

    # -- helpers -----------------------------------------------------------------------------------
    def _client(self) -> Any:
        if self.client is None:
            raise Unavailable("s3: not connected (call connect() first)")
        return self.client

    def _get(self, bucket: str, key: str) -> tuple[dict[str, str], str]:
        if self.records is not None:
            with self.translate_errors():
                body, etag = self.records.get(bucket, key)
            return json.loads(body), etag
        with self.translate_errors():
            reply = self._client().get_object(Bucket=bucket, Key=key)
            body = reply["Body"].read()
        return json.loads(body), str(reply.get("ETag", ""))

    def _keys(self, bucket: str, start_key: str, page_size: int | None = None) -> Iterator[str]:
        """Record keys >= start_key in byte order, skipping the batch prefix."""
        kwargs: dict[str, Any] = {"Bucket": bucket, "MaxKeys": page_size or self.options.list_page_size}
        if start_key[:-1]:
            kwargs["StartAfter"] = start_key[:-1]  # exclusive bound: a prefix of start_key sorts first
        start = start_key.encode()
        while True:
            with self.translate_errors():
                page = self._client().list_objects_v2(**kwargs)
            for item in page.get("Contents", []):
                key = item["Key"]
                if key.encode() >= start and not key.startswith(BATCH_PREFIX):
                    yield key
            if not page.get("IsTruncated"):
                return
            kwargs["ContinuationToken"] = page["NextContinuationToken"]

    def map_error(self, exc: Exception) -> AdapterError:
        from botocore.exceptions import ClientError, ConnectionError, EndpointConnectionError

        if self.records is not None:
            from obstore import exceptions as obx

            if isinstance(exc, obx.NotFoundError | FileNotFoundError):
                return NotFound(f"s3: {_first_line(exc)}")
            if isinstance(exc, obx.AlreadyExistsError | obx.PreconditionError):
                return AlreadyExists(f"s3: {_first_line(exc)}")
            if isinstance(exc, obx.GenericError) and "error sending request" in str(exc).lower():
                return Unavailable(f"s3: {_first_line(exc)}")

        if isinstance(exc, EndpointConnectionError | ConnectionError):
            return Unavailable(f"s3: {exc}")
        if isinstance(exc, ClientError):
            code = _code(exc)
            if code in ("NoSuchKey", "NoSuchBucket", "404", "NotFound"):
                return NotFound(f"s3: {code}: {exc}")
            if code in ("PreconditionFailed", "412", "ConditionalRequestConflict"):
                return AlreadyExists(f"s3: {code}: {exc}")
            if code in ("SlowDown", "ServiceUnavailable", "503"):
                return Unavailable(f"s3: {code}: {exc}")
        return AdapterError(f"s3: {type(exc).__name__}: {exc}")


def _code(exc: BaseException | None) -> str:
    response = getattr(exc, "response", None)
    return str(response.get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""


def _encode(record: Mapping[str, str]) -> bytes:
    return json.dumps(dict(record), ensure_ascii=False, separators=(",", ":")).encode()


def _subset(record: Mapping[str, str], fields: Sequence[str] | None) -> Record:
    if fields is None:
        return dict(record)
    return {f: record[f] for f in fields if f in record}


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


class _ObstoreRecords:
    """The obstore driver: one ``S3Store`` per bucket, sharing the options' endpoint and credentials."""

    def __init__(self, options: S3Options, path_style: bool, session: Any) -> None:
        import obstore

        self.obstore = obstore
        self.options, self.path_style = options, path_style
        creds = session.get_credentials()
        self.credentials: dict[str, Any] = {}
        if creds is not None:
            frozen = creds.get_frozen_credentials()
            self.credentials = {"access_key_id": frozen.access_key, "secret_access_key": frozen.secret_key}
            if frozen.token:
                self.credentials["session_token"] = frozen.token
        self.stores: dict[str, Any] = {}

    def store(self, bucket: str) -> Any:
        store = self.stores.get(bucket)
        if store is None:
            from obstore.store import S3Store

            o = self.options
            client: Any = {"connect_timeout": f"{o.connect_timeout_s}s",
                                      "timeout": f"{o.read_timeout_s}s"}
            if o.endpoint_url is not None and o.endpoint_url.startswith("http://"):
                client["allow_http"] = True
            if o.verify_tls is False:
                client["allow_invalid_certificates"] = True
            extra: dict[str, Any] = {"endpoint": o.endpoint_url} if o.endpoint_url is not None else {}
            store = self.stores[bucket] = S3Store(
                bucket, region=o.region, virtual_hosted_style_request=not self.path_style, client_options=client,
                retry_config={"max_retries": max(0, o.max_attempts - 1),
                              "retry_timeout": timedelta(seconds=o.read_timeout_s)},
                **extra, **self.credentials)
        return store

    def get(self, bucket: str, key: str) -> tuple[bytes, str]:
        reply = self.obstore.get(self.store(bucket), key)
        return bytes(reply.bytes()), str(reply.meta.get("e_tag") or "")

    def put(self, bucket: str, key: str, body: bytes, mode: Any) -> None:
        self.obstore.put(self.store(bucket), key, body, mode=mode)

    def delete(self, bucket: str, key: str) -> None:
        self.obstore.delete(self.store(bucket), key)
