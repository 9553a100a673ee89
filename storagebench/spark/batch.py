"""The batch dataset through Spark: write, read back (verified), filtered read, aggregate.

:func:`run_spark_batch` writes the same seeded rows as the harness's batch workload
(:func:`storagebench.running.batch.expected_table`) through the store's Spark connector
(:mod:`storagebench.spark.connectors`), reads them back and compares them, sorted by key, row by row with the
expected data (:func:`storagebench.running.batch.table_difference`: a difference names the key), then
runs ``batchqueries`` filtered reads
(``queryfield = value``, pushed down by the connector where it can) and as many ``count``/``sum``
aggregates, each verified.  Figures: rows/s and MB/s per step (MB of the string values, as in the
harness's batch summary), plus the session start-up (JVM + connector resolution) separately.

Each call runs in a fresh Python process with its own Spark JVM: ``spark.jars.packages`` only takes
effect when a JVM starts, and each store needs different connectors.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack, nullcontext
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from storagebench.errors import UsageError
from storagebench.registry import load_adapter
from storagebench.running.batch import expected_table, table_bytes, table_difference
from storagebench.services.base import storagebench_home
from storagebench.spark.connectors import Access, connector
from storagebench.spark.session import get_session, is_local, release_session
from storagebench.workloads.spec import WorkloadSpec
from storagebench.workloads.values import Values

#: seconds a store's batch child gets for start-up (JVM, connector resolution, first session) ...
START_TIMEOUT_S = 300
#: ... plus one second per this many rows (well under the slowest connector seen, HDFS at ~2,000 rows/s)
TIMEOUT_ROWS_PER_S = 200


def batch_timeout_s(spec: WorkloadSpec) -> float:
    """How long a store's whole batch run may take before its child process is killed.

    Scaled by the dataset: a hang (a connector waiting on a port nobody listens on) costs minutes, not
    half an hour, while a large real run still has room.
    """
    return START_TIMEOUT_S + spec.recordcount * (1 + spec.batchqueries) / TIMEOUT_ROWS_PER_S


def run_spark_batch(store_name: str, options: dict[str, Any], spec: WorkloadSpec, namespace: str, seed: int,
                    master: str = "local[2]") -> dict[str, Any]:
    """Run the batch dataset through Spark on ``store_name``; never raises for store/connector failures.

    ``options``: the store's adapter options as plain values (secrets revealed), e.g.
    ``storagebench.config.plain_options(...)`` or the endpoints file entry.  The namespace is dropped and
    prepared with the store's adapter first; it is left in place afterwards (the caller drops it).  For a
    store whose file one process at a time may open (DuckDB), the file is detached from this process while
    Spark runs (:attr:`~storagebench.spark.connectors.Connector.release`); open adapters keep working.
    Returns :func:`_run`'s figures; ``verified`` is False and ``problems`` says why when anything failed.
    """
    try:
        release = connector(store_name).release
    except UsageError:
        release = None  # reported by the child with the reason
    release_session()  # the per-operation phases' executors hold the cluster's cores; the child needs them
    with (release(options) if release is not None else nullcontext()):
        # a single-process file (DuckDB) is free for Spark's JVM meanwhile; the caller's adapters stay usable
        return _run_child(store_name, options, spec, namespace, seed, master)


def _run_child(store_name: str, options: dict[str, Any], spec: WorkloadSpec, namespace: str, seed: int,
               master: str) -> dict[str, Any]:
    payload = {"store": store_name, "options": options, "spec": spec.model_dump(mode="json"),
               "namespace": namespace, "seed": seed, "master": master}
    log_dir = storagebench_home() / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    log = log_dir / f"spark-batch-{store_name}.log"
    with tempfile.TemporaryDirectory(prefix="sbench-spark-batch-") as tmp:
        request, answer = Path(tmp) / "request.json", Path(tmp) / "answer.json"
        request.write_text(json.dumps(payload, default=str))
        os.chmod(request, 0o600)  # holds credentials
        began = time.monotonic()
        timeout = batch_timeout_s(spec)
        with log.open("w") as out:
            code = _wait_child([sys.executable, "-m", "storagebench.spark.batch", str(request), str(answer)],
                               out, log, timeout)
        if answer.exists():
            result: dict[str, Any] = json.loads(answer.read_text())
            result["log"] = str(log)
            return result
    tail = [line for line in log.read_text(errors="replace").splitlines() if line.strip()][-5:]
    return _failed(store_name, master, [f"spark batch process ended ({code}) without a result after "
                                        f"{time.monotonic() - began:.0f}s; log {log}: " + " | ".join(tail)],
                   log=str(log))


#: what Spark's scheduler logs while an application waits for executors that do not come
STARVED = "Initial job has not accepted any resources"
#: how long an application may keep starving before the phase fails (Spark logs it every 15 s)
STARVED_LIMIT_S = 20.0


def _wait_child(argv: list[str], out: Any, log: Path, timeout: float) -> int | str:
    """Run the batch process; its exit status, or why it was killed: the time limit, or a cluster that
    never gives it a core (fails within :data:`STARVED_LIMIT_S` of Spark saying so, not at the limit).
    Any exception here (SIGINT, SIGTERM) kills the child first."""
    proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
    began = time.monotonic()
    starved_since: float | None = None
    try:
        while proc.poll() is None:
            time.sleep(0.5)
            now = time.monotonic()
            if now - began > timeout:
                return f"killed: no result after the {timeout:.0f}s limit"
            if starved_since is None and STARVED in log.read_text(errors="replace"):
                starved_since = now
            if starved_since is not None and now - starved_since > STARVED_LIMIT_S:
                return ("killed: the Spark cluster gave this application no executor (all its cores are held "
                        "by another application; Spark: 'Initial job has not accepted any resources')")
        return int(proc.returncode)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _failed(store: str, master: str, problems: list[str], **extra: Any) -> dict[str, Any]:
    return {"store": store, "engine": "spark", "master": master, "verified": False, "problems": problems,
            "steps": {}, **extra}


def _step(seconds: float, rows: int, nbytes: int) -> dict[str, Any]:
    return {"seconds": seconds, "rows": rows, "bytes": nbytes,
            "rows_per_sec": rows / seconds if seconds > 0 else None,
            "mb_per_sec": nbytes / 1e6 / seconds if seconds > 0 else None}


def _to_arrow(df: Any, columns: list[str]) -> pa.Table:
    batches = df._collect_as_arrow()
    if not batches:
        return pa.table({c: pa.array([], pa.string()) for c in columns})
    return pa.Table.from_batches(batches).select(columns)


def _reader(session: Any, access: Access, schema: str) -> Any:
    reader = session.read.format(access.format).options(**access.options, **access.read_options)
    if access.schema_on_read:
        reader = reader.schema(schema)
    return reader.load(access.path) if access.path else reader.load()


def _run(store: str, options: dict[str, Any], spec: WorkloadSpec, namespace: str, seed: int,
         master: str, result: dict[str, Any]) -> None:
    """Fill ``result`` step by step (a failure part-way keeps what was measured)."""
    with ExitStack() as stack:
        _steps(store, options, spec, namespace, seed, master, result, stack)


def _steps(store: str, options: dict[str, Any], spec: WorkloadSpec, namespace: str, seed: int,
           master: str, result: dict[str, Any], stack: ExitStack) -> None:
    from pyspark.sql import functions as F

    conn = connector(store)
    adapter_cls = load_adapter(store)
    typed = adapter_cls.Options.model_validate(options)
    fields = spec.field_names()
    access = conn.access(typed, namespace, fields)
    result["connector"] = {"name": conn.name, "packages": list(conn.packages), "version": conn.version,
                           "note": conn.note}
    problems: list[str] = result["problems"]
    steps: dict[str, Any] = result["steps"]

    with adapter_cls(typed) as control:  # the adapter owns the namespace: bucket, table, label, directory
        control.drop(namespace)
        control.prepare(namespace, fields)
        result["server"] = control.server_info().label()
    if conn.release is not None:  # this process's cached handle would lock the JVM out of the file
        stack.enter_context(conn.release(options))

    os.environ.update(access.env)
    t0 = time.perf_counter()
    session = get_session(master, app=f"storagebench batch {store}", packages=conn.packages, conf=access.conf)
    steps["session_start"] = {"seconds": time.perf_counter() - t0}
    result["spark_version"] = session.version

    data = expected_table(spec, seed)
    nbytes = table_bytes(data)
    result.update(rows=data.num_rows, bytes=nbytes)
    columns = ["key", *fields]
    stored_columns = [access.key_column if c == "key" else c for c in columns]
    schema = ", ".join(f"`{c}` string" for c in stored_columns)
    parallelism = session.sparkContext.defaultParallelism
    staging = tempfile.TemporaryDirectory(prefix="sbench-spark-stage-")
    if is_local(master):  # the JVM reads the rows from a local Parquet file: no Python pickling
        path = str(Path(staging.name) / "rows.parquet")
        pq.write_table(data.select(columns).rename_columns(stored_columns), path)
        source = session.read.schema(schema).parquet(path)
    else:  # executors elsewhere cannot see a local file: ship the rows with the job
        source = session.createDataFrame(list(zip(*(data.column(c).to_pylist() for c in columns), strict=True)),
                                         schema)
    frame = source.repartition(parallelism).cache()
    frame.count()  # materialised before the clock starts: the write step times the store, not the staging

    t0 = time.perf_counter()
    writer = frame.write.format(access.format).options(**access.options, **access.write_options)
    writer = writer.mode(access.write_mode)
    writer.save(access.path) if access.path else writer.save()
    steps["write"] = _step(time.perf_counter() - t0, data.num_rows, nbytes)
    frame.unpersist()
    staging.cleanup()

    def back(df: Any) -> pa.Table:
        table = _to_arrow(df.select(*stored_columns), stored_columns)
        return table.rename_columns(columns)

    t0 = time.perf_counter()
    stored = _reader(session, access, schema)
    got = back(stored)
    steps["read"] = _step(time.perf_counter() - t0, got.num_rows, table_bytes(got))
    # a DataFrame promises no order: both sides sorted by key, then compared row by row
    mismatches: list[str] = result.setdefault("mismatches", [])
    fields = spec.field_names()
    difference = table_difference(data.sort_by("key"), got.sort_by("key"), fields)
    if difference:
        mismatches.append(f"batch read: {difference}")

    values = Values(spec, seed)
    qf, sf = spec.queryfield, spec.querysumfield
    groups = [values.group_value(g) for g in range(min(spec.batchqueries, spec.querygroups))]
    filtered_rows = filtered_bytes = 0
    filter_seconds = aggregate_seconds = 0.0
    for equals in groups:
        expected = data.filter(pc.equal(data[qf], equals))
        t0 = time.perf_counter()
        subset = back(_reader(session, access, schema).filter(F.col(qf) == equals))
        filter_seconds += time.perf_counter() - t0
        filtered_rows += subset.num_rows
        filtered_bytes += table_bytes(subset)
        difference = table_difference(expected.sort_by("key"), subset.sort_by("key"), fields)
        if difference:
            mismatches.append(f"filtered read {qf}={equals}: {difference}")
        t0 = time.perf_counter()
        row = (_reader(session, access, schema).filter(F.col(qf) == equals)
               .agg(F.count(F.lit(1)).alias("n"), F.sum(F.col(sf).cast("long")).alias("total")).collect()[0])
        aggregate_seconds += time.perf_counter() - t0
        want_total = sum(int(v) for v in expected.column(sf).to_pylist())
        got_total = int(row["total"]) if row["total"] is not None else 0
        if (int(row["n"]), got_total) != (expected.num_rows, want_total):
            mismatches.append(f"aggregate {qf}={equals}: count {row['n']} and sum {row['total']}, "
                              f"expected {expected.num_rows} and {want_total}")
    steps["filtered_read"] = {**_step(filter_seconds, filtered_rows, filtered_bytes), "queries": len(groups)}
    steps["aggregate"] = {"seconds": aggregate_seconds, "queries": len(groups),
                          "queries_per_sec": len(groups) / aggregate_seconds if aggregate_seconds > 0 else None}
    result["verified"] = not problems and not mismatches
    result["summary"] = _summaries(result, conn.name)


def _summaries(result: dict[str, Any], name: str) -> dict[str, dict[str, Any]]:
    """The harness's batch summary shape (``storagebench.running.batch.batch_summary``) for the load and run phases."""
    steps, verified = result["steps"], result["verified"]
    write, read, flt = steps["write"], steps["read"], steps["filtered_read"]
    read_s = read["seconds"] + flt["seconds"] + steps["aggregate"]["seconds"]
    read_rows, read_bytes = read["rows"] + flt["rows"], read["bytes"] + flt["bytes"]
    return {
        "load": {"rows": write["rows"], "bytes": write["bytes"], "paths": {"batch_write": f"spark: {name}"},
                 "rows_per_sec": write["rows_per_sec"], "mb_per_sec": write["mb_per_sec"], "verified": verified},
        "run": {"rows": read_rows, "bytes": read_bytes,
                "paths": {op: f"spark: {name}" for op in ("batch_read", "batch_filter", "query")},
                "rows_per_sec": read_rows / read_s if read_s > 0 else None,
                "mb_per_sec": read_bytes / 1e6 / read_s if read_s > 0 else None, "verified": verified},
    }


def describe_error(exc: BaseException) -> str:
    """One line: for a Java exception behind py4j, the Java exception's own message (and its root cause)."""
    java = getattr(exc, "java_exception", None)
    if java is not None:
        try:
            text, cause = str(java.toString()), java.getCause()
            while cause is not None and cause.getCause() is not None:
                cause = cause.getCause()
            if cause is not None:
                text += f" (root cause: {cause.toString()})"
            return text.splitlines()[0]
        except Exception:  # the gateway is gone: fall back to the Python text
            pass
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {first}"


def _main(request: str, answer: str) -> int:
    payload = json.loads(Path(request).read_text())
    store, master = payload["store"], payload["master"]
    result = _failed(store, master, [])
    try:
        _run(store, payload["options"], WorkloadSpec.model_validate(payload["spec"]), payload["namespace"],
             payload["seed"], master, result)
    except Exception as exc:  # connector missing, server refused ...: reported with its message
        result["verified"] = False
        result["problems"].append(describe_error(exc))
        import traceback

        traceback.print_exc()
    Path(answer).write_text(json.dumps(result, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1], sys.argv[2]))
