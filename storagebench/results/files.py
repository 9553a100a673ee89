"""Result files: one self-describing JSON per (run, store, workload, phase), written atomically.

Fields with YCSB meanings:

* ``totals.operations`` / ``totals.ops_per_sec``: YCSB's OVERALL: each operation the workload issued,
  once.  A read-modify-write is one operation, although its read and update also appear under
  ``operations.read`` / ``operations.update`` (as in YCSB's [READ] / [UPDATE] lines); those entries then
  carry ``in_read_modify_write``, how many of their count belong to read-modify-writes.

Fields added for repeated runs and their statistics (additive; absent in older files):

* ``repeat``: ``{"index": k, "of": N, "store_order": [...], "order_seed": [seed, block]}``; with N > 1 the file is
  ``<store>__<workload>__<phase>__r<k>.json``; the order is a seeded permutation per block of
  len(stores) repeats, rotated within the block (each store at each position once per block).
  ``config.repeat`` / ``config.profile`` echo the settings.
* ``profile``: the :mod:`storagebench.profiles` entry used (or None).
* ``noise``: ``fingerprint`` of the machine plus the noise probe taken at the start of the run
  (:mod:`storagebench.measuring.noise`: ``cpu_loops_per_sec``, ``memory_copy_gb_per_sec``, ``fsync_p50_us``, ...;
  ``fsync_skipped`` instead of the fsync figures when the results disk had too little free space for them).
* ``steady_state`` (run phase): ``reached``, ``start_s`` (second of the series where it began), ``method``
  (MSER-1/MSER-5), ``ops_per_sec`` over the steady part, ``excluded_before_start`` (the figures that leave
  the warm-up out: throughput) and ``percentiles_include_warmup`` (true: histograms are per phase).
* ``footprint`` (load phase): ``{"bytes", "records", "bytes_per_record"}`` from the engine itself after the
  load (``bytes`` None when the adapter cannot tell).
* ``sweep-<store>-<workload>-<ladder>.json`` (``kind: storagebench.sweep``, written by ``storagebench sweep``;
  :mod:`storagebench.running.sweep`): ``ladder`` (rate | clients | records), ``steps`` (each: ``target``,
  ``threads``, ``ops_per_sec``, ``failed``, ``service`` and ``intended`` latency summaries in µs,
  ``sustainable``, ``too_short`` (rate steps: fewer operations than the objective's percentile needs,
  never sustainable), ``server_cost`` (as a run phase's: the engine's CPU per operation, or why it was not
  observed); records steps add ``records`` and ``load`` with ``footprint``), and for the rate ladder
  ``objective``, ``capacity_ops_per_sec``, ``max_sustainable_ops_per_sec``, ``max_sustainable_target``.
* ``summary.json`` beside the result files (``kind: storagebench.summary``):
  :func:`storagebench.analysis.stats.summarise`
  cells (median, lo, hi, n, coverage, values, tied_with) per store, workload, phase and metric.

Fields of verification and run safety (additive):

* ``status``: ``ok`` | ``invalid`` (an answer failed a check: the store lost, corrupted or invented data;
  the figures are not those of a working store) | ``failed`` | ``aborted`` | ``interrupted`` | ``skipped``.
* ``verification``: ``{"failures": n, "first_failures": [first messages, in order]}``; ``first_error``:
  the first of them (None when every check passed).
* ``totals.succeeded`` (OK plus NOT_FOUND that no check refused), ``totals.ok``, ``totals.not_found``;
  ``totals.ops_per_sec`` counts successful operations only.  Per operation, ``latency`` summarises the OK
  ones; ``failed_latency`` has one summary per other status (NOT_FOUND, ERROR, UNAVAILABLE, UNEXPECTED =
  failed check), as YCSB's ``<OP>-FAILED``; their histograms are ``histograms["<op>|<status>"]``.
* ``namespace``: the run's own namespace (``sbench_<workload>_<random token>``, never derived from the id).
* ``capabilities``: as the connected instance declared them (e.g. MongoDB's ``query`` is native on a
  real mongod, emulated on FerretDB).
* ``operation_support``: per operation the phase asked the store for (as the workload names them:
  :func:`storagebench.workloads.models.phase_operations`), ``native``, ``emulated`` or ``unsupported``
  (the phase was skipped), from those capabilities; empty for Spark's batch paths (the connector answers).

Fields added for the client model (additive):

* ``config.client_layout``: ``{"clients", "processes", "threads_per_process": [...], "engine",
  "clients_share"}``, where the clients ran (``--clients N`` spreads them one per process, see
  :func:`storagebench.running.runner.client_layout`); ``clients_share`` is ``threads`` or ``greenlets`` (the
  clients of a process share one thread, :mod:`storagebench.running.coop`; absent in older files);
  ``config.threads`` / ``config.processes`` are the largest threads per process and the process count.

Fields added for Spark and several client hosts (additive):

* ``workers``: one entry per client worker: ``worker``, ``host``, ``start_epoch`` (wall clock when its
  measurement began), ``elapsed_s``, ``operations``, ``target_ops_per_sec`` (its share of ``target``),
  ``latency`` and ``intended_latency`` (``p50_us``, ``p99_us``, ``max_us`` of its OK operations),
  ``cpu_s`` and ``cpu_us_per_op`` (the client thread's own CPU, user + system, over the phase: what the
  harness, the driver and their system calls cost per operation); on Spark also ``partition`` and
  ``attempt``.  ``client`` is the client library as the workers ran it (their drivers, joined by " | "
  when they differ).  ``timeseries.start_epoch``: the earliest worker start.
* ``spark`` (``--engine spark``): ``master``, ``spark_version``, ``slots`` (tasks the cluster runs at once),
  ``coordinated_start`` (barrier stage: all workers started together), ``target_per_worker``,
  ``insert_counter`` (run phases choosing keys among their inserts: ``scope``, ``refresh_s``, ``inserted``,
  ``picked_inserts`` and ``picked_others``: key choices that fell on run-phase inserts, and on another
  task's; ``exchanges``/``failed_exchanges`` with the driver; else null), and
  ``shipped``: ``code`` (the zip of storagebench), ``dependencies`` (name -> version copied from the
  driver) and ``executors`` (per distinct executor environment: ``host``, ``python``, ``executable``,
  ``platform``, ``missing``, ``storagebench``: shipped | installed).  ``config.spark_conf`` echoes
  ``--spark-conf``.
* ``merge`` (files written by ``storagebench merge``, :mod:`storagebench.results.merge`): ``hosts`` (per input:
  ``run_id``, ``hostname``, ``start_epoch``, ``operations``, ``failed``, ``ops_per_sec``, ``p50_us``,
  ``p99_us``, ``share`` = its insertstart/insertcount/operationcount), ``window`` (``start_s``, ``end_s``,
  ``overlap_s``: the whole seconds every host was measuring, on the merged timeline) and
  ``ops_per_sec_sum_of_hosts``.  Histograms and counts are exact sums; ``totals.ops_per_sec`` is the
  successful operations of the common window per second.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from storagebench.errors import UsageError
from storagebench.inputs import InputRefused, read_bounded

SCHEMA_VERSION = 1


class WriteError(OSError):
    """A file could not be written; the message names it (and the free space, when the disk is full)."""

    def __str__(self) -> str:
        return str(self.strerror)


def atomic_write_text(path: Path, text: str, mode: int | None = None) -> None:
    """Write via a temp file in the same directory, fsync, rename: readers see old or new, never half.
    ``mode`` (e.g. 0o600 for files holding secrets) replaces the default 0666 & ~umask.  Raises
    :class:`WriteError` naming the file."""
    atomic_write_bytes(path, text.encode(), mode)


def atomic_write_bytes(path: Path, data: bytes, mode: int | None = None) -> None:
    """:func:`atomic_write_text` for bytes."""
    try:
        _replace_atomically(path, data, mode)
    except OSError as exc:
        why = exc.strerror or str(exc)
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            where, free = free_space(path.parent)
            why += f" ({_mib(free)} free on {where})"
        raise WriteError(exc.errno, f"cannot write {path}: {why}", str(path)) from exc


def free_space(folder: Path) -> tuple[Path, int]:
    """The free bytes of the file system ``folder`` is (or will be) on, and the existing folder asked."""
    where = folder
    while not where.exists() and where != where.parent:
        where = where.parent
    try:
        return where, shutil.disk_usage(where).free
    except OSError:
        return where, 0


def _mib(n: int) -> str:
    return f"{n / 2**20:,.1f} MiB"


def check_room(folder: Path, need: int, what: str, instead: str) -> None:
    """Refuse (UsageError, before anything is written) when ``folder``'s file system has less than
    ``need`` bytes free for ``what``; ``instead`` says what the user can do."""
    where, free = free_space(folder)
    if free < need:
        raise UsageError(f"{where} has {_mib(free)} free; {what} needs up to {_mib(need)}: {instead}")


def _replace_atomically(path: Path, data: bytes, mode: int | None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        # as open() would create it (0644 under umask 022), not mkstemp's 0600, unless told otherwise
        os.fchmod(fd, 0o666 & ~_umask() if mode is None else mode)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    """The process's umask, read without changing it where Linux tells (os.umask sets it process-wide)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Raises :class:`WriteError` naming the file (a full disk, a vanished folder)."""
    atomic_write_text(path, json.dumps(data, indent=1, sort_keys=False, default=str) + "\n")


def git_commit() -> dict[str, Any]:
    """The commit of the checkout the harness runs from (and whether it had local changes)."""
    import subprocess

    root = Path(__file__).resolve().parent.parent
    try:
        sha = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=5, check=True).stdout.strip()
        dirty = bool(subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                                    capture_output=True, text=True, timeout=5, check=True).stdout.strip())
        return {"commit": sha, "dirty": dirty}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}


def machine_info() -> dict[str, Any]:
    import platform
    import socket

    info: dict[str, Any] = {
        "hostname": socket.gethostname(), "platform": platform.platform(), "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
    }
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                info["memory_gib"] = round(int(line.split()[1]) / 2**20, 1)
                break
    except OSError:
        pass
    return info


def result_path(run_dir: Path, store: str, workload: str, phase: str, repeat: int | None = None) -> Path:
    """``<store>__<workload>__<phase>.json``; with ``--repeat N`` (N > 1) one file per repeat, ``__r<k>``."""
    suffix = f"__r{repeat}" if repeat is not None else ""
    return run_dir / f"{store}__{workload}__{phase}{suffix}.json"


#: room one result file may take: 6-20 KB, plus about 10 bytes per second of the phase's series
RESULT_FILE_BYTES = 64 * 2**10
#: fields every result file must have (as strings) to be shown at all
REQUIRED_FIELDS = ("store", "workload", "phase", "status")
#: result files larger than this are not read (a report must not swallow a runaway file)
MAX_RESULT_BYTES = 64 * 2**20


def check_result(data: Any) -> str | None:
    """Why a parsed file is not a result this version can show (None: it is)."""
    if not isinstance(data, dict) or data.get("kind") != "storagebench.result":
        return "not a storagebench result file"
    version = data.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool) or version > SCHEMA_VERSION or version < 1:
        return f"unknown schema_version {version!r} (this storagebench reads up to {SCHEMA_VERSION})"
    missing = [f for f in REQUIRED_FIELDS if not isinstance(data.get(f), str) or not data.get(f)]
    if missing:
        return f"missing or invalid field{'s' if len(missing) > 1 else ''}: {', '.join(missing)}"
    from pydantic import ValidationError

    from storagebench.results.model import ResultFile

    try:
        ResultFile.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        return f"does not match the result schema ({exc.error_count()} problem(s)): {where}: {first['msg']}"
    return None


def read_json(path: Path, limit: int) -> Any:
    """A JSON file of a run folder: :class:`InputRefused` when it is not a regular file, larger than
    ``limit`` or unreadable; ValueError / RecursionError when it is not JSON."""
    return json.loads(read_bounded(path, limit))


def scan_results(run_dir: Path) -> tuple[list[dict[str, Any]], list[tuple[Path, str]]]:
    """The valid result files of a run folder, and every other result-named file with why it was left out
    (unreadable, corrupt or truncated JSON, unknown schema, missing fields)."""
    results: list[dict[str, Any]] = []
    bad: list[tuple[Path, str]] = []
    for path in sorted(run_dir.glob("*__*__*.json")):
        try:
            data = read_json(path, MAX_RESULT_BYTES)
        except InputRefused as exc:
            bad.append((path, f"unreadable: {exc}"))
            continue
        except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
            bad.append((path, f"corrupt or truncated JSON: {str(exc).splitlines()[0][:120]}"))
            continue
        problem = check_result(data)
        if problem:
            bad.append((path, problem))
        else:
            results.append(data)
    return results, bad


def load_results(run_dir: Path) -> list[dict[str, Any]]:
    """Every valid result file of a run, in a stable order (:func:`scan_results` says what was left out)."""
    return scan_results(run_dir)[0]
