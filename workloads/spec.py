"""Workload specification: YCSB CoreWorkload property names, validated.

A workload is a YAML file in this folder (``workloads/a.yaml`` ...) or a YCSB ``.properties`` file
(``storagebench run -P workloads/workloada -p recordcount=5000``).  Every property, from a file or ``-p``,
is honoured, or accepted with a one-line note that it does not apply here (:data:`YCSB_NOTED`; the notes
travel in ``WorkloadSpec.not_applied`` into the result files), or refused with what to do instead
(:data:`YCSB_REFUSED`).  Unknown properties are errors: nothing is silently dropped.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from storagebench.errors import UsageError

WORKLOAD_DIR = Path(__file__).parent

#: YCSB properties accepted although they change nothing here, each with the one line a run prints
YCSB_NOTED: dict[str, str] = {
    "workload": "storagebench implements CoreWorkload's semantics itself",
    "db": "stores are chosen with --stores",
    "exporter": "results are JSON result files and report.html",
    "exportfile": "results are JSON result files and report.html",
    "measurementtype": "latencies always go into HdrHistograms, kept whole in the result files",
    "measurement.interval": "latency is measured per operation; with a target, intended-start latency too",
    "measurement.trackjvm": "no JVM runs here",
    "measurement.histogram.verbose": "the full histograms are in the result files",
    "measurement.raw.output_file": "raw latencies are not written; the histograms keep 3 significant digits",
    "measurement.raw.no_summary": "raw latencies are not written; the histograms keep 3 significant digits",
    "hdrhistogram.percentiles": "result files report p50/p90/p95/p99/p99.9/p99.99 and keep the histograms",
    "hdrhistogram.fileoutput": "the encoded histograms are in the result files",
    "hdrhistogram.output.path": "the encoded histograms are in the result files",
    "histogram.buckets": "HdrHistograms need no buckets",
    "timeseries.granularity": "the throughput series is per second",
    "status": "progress is shown live on the console",
    "status.interval": "progress is shown live on the console",
    "label": "progress lines are labelled store / workload / phase",
    "table": "every run uses its own namespace, dropped at the end",
    "dataintegrity": "every read and scan is verified anyway",
    "readallfieldsbyname": "adapters return every field either way",
    "reportlatencyforeacherror": "latencies are kept per status for every operation",
    "latencytrackederrors": "latencies are kept per status for every operation",
    "core_workload_insertion_keep_going_on_error": "a failed load insert is counted and the load goes on "
                                                   "(a worker stops after 200 consecutive failures)",
    "maxscanrate": "a CloudBigtable2Client setting",
    "scanoptimelimit": "a CloudBigtable2Client setting",
    "discardscannedrecord": "a CloudBigtable2Client setting",
    "columnfamily": "a binding setting; store options go under options.<store> in the config file",
    "dotransactions": "storagebench always runs the load phase, then the run phase",
}
#: YCSB property prefixes accepted with a note
YCSB_NOTED_PREFIXES: dict[str, str] = {"htrace.": "tracing is not supported"}
#: YCSB properties refused: what to do instead
YCSB_REFUSED: dict[str, str] = {
    "threadcount": "client threads are set with --threads (and --processes)",
}
#: YCSB properties whose default is accepted (with a note) but any other value refused
YCSB_DEFAULT_ONLY: dict[str, tuple[Any, str]] = {
    "core_workload_insertion_retry_limit": (0, "failed inserts are not retried; each is counted as failed"),
    "core_workload_insertion_retry_interval": (3, "failed inserts are not retried; each is counted as failed"),
}
#: WorkloadSpec fields whose property name has a dot in YCSB
DOTTED = {"exponential.percentile": "exponential_percentile", "exponential.frac": "exponential_frac"}

#: counts beyond this cannot finish (10^11 operations at 10^6 ops/s is more than a day)
MAX_COUNT = 10**11
#: a week; maxexecutiontime and warmup beyond this are mistakes
MAX_SECONDS = 7 * 86_400.0
#: characters; the description is copied into every result file and the report
MAX_DESCRIPTION = 10_000

Proportion = Field(default=0.0, ge=0.0, le=1.0)


#: run-phase operations that never change what the store holds
READ_ONLY_OPERATIONS = frozenset({"read", "scan", "query", "graph", "shortest_path", "join", "find", "find_range"})


class WorkloadSpec(BaseModel):
    """One workload.  Field names are YCSB's property names (plus a few storagebench ones)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z0-9_]+$")
    description: str = Field(default="", max_length=MAX_DESCRIPTION)
    #: ycsb: per-operation load + run phases; batch: columnar write / read-back / filter / aggregate
    kind: Literal["ycsb", "batch"] = "ycsb"
    #: batch workloads: rows per write_batch call
    batchsize: int = Field(default=1000, ge=1)
    #: batch workloads: how many filter values the filtered read and the aggregate are run for
    batchqueries: int = Field(default=5, ge=0)
    recordcount: int = Field(default=1000, ge=0, le=MAX_COUNT)
    #: run-phase operations; 0 = until maxexecutiontime (as YCSB)
    operationcount: int = Field(default=1000, ge=0, le=MAX_COUNT)
    #: the load phase inserts key numbers [insertstart, insertstart + insertcount): split a load across
    #: clients as YCSB's workload_template describes (insertcount defaults to recordcount - insertstart)
    insertstart: int = Field(default=0, ge=0)
    insertcount: int | None = Field(default=None, ge=0)
    #: stop the run phase after this many seconds even if operationcount is not reached (0 = no limit)
    maxexecutiontime: float = Field(default=0.0, ge=0.0, le=MAX_SECONDS)
    #: seconds at the start of the run phase whose operations are executed but not measured
    warmup: float = Field(default=0.0, ge=0.0)
    #: target operations per second across all workers, load and run phase (0 = as fast as possible)
    target: float = Field(default=0.0, ge=0.0)
    fieldcount: int = Field(default=10, ge=1, le=1000)
    fieldlength: int = Field(default=100, ge=1, le=1_000_000)
    #: YCSB's field length distribution: constant (fieldlength), uniform or zipfian over
    #: [minfieldlength, fieldlength], or histogram (the file fieldlengthhistogram names)
    fieldlengthdistribution: Literal["constant", "uniform", "zipfian", "histogram"] = "constant"
    minfieldlength: int = Field(default=1, ge=1)
    fieldlengthhistogram: str = "hist.txt"
    fieldnameprefix: str = Field(default="field", pattern=r"^[a-z][a-z0-9_]*$")
    keyprefix: str = Field(default="user", pattern=r"^[A-Za-z0-9_]*$")
    zeropadding: int = Field(default=1, ge=1, le=40)
    readallfields: bool = True
    writeallfields: bool = False
    readproportion: float = Field(default=0.95, ge=0.0, le=1.0)
    updateproportion: float = Field(default=0.05, ge=0.0, le=1.0)
    insertproportion: float = Proportion
    scanproportion: float = Proportion
    readmodifywriteproportion: float = Proportion
    deleteproportion: float = Proportion
    queryproportion: float = Proportion
    #: k-hop neighbour query over generated links (each record links to graphdegree loaded records)
    graphproportion: float = Proportion
    graphhops: int = Field(default=2, ge=1, le=5)
    graphdegree: int = Field(default=3, ge=1, le=50)
    #: the field holding a record's links (default: the last field)
    graphfield: str | None = None
    #: which records links point to: uniform over the loaded records (every in-degree near graphdegree), or
    #: powerlaw: a few hubs many link to and a long tail (in-degree tail exponent about 2.5, as in web graphs)
    graphtargets: Literal["uniform", "powerlaw"] = "uniform"
    #: shortest chain of links between two keys (the second one a loaded record drawn uniformly), at most
    #: pathmaxhops links long (a longer one is answered as no path)
    shortestpathproportion: float = Proportion
    pathmaxhops: int = Field(default=6, ge=1, le=10)
    #: join of two record types loaded together: 1 in (1 + joinorders) loaded records is a customer (the first
    #: key numbers) with a region in joingroupfield (joingroups regions); the others are orders that name a
    #: customer's key in joinreffield and hold an amount (0..999) in joinsumfield.  A join asks for joinwindow
    #: consecutive regions: per region, the orders of its customers counted and their amounts summed
    joinproportion: float = Proportion
    joingroups: int = Field(default=20, ge=1, le=10_000)
    joinwindow: int = Field(default=3, ge=1)
    joinorders: int = Field(default=4, ge=1, le=1000)
    joingroupfield: str = "field0"
    joinreffield: str = "field1"
    joinsumfield: str = "field2"
    #: document workload: each record holds an order as a nested document in docfield (default: the last
    #: field); find: the records whose document's customer (one of doccustomers) equals a value, in key
    #: order; find_range: the records whose document's ``placed`` number lies in [lo, hi), a window drawn
    #: to hold docrangerecords of the loaded records on average, in key order; update_nested: set one
    #: record's document status (workloads/documents.py)
    findproportion: float = Proportion
    findrangeproportion: float = Proportion
    updatenestedproportion: float = Proportion
    docfield: str | None = None
    doccustomers: int = Field(default=100, ge=1, le=100_000)
    docrangerecords: int = Field(default=10, ge=1)
    requestdistribution: Literal["uniform", "zipfian", "latest", "hotspot", "exponential", "sequential"] = "uniform"
    #: exponential: this percentage of operations ask for the newest exponential_frac of recordcount
    exponential_percentile: float = Field(default=95.0, gt=0.0, lt=100.0)
    exponential_frac: float = Field(default=0.8571428571, gt=0.0)
    zipfianconstant: float = Field(default=0.99, gt=0.0, lt=1.0)
    hotspotdatafraction: float = Field(default=0.2, ge=0.0, le=1.0)
    hotspotopnfraction: float = Field(default=0.8, ge=0.0, le=1.0)
    minscanlength: int = Field(default=1, ge=1)
    maxscanlength: int = Field(default=1000, ge=1)
    scanlengthdistribution: Literal["uniform", "zipfian"] = "uniform"
    insertorder: Literal["hashed", "ordered"] = "hashed"
    #: query workload: field filtered on, how many distinct values it has, field summed
    queryfield: str = "field0"
    querygroups: int = Field(default=100, ge=1)
    querysumfield: str = "field1"
    queryaggregate: Literal["count", "sum"] = "sum"
    #: rows per insert call in the load phase (1 = per-operation inserts, as YCSB; >1 = batch interface)
    loadbatchsize: int = Field(default=1, ge=1)
    #: YCSB properties given that do not apply here, and why (filled in when the workload is read)
    not_applied: dict[str, str] = Field(default_factory=dict)
    #: ``run --dataset NAME --host I/N``: this client host's index I and the hosts' count N on one shared
    #: data set (set by storagebench, not a property; see :mod:`storagebench.running.datasets`)
    hostindex: int = Field(default=0, ge=0)
    hostcount: int = Field(default=1, ge=1)

    @model_validator(mode="before")
    @classmethod
    def _plain_numbers(cls, data: Any) -> Any:
        """``recordcount: true`` is not 1, and ``inf``/``nan`` are not durations or rates."""
        if isinstance(data, dict):
            for key, value in data.items():
                field = cls.model_fields.get(key) if isinstance(key, str) else None
                if field is None or field.annotation not in (int, float, "int", "float"):
                    continue
                if isinstance(value, bool):
                    raise ValueError(f"{key} must be a number, not {str(value).lower()}")
                if isinstance(value, float) and not math.isfinite(value):
                    raise ValueError(f"{key} must be a finite number, not {value}")
        return data

    @model_validator(mode="after")
    def _check(self) -> WorkloadSpec:
        if sum(self.proportions().values()) > 1 + 1e-9:
            total = sum(self.proportions().values())
            raise ValueError(f"operation proportions sum to {total:g}; they are fractions of the operations "
                             f"and must not sum to more than 1")
        if self.minscanlength > self.maxscanlength:
            raise ValueError("minscanlength must not exceed maxscanlength")
        if self.fieldlengthdistribution in ("uniform", "zipfian") and self.minfieldlength > self.fieldlength:
            raise ValueError("minfieldlength must not exceed fieldlength")
        if self.fieldlengthdistribution == "histogram":
            from storagebench.workloads.generators import read_length_histogram

            read_length_histogram(self.fieldlengthhistogram)
        from storagebench.workloads.generators import FieldLengths
        from storagebench.workloads.values import too_short

        refused = too_short(FieldLengths(self).lo)
        if refused:
            raise ValueError(refused)
        if self.insertstart + self.loaded_count() > self.recordcount:
            raise ValueError("insertstart + insertcount must not exceed recordcount (as YCSB requires)")
        if self.hostindex >= self.hostcount:
            raise ValueError(f"hostindex {self.hostindex} must be below hostcount {self.hostcount}")
        if self.kind == "ycsb" and self.operationcount == 0 and self.maxexecutiontime <= 0:
            raise ValueError("operationcount=0 runs until maxexecutiontime: set maxexecutiontime (seconds)")
        if (self.operationcount or self.maxexecutiontime) and sum(self.proportions().values()) <= 0:
            raise ValueError("at least one operation proportion must be > 0")
        fields = self.field_names()
        if self.queryproportion > 0 or self.kind == "batch":
            for name in (self.queryfield, self.querysumfield):
                if name not in fields:
                    raise ValueError(f"query field {name!r} is not one of {fields[0]}..{fields[-1]}")
            if self.queryfield == self.querysumfield:
                raise ValueError("queryfield and querysumfield must differ")
        if self.document_field() is not None:
            self._check_documents(fields)
        if self.linked_field() is not None:
            if self.links_field() not in fields:
                raise ValueError(f"graphfield {self.links_field()!r} is not one of {fields[0]}..{fields[-1]}")
            if self.queryproportion > 0 and self.links_field() in (self.queryfield, self.querysumfield):
                raise ValueError("graphfield must differ from queryfield and querysumfield")
        if self.joinproportion > 0:
            joined = [self.joingroupfield, self.joinreffield, self.joinsumfield]
            for name in joined:
                if name not in fields:
                    raise ValueError(f"join field {name!r} is not one of {fields[0]}..{fields[-1]}")
            if len(set(joined)) < 3:
                raise ValueError("joingroupfield, joinreffield and joinsumfield must differ")
            others = {self.queryfield, self.querysumfield} if self.queryproportion > 0 else set()
            if self.linked_field() is not None:
                others.add(self.links_field())
            if others & set(joined):
                raise ValueError("the join fields must differ from the query and graph fields")
            if self.joinwindow > self.joingroups:
                raise ValueError("joinwindow must not exceed joingroups")
            if self.insertproportion > 0 or self.deleteproportion > 0:
                raise ValueError("a join workload neither inserts nor deletes in its run phase (the expected "
                                 "join is the loaded one): set insertproportion and deleteproportion to 0")
        return self

    def proportions(self) -> dict[str, float]:
        return {
            "read": self.readproportion, "update": self.updateproportion, "insert": self.insertproportion,
            "find": self.findproportion, "find_range": self.findrangeproportion,
            "update_nested": self.updatenestedproportion,
            "scan": self.scanproportion, "read_modify_write": self.readmodifywriteproportion,
            "delete": self.deleteproportion, "query": self.queryproportion, "graph": self.graphproportion,
            "shortest_path": self.shortestpathproportion, "join": self.joinproportion,
        }

    def writes(self) -> bool:
        """Whether the run phase may change what the store holds (any operation outside
        :data:`READ_ONLY_OPERATIONS`; a new operation counts as a write until it is listed there)."""
        if self.kind == "batch":
            return True
        return any(p > 0 and op not in READ_ONLY_OPERATIONS for op, p in self.proportions().items())

    def operations(self) -> list[str]:
        """Operations this workload uses in its run phase (what an adapter must support)."""
        if self.kind == "batch":
            return ["batch_filter", "batch_read", "batch_write", "query"]
        ops = {op for op, p in self.proportions().items() if p > 0}
        if "read_modify_write" in ops:
            ops |= {"read", "update"}
        ops.discard("read_modify_write")
        return sorted(ops | {"insert"})

    def loaded_count(self) -> int:
        """How many records the load phase inserts (YCSB's insertcount)."""
        return self.recordcount - self.insertstart if self.insertcount is None else self.insertcount

    def links_field(self) -> str:
        return self.graphfield or self.field_names()[-1]

    def linked_field(self) -> str | None:
        """The field holding the records' links when the workload follows links (None otherwise)."""
        return self.links_field() if self.graphproportion > 0 or self.shortestpathproportion > 0 else None

    def join_fields(self) -> list[str]:
        """The fields the join computes on (region, customer reference, amount), when the workload joins."""
        return [self.joingroupfield, self.joinreffield, self.joinsumfield] if self.joinproportion > 0 else []

    def indexed_fields(self) -> list[str]:
        """The indexes the workload's schema declares: the join key (orders' reference to a customer)."""
        return [self.joinreffield] if self.joinproportion > 0 else []

    def join_customers(self) -> int:
        """How many loaded records are customers (the first key numbers of the load); the rest are orders."""
        return max(1, self.loaded_count() // (1 + self.joinorders))

    def document_field(self) -> str | None:
        """The field holding each record's document when the workload finds or updates documents."""
        if self.findproportion > 0 or self.findrangeproportion > 0 or self.updatenestedproportion > 0:
            return self.docfield or self.field_names()[-1]
        return None

    def _check_documents(self, fields: list[str]) -> None:
        doc = self.document_field()
        if doc not in fields:
            raise ValueError(f"docfield {doc!r} is not one of {fields[0]}..{fields[-1]}")
        if self.insertproportion > 0 or self.deleteproportion > 0:
            raise ValueError("find, find_range and update_nested are verified against the loaded records: a document "
                             "workload cannot also insert or delete (insertproportion and deleteproportion must be 0)")
        others = ([self.queryfield, self.querysumfield] if self.queryproportion > 0 else []) + (
            [self.links_field()] if self.graphproportion > 0 or self.shortestpathproportion > 0 else [])
        if doc in others:
            raise ValueError("docfield must differ from queryfield, querysumfield and graphfield")

    def field_names(self) -> list[str]:
        return [f"{self.fieldnameprefix}{i}" for i in range(self.fieldcount)]


def _coerce(value: str) -> Any:
    lowered = value.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    for cast in (int, float):
        try:
            return cast(value.strip())
        except ValueError:
            pass
    return value.strip()


def parse_properties(text: str) -> dict[str, Any]:
    """Java-style ``key=value`` lines (``#``/``!`` comments, ``:`` separators) as YCSB reads them."""
    props: dict[str, Any] = {}
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line[0] in "#!":
            continue
        sep = min((i for i in (line.find("="), line.find(":")) if i >= 0), default=-1)
        if sep <= 0:
            raise UsageError(f"line {lineno}: expected key=value, got {raw!r}")
        props[line[:sep].strip()] = _coerce(line[sep + 1:])
    return props


def parse_overrides(pairs: list[str]) -> dict[str, Any]:
    """``-p key=value`` arguments."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"-p expects key=value, got {pair!r}")
        out[key.strip()] = _coerce(value)
    return out


def apply_ycsb_names(data: dict[str, Any], origin: str) -> dict[str, Any]:
    """YCSB property names to WorkloadSpec fields: noted ones set aside (with why), refused ones an error.

    The same for every source: a ``.properties`` file, a YAML workload, ``-p`` and the config file.
    """
    out: dict[str, Any] = {}
    notes: dict[str, str] = {}
    for key, value in data.items():
        if not isinstance(key, str):  # YAML `? ` or `1: x`: a key that is no name
            raise UsageError(f"invalid workload {origin}: property names are text, got {key!r}")
        if key in ("not_applied", "hostindex", "hostcount"):
            raise UsageError(f"invalid workload {origin}: {key} is set by storagebench"
                             f"{' (run --dataset NAME --host I/N)' if key != 'not_applied' else ''}, not a property")
        if key in YCSB_REFUSED:
            raise UsageError(f"invalid workload {origin}: {key} is not a workload property here: "
                             f"{YCSB_REFUSED[key]}")
        if key in YCSB_DEFAULT_ONLY:
            default, why = YCSB_DEFAULT_ONLY[key]
            if value != default:
                raise UsageError(f"invalid workload {origin}: {key}={value} is not supported: {why}")
            notes[key] = why
            continue
        noted = YCSB_NOTED.get(key) or next(
            (why for prefix, why in YCSB_NOTED_PREFIXES.items() if key.startswith(prefix)), None)
        if noted:
            notes[key] = noted
            continue
        out[DOTTED.get(key, key)] = value
    if notes:
        out["not_applied"] = notes
    return out


def build(data: dict[str, Any], origin: str) -> WorkloadSpec:
    data = apply_ycsb_names(data, origin)
    try:
        return WorkloadSpec.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'workload'}: " + (_unknown(err["loc"])
                                                                      if err["type"] == "extra_forbidden"
                                                                      else err["msg"]) for err in exc.errors())
        raise UsageError(f"invalid workload {origin}: {problems}") from None


def _unknown(loc: tuple[Any, ...]) -> str:
    name = str(loc[0]) if loc else ""
    if "." in name:  # mongodb.url, jdbc.driver, hbase.zookeeper...: a YCSB binding's setting
        return ("unknown property (a YCSB binding setting? store options go under options.<store> in the "
                "config file or STORAGEBENCH_<STORE>_<OPTION>)")
    return "unknown property (neither YCSB's CoreWorkload/Client nor storagebench's)"


def load_file(path: Path, overrides: dict[str, Any] | None = None) -> WorkloadSpec:
    """Load a YAML workload or a YCSB .properties file (anything not ending in .yaml/.yml)."""
    from storagebench.inputs import load_yaml, read_text

    text = read_text(path, "workload file")
    if path.suffix in (".yaml", ".yml"):
        data = load_yaml(text, f"workload {path}")
        if not isinstance(data, dict):
            raise UsageError(f"workload {path} must be a mapping of properties")
        data.setdefault("name", path.stem)
    else:
        try:
            data = parse_properties(text)
        except UsageError as exc:
            raise UsageError(f"workload {path}: {exc}") from None
        data.setdefault("name", _ycsb_name(path.stem))
    data.update(overrides or {})
    return build(data, str(path))


def _ycsb_name(stem: str) -> str:
    name = stem.lower().replace("-", "_").replace(".", "_")
    return name.removeprefix("workload") or name


def builtin_names() -> list[str]:
    return sorted(p.stem for p in WORKLOAD_DIR.glob("*.yaml"))


def resolve(name_or_path: str, overrides: dict[str, Any] | None = None) -> WorkloadSpec:
    """A built-in workload by name (``a``, ``query`` ...) or a path to a workload file."""
    builtin = WORKLOAD_DIR / f"{name_or_path}.yaml"
    if builtin.exists():
        return load_file(builtin, overrides)
    path = Path(name_or_path)
    if path.exists():
        return load_file(path, overrides)
    raise UsageError(f"unknown workload {name_or_path!r}: not a built-in ({', '.join(builtin_names())}) "
                     f"and no such file")
