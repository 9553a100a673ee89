"""YCSB semantics, exactly: the same workload file gives the figures YCSB's CoreWorkload would.

The reference generators below are small ports of YCSB's Java classes (site.ycsb.generator.*), written
from their published algorithms; our key choice is compared with them within sampling noise (fixed
seeds, tolerant thresholds: a test that fails means a real difference, never bad luck).
"""

from __future__ import annotations

import random
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
from storagebench.adapters.base import Adapter, Capabilities, Query, QueryResult, Record, ServerInfo
from storagebench.workloads.generators import (
    AcknowledgedCounter,
    FieldLengths,
    KeyChooser,
    KeyNamer,
    OperationStream,
    Zipfian,
)
from storagebench.workloads.spec import (
    DOTTED,
    YCSB_NOTED,
    WorkloadSpec,
    load_file,
    parse_overrides,
    parse_properties,
    resolve,
)
from storagebench.workloads.values import Values

from storagebench.cli import main
from storagebench.errors import NotFound
from storagebench.results.files import load_results
from storagebench.running import runner
from storagebench.running.phase import run_phase
from storagebench.running.runner import PhaseOutcome, PhasePlan

pytestmark = pytest.mark.usefixtures("isolated_home")


def _run(tmp_path: Path, run_id: str, *args: str) -> dict[str, dict]:
    assert main(["run", "--results-dir", str(tmp_path / "results"), "--run-id", run_id, "--no-report",
                 "--stores", "sqlite", *args]) == 0
    return {r["phase"]: r for r in load_results(tmp_path / "results" / run_id)}


def test_f_counts_a_read_modify_write_once(tmp_path: Path) -> None:
    """YCSB's OVERALL: 1,000 operations of F are 1,000, whatever each RMW does inside."""
    run = _run(tmp_path, "f", "--workloads", "f", "-p", "recordcount=200", "-p", "operationcount=1000")["run"]
    assert run["status"] == "ok"
    assert run["totals"]["operations"] == 1000
    assert sum(run["timeseries"]["ops"]) == 1000
    ops = run["operations"]
    rmw = ops["read_modify_write"]["latency"]["count"]
    assert 400 < rmw < 600
    # shown as YCSB shows them: [READ] includes the RMWs' reads, [UPDATE] their updates
    assert ops["read"]["latency"]["count"] == 1000
    assert ops["read"]["in_read_modify_write"] == rmw
    assert ops["update"]["latency"]["count"] == ops["update"]["in_read_modify_write"] == rmw


# --- ports of YCSB's generators (site.ycsb.generator), scalar, with java.util.Random-like uniform draws ---

MASK64 = (1 << 64) - 1


def java_fnvhash64(value: int) -> int:
    """Utils.fnvhash64: FNV over the 8 low octets, as a signed long, then Math.abs."""
    h = 0xCBF29CE484222325
    for _ in range(8):
        h = ((h ^ (value & 0xFF)) * 1099511628211) & MASK64
        value >>= 8
    signed = h - (1 << 64) if h >= 1 << 63 else h
    return abs(signed)


class PortZipfian:
    """ZipfianGenerator(min, max, theta[, zetan]) with nextLong(itemcount) and its incremental zeta."""

    def __init__(self, lo: int, hi: int, rnd: random.Random, theta: float = 0.99,
                 zetan: float | None = None) -> None:
        self.items, self.base, self.theta, self.rnd = hi - lo + 1, lo, theta, rnd
        self.zeta2 = sum(1 / (i + 1) ** theta for i in range(2))
        self.alpha = 1 / (1 - theta)
        self.zetan = zetan if zetan is not None else sum(1 / (i + 1) ** theta for i in range(self.items))
        self.countforzeta = self.items
        self.eta = (1 - (2.0 / self.items) ** (1 - theta)) / (1 - self.zeta2 / self.zetan)

    def next_long(self, itemcount: int) -> int:
        if itemcount > self.countforzeta:
            self.zetan += sum(1 / (i + 1) ** self.theta for i in range(self.countforzeta, itemcount))
            self.countforzeta = itemcount
            self.eta = (1 - (2.0 / self.items) ** (1 - self.theta)) / (1 - self.zeta2 / self.zetan)
        u = self.rnd.random()
        uz = u * self.zetan
        if uz < 1.0:
            return self.base
        if uz < 1.0 + 0.5 ** self.theta:
            return self.base + 1
        return self.base + int(itemcount * (self.eta * u - self.eta + 1) ** self.alpha)

    def next(self) -> int:
        return self.next_long(self.items)


class PortScrambledZipfian:
    """ScrambledZipfianGenerator(min, max): a zipfian over 10^10 items (precomputed zeta), FNV-hashed."""

    def __init__(self, lo: int, hi: int, rnd: random.Random) -> None:
        self.lo, self.itemcount = lo, hi - lo + 1
        self.gen = PortZipfian(0, 10_000_000_000, rnd, 0.99, 26.46902820178302)

    def next(self) -> int:
        return self.lo + java_fnvhash64(self.gen.next()) % self.itemcount


class PortAcknowledgedCounter:
    """AcknowledgedCounterGenerator: lastValue() is the highest contiguously acknowledged value."""

    def __init__(self, start: int) -> None:
        self.counter, self.limit = start, start - 1
        self.acked: set[int] = set()

    def next(self) -> int:
        self.counter += 1
        return self.counter - 1

    def acknowledge(self, value: int) -> None:
        self.acked.add(value)
        while self.limit + 1 in self.acked:
            self.acked.remove(self.limit + 1)
            self.limit += 1

    def last(self) -> int:
        return self.limit


class PortSkewedLatest:
    """SkewedLatestGenerator(basis): max = basis.lastValue(); max - zipfian.nextLong(max)."""

    def __init__(self, basis: PortAcknowledgedCounter, rnd: random.Random) -> None:
        self.basis = basis
        self.zipf = PortZipfian(0, basis.last() - 1, rnd)

    def next(self) -> int:
        top = self.basis.last()
        return top - self.zipf.next_long(top)


class PortHotspot:
    """HotspotIntegerGenerator(lb, ub, hotsetFraction, hotOpnFraction)."""

    def __init__(self, lb: int, ub: int, hot_set: float, hot_opn: float, rnd: random.Random) -> None:
        self.lb, self.rnd, self.hot_opn = lb, rnd, hot_opn
        self.hot = int((ub - lb + 1) * hot_set)
        self.cold = (ub - lb + 1) - self.hot

    def next(self) -> int:
        if self.rnd.random() < self.hot_opn:
            return self.lb + self.rnd.randrange(self.hot)
        return self.lb + self.hot + self.rnd.randrange(self.cold)


def port_nextkeynum(chooser: Any, counter: PortAcknowledgedCounter) -> int:
    """CoreWorkload.nextKeynum for the non-exponential choosers: redraw keys not acknowledged yet."""
    key = chooser.next()
    while key > counter.last():
        key = chooser.next()
    return key


# --- comparing two samples -------------------------------------------------------------------------

def homogeneity_z(a: np.ndarray, b: np.ndarray, bins: np.ndarray) -> float:
    """Chi-square test that samples ``a`` and ``b`` come from one distribution, as a z-score
    (Wilson-Hilferty); bins with fewer than 10 values in both samples together are pooled."""
    ca = np.histogram(a, bins)[0].astype(float)
    cb = np.histogram(b, bins)[0].astype(float)
    small = (ca + cb) < 10
    if small.any():
        ca = np.append(ca[~small], ca[small].sum())
        cb = np.append(cb[~small], cb[small].sum())
    keep = (ca + cb) > 0
    ca, cb = ca[keep], cb[keep]
    na, nb = ca.sum(), cb.sum()
    chi2 = float(np.sum((ca * np.sqrt(nb / na) - cb * np.sqrt(na / nb)) ** 2 / (ca + cb)))
    df = len(ca) - 1
    return float(((chi2 / df) ** (1 / 3) - (1 - 2 / (9 * df))) / np.sqrt(2 / (9 * df)))


#: z above this means the distributions differ (p < 3e-7): never a flake, and the old bugs gave z > 20
DIFFERENT = 5.0


# --- our runner, observed through a recording test store ------------------------------------------

class Recording(Adapter):
    """A test store: keeps which keys exist, logs the key number of every read and scan."""

    name = "recording"
    capabilities: ClassVar[Capabilities] = Capabilities(stores_data=False)
    lock = threading.Lock()
    numbers: ClassVar[dict[str, int]] = {}
    present: ClassVar[set[str]] = set()
    newest = -1
    reads: ClassVar[list[tuple[int, int]]] = []  # (key number, newest key number then)
    scans: ClassVar[list[int]] = []
    missing = 0

    def connect(self) -> None:
        pass

    def prepare(self, namespace: str, fields: Sequence[str]) -> None:
        pass

    def drop(self, namespace: str) -> None:
        pass

    def server_info(self) -> ServerInfo:
        return ServerInfo("recording", "0")

    def insert(self, namespace: str, key: str, values: Mapping[str, str]) -> None:
        with self.lock:
            self.present.add(key)
            Recording.newest = max(Recording.newest, self.numbers[key])

    def read(self, namespace: str, key: str, fields: Sequence[str] | None = None) -> Record:
        with self.lock:
            self.reads.append((self.numbers[key], self.newest))
            if key not in self.present:
                Recording.missing += 1
                raise NotFound(key)
        return {}

    def update(self, namespace: str, key: str, values: Mapping[str, str]) -> None:
        pass

    def delete(self, namespace: str, key: str) -> None:
        pass

    def scan(self, namespace: str, start_key: str, count: int,
             fields: Sequence[str] | None = None) -> list[tuple[str, Record]]:
        with self.lock:
            self.scans.append(self.numbers[start_key])
        return []

    def query(self, namespace: str, query: Query) -> QueryResult:
        return QueryResult(0, None)


@pytest.fixture
def recording(monkeypatch: pytest.MonkeyPatch) -> type[Recording]:
    monkeypatch.setattr(runner, "load_adapter", lambda name: Recording)
    return Recording


def record_run(spec: WorkloadSpec, seed: int = 42, threads: int = 1) -> PhaseOutcome:
    span = spec.recordcount + spec.operationcount + 10
    Recording.numbers = dict(zip(KeyNamer(spec).names(np.arange(span)), range(span), strict=True))
    Recording.present, Recording.newest, Recording.reads, Recording.scans = set(), -1, [], []
    Recording.missing = 0
    for phase in ("load", "run"):
        outcome = run_phase(PhasePlan("recording", {}, spec, phase, "sbench_rec", seed, threads=threads))
        assert not outcome.fatal, outcome.fatal
    return outcome


# --- the distributions, against the ports ---------------------------------------------------------

def test_zipfian_generator_matches_ycsb() -> None:
    ours = Zipfian(1000, 0.99).sample(np.random.default_rng(1), 100_000)
    port = PortZipfian(0, 999, random.Random(1))
    theirs = np.array([port.next() for _ in range(100_000)])
    assert homogeneity_z(ours, theirs, np.arange(1001)) < DIFFERENT


def test_scrambled_zipfian_keys_match_ycsb() -> None:
    """Workload C's key choice: scrambled zipfian over the 1,000 loaded records."""
    s = resolve("c", {"recordcount": 1000})
    ours, names = KeyChooser(s, AcknowledgedCounter(1000), np.random.default_rng(2)).batch(100_000)
    assert names is not None and names[0] == KeyNamer(s).name(int(ours[0]))
    port, counter = PortScrambledZipfian(0, 1000, random.Random(2)), PortAcknowledgedCounter(1000)
    theirs = np.array([port_nextkeynum(port, counter) for _ in range(100_000)])
    assert ours.max() <= 999
    assert homogeneity_z(ours, theirs, np.arange(1001)) < DIFFERENT


def port_e_scan_starts(seed: int, records: int = 1000, ops: int = 1000) -> list[int]:
    """Workload E's mix (95 % scan, 5 % insert) on the ports: the start key of every scan."""
    rnd = random.Random(seed)
    counter = PortAcknowledgedCounter(records)
    chooser = PortScrambledZipfian(0, records + int(ops * 0.05 * 2.0), rnd)
    starts = []
    for _ in range(ops):
        if rnd.random() < 0.95:
            starts.append(port_nextkeynum(chooser, counter))
        else:
            counter.acknowledge(counter.next())
    return starts


def test_e_scan_starts_match_ycsb_with_redraw(recording: type[Recording]) -> None:
    """Keys beyond the inserted range are redrawn, not folded onto the first keys (which gave 17 %)."""
    ours: list[int] = []
    for seed in range(10):
        record_run(resolve("e", {"recordcount": 1000, "operationcount": 1000}), seed)
        ours.extend(recording.scans)
    theirs = [k for seed in range(30) for k in port_e_scan_starts(seed)]
    low_ours, low_theirs = np.mean(np.array(ours) < 100), np.mean(np.array(theirs) < 100)
    assert low_theirs == pytest.approx(0.097, abs=0.01)
    assert low_ours == pytest.approx(low_theirs, abs=0.02)
    assert homogeneity_z(np.array(ours), np.array(theirs), np.arange(0, 1151, 25)) < DIFFERENT


def port_d_reads(seed: int, records: int, ops: int) -> list[tuple[int, int]]:
    """Workload D's mix (95 % read latest, 5 % insert) on the ports: (key read, newest key)."""
    rnd = random.Random(seed)
    counter = PortAcknowledgedCounter(records)
    latest = PortSkewedLatest(counter, rnd)
    reads = []
    for _ in range(ops):
        if rnd.random() < 0.95:
            reads.append((port_nextkeynum(latest, counter), counter.last()))
        else:
            counter.acknowledge(counter.next())
    return reads


def test_d_latest_reads_match_ycsb(recording: type[Recording]) -> None:
    """The newest record is read as often as YCSB reads it (not 0.35 %), and the whole offset shape agrees."""
    record_run(resolve("d", {"recordcount": 1000, "operationcount": 20_000}))
    ours = np.array(recording.reads)
    theirs = np.array([r for seed in (7, 8) for r in port_d_reads(seed, 1000, 20_000)])
    newest_ours, newest_theirs = np.mean(ours[:, 0] == ours[:, 1]), np.mean(theirs[:, 0] == theirs[:, 1])
    assert newest_ours == pytest.approx(newest_theirs, abs=0.015)
    assert newest_theirs > 0.1
    assert recording.missing == 0
    offsets = np.array([0, 1, 2, 3, 5, 10, 20, 50, 100, 200, 500, 1000, 5000])
    assert homogeneity_z(ours[:, 1] - ours[:, 0], theirs[:, 1] - theirs[:, 0], offsets) < DIFFERENT


def test_hotspot_keys_match_ycsb() -> None:
    s = resolve("c", {"recordcount": 1000, "requestdistribution": "hotspot", "hotspotdatafraction": 0.1,
                      "hotspotopnfraction": 0.7})
    ours, _ = KeyChooser(s, AcknowledgedCounter(1000), np.random.default_rng(4)).batch(100_000)
    port, counter = PortHotspot(0, 999, 0.1, 0.7, random.Random(4)), PortAcknowledgedCounter(1000)
    theirs = np.array([port_nextkeynum(port, counter) for _ in range(100_000)])
    assert homogeneity_z(ours, theirs, np.arange(0, 1001, 10)) < DIFFERENT


@pytest.mark.parametrize("dist", ["uniform", "zipfian"])
def test_scan_lengths_match_ycsb(dist: str) -> None:
    s = resolve("e", {"scanlengthdistribution": dist, "minscanlength": 5, "maxscanlength": 100})
    ours = OperationStream(s, 3, 0, 1).batch(100_000).scanlens
    rnd = random.Random(3)
    if dist == "zipfian":
        port = PortZipfian(5, 100, rnd)
        theirs = np.array([port.next() for _ in range(100_000)])
    else:
        theirs = np.array([rnd.randint(5, 100) for _ in range(100_000)])
    assert ours.min() >= 5 and ours.max() <= 100
    assert homogeneity_z(ours, theirs, np.arange(5, 102)) < DIFFERENT


def test_exponential_keys_match_ycsb() -> None:
    """requestdistribution=exponential: lastValue() minus an exponential draw, redrawn while negative."""
    s = resolve("c", {"recordcount": 1000, "requestdistribution": "exponential"})
    chooser = KeyChooser(s, AcknowledgedCounter(1000), np.random.default_rng(5))
    chooser.batch(50_000)
    number = {name: i for i, name in enumerate(KeyNamer(s).names(np.arange(1000)))}
    ours = np.array([number[chooser.key(i)] for i in range(50_000)])
    rnd = random.Random(5)
    gamma = -np.log(1 - 95 / 100) / (1000 * 0.8571428571)
    theirs: list[int] = []
    while len(theirs) < 50_000:
        k = 999 - int(-np.log(rnd.random()) / gamma)
        if k >= 0:
            theirs.append(k)
    assert homogeneity_z(ours, np.array(theirs), np.arange(0, 1001, 50)) < DIFFERENT


def test_sequential_keys_walk_the_loaded_range() -> None:
    s = resolve("c", {"recordcount": 10, "requestdistribution": "sequential"})
    counter = AcknowledgedCounter(10)
    one = KeyChooser(s, counter, np.random.default_rng(0)).batch(12)[0].tolist()
    assert one == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]
    # two workers share the sequence, as YCSB's threads share one SequentialGenerator
    w0, w1 = (KeyChooser(s, counter, np.random.default_rng(0), w, 2).batch(5)[0].tolist() for w in (0, 1))
    assert sorted(w0 + w1) == list(range(10))


def test_acknowledged_counter_is_ycsbs() -> None:
    ours, port = AcknowledgedCounter(100), PortAcknowledgedCounter(100)
    assert ours.last() == port.last() == 99
    a, b, c = (ours.next() for _ in range(3))
    assert (a, b, c) == (100, 101, 102)
    ours.acknowledge(b)
    assert ours.last() == 99  # 100 is not acknowledged yet: 101 must stay invisible
    ours.acknowledge(a)
    assert ours.last() == 101
    ours.acknowledge(c)
    assert ours.last() == 102


def test_acknowledged_counter_across_threads() -> None:
    counter = AcknowledgedCounter(0)
    seen: list[list[int]] = [[] for _ in range(4)]

    def work(slot: int) -> None:
        for _ in range(2000):
            v = counter.next()
            seen[slot].append(v)
            counter.acknowledge(v)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(v for s in seen for v in s) == list(range(8000))
    assert counter.last() == 7999


# --- end to end on a real store -------------------------------------------------------------------

@pytest.mark.parametrize(("threads", "processes"), [(4, 1), (2, 2)])
def test_d_never_reads_a_key_not_inserted_yet(tmp_path: Path, threads: int, processes: int) -> None:
    """One counter for every worker (threads and processes): 0 NOT_FOUND (was 1,017 of ~19,000)."""
    run = _run(tmp_path, "d", "--workloads", "d", "--threads", str(threads), "--processes", str(processes),
               "-p", "recordcount=300", "-p", "operationcount=4000")["run"]
    assert run["status"] == "ok"
    counts = run["operations"]["read"]["status_counts"]
    assert counts.get("NOT_FOUND", 0) == 0 and counts["OK"] > 3000
    assert run["operations"]["insert"]["status_counts"]["OK"] > 100


# --- every YCSB property honoured, noted or refused -----------------------------------------------

FIXTURES = Path(__file__).parent / "fixtures" / "ycsb"


def _honoured(spec: WorkloadSpec, props: dict[str, Any]) -> None:
    """Each property is either in the spec with the file's value, or noted as not applying."""
    for key, value in props.items():
        if key in spec.not_applied:
            continue
        field = DOTTED.get(key, key)
        assert field in WorkloadSpec.model_fields, f"{key} silently dropped"
        assert getattr(spec, field) == value, key


@pytest.mark.parametrize("letter", "abcdef")
def test_ycsb_workload_files_are_honoured(letter: str) -> None:
    path = FIXTURES / f"workload{letter}"
    spec = load_file(path)
    _honoured(spec, parse_properties(path.read_text()))
    assert set(spec.not_applied) == {"workload"}
    assert spec.name == letter


def test_ycsb_workload_files_run_on_a_real_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    files = [arg for letter in "abcdef" for arg in ("-P", str(FIXTURES / f"workload{letter}"))]
    assert main(["run", "--results-dir", str(tmp_path / "results"), "--run-id", "ycsb", "--no-report",
                 "--stores", "sqlite", *files, "-p", "recordcount=100", "-p", "operationcount=200"]) == 0
    results = load_results(tmp_path / "results" / "ycsb")
    assert {(r["workload"], r["phase"]) for r in results} == {(w, p) for w in "abcdef" for p in ("load", "run")}
    for r in results:
        assert r["status"] == "ok", r
        assert r["config"]["workload"]["not_applied"] == {"workload": YCSB_NOTED["workload"]}
    assert "note: property workload does not apply here" in capsys.readouterr().err


def test_template_properties_honoured_or_noted_identically_from_p_and_P() -> None:
    path = FIXTURES / "workload_template"
    props = parse_properties(path.read_text())
    from_file = load_file(path)
    _honoured(from_file, props)
    assert set(from_file.not_applied) == {"workload", "maxscanrate", "scanoptimelimit", "discardscannedrecord",
                                          "table", "measurementtype", "histogram.buckets",
                                          "timeseries.granularity"}
    from_p = resolve("c", parse_overrides([line for line in path.read_text().splitlines()
                                           if line and not line.startswith("#")]))
    assert from_p.not_applied == from_file.not_applied
    assert from_p.model_dump(exclude={"name", "description"}) == from_file.model_dump(exclude={"name", "description"})


@pytest.mark.parametrize(("prop", "message"), [
    ("threadcount=8", "threadcount is not a workload property here: client threads are set with --threads"),
    ("core_workload_insertion_retry_limit=3", "failed inserts are not retried"),
    ("operationcount=0", "operationcount=0 runs until maxexecutiontime"),
    ("fieldlengthdistribution=histogram", "fieldlengthhistogram hist.txt cannot be read"),
    ("requestdistribution=pareto", "requestdistribution"),
    ("readproportio=0.5", "readproportio: unknown property"),
    ("mongodb.url=mongodb://x", "a YCSB binding setting? store options go under options.<store>"),
])
def test_refused_properties_say_why(tmp_path: Path, capsys: pytest.CaptureFixture[str], prop: str,
                                    message: str) -> None:
    for args in (["-p", prop, "--workloads", "c"], ["-P", str(_props_file(tmp_path, prop))]):
        assert main(["run", "--results-dir", str(tmp_path / "results"), "--stores", "null", *args]) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "results").exists()


def _props_file(tmp_path: Path, line: str) -> Path:
    path = tmp_path / "workloadx"
    path.write_text(f"recordcount=100\noperationcount=100\n{line}\n")
    return path


# --- fieldlengthdistribution ----------------------------------------------------------------------

def test_field_lengths_follow_ycsbs_distributions(tmp_path: Path) -> None:
    u = np.random.default_rng(9).random(50_000)
    uniform = FieldLengths(resolve("c", {"fieldlengthdistribution": "uniform", "minfieldlength": 10,
                                         "fieldlength": 60}))
    ours = np.array([uniform.length(x) for x in u])
    rnd = random.Random(9)
    assert ours.min() == 10 and ours.max() == 60
    assert homogeneity_z(ours, np.array([rnd.randint(10, 60) for _ in u]), np.arange(10, 62)) < DIFFERENT
    zipf = FieldLengths(resolve("c", {"fieldlengthdistribution": "zipfian", "minfieldlength": 10,
                                      "fieldlength": 60}))
    ours = np.array([zipf.length(x) for x in u])
    port = PortZipfian(10, 60, rnd)
    assert homogeneity_z(ours, np.array([port.next() for _ in u]), np.arange(10, 62)) < DIFFERENT
    hist_file = tmp_path / "hist.txt"
    # blocks of 16: the shortest value (16 characters) still proves its key, field and write
    hist_file.write_text("BlockSize\t16\n0\t10\n1\t30\n2\t60\n3\t0\n")
    hist = FieldLengths(resolve("c", {"fieldlengthdistribution": "histogram",
                                      "fieldlengthhistogram": str(hist_file)}))
    ours = np.array([hist.length(x) for x in u])

    def port_histogram() -> int:  # HistogramGenerator.nextValue
        number, buckets = rnd.randrange(100), [10, 30, 60, 0]
        for i in range(len(buckets) - 1):
            number -= buckets[i]
            if number <= 0:
                return (i + 1) * 16
        return (len(buckets) - 1) * 16

    assert homogeneity_z(ours, np.array([port_histogram() for _ in u]), np.arange(0, 80)) < DIFFERENT


def test_values_have_the_drawn_lengths_and_verify_on_a_real_store(tmp_path: Path) -> None:
    # 9 characters: the shortest value that still tells its key, field and write
    props = ["-p", "fieldlengthdistribution=uniform", "-p", "minfieldlength=9", "-p", "fieldlength=300"]
    s = resolve("a", {"fieldlengthdistribution": "uniform", "minfieldlength": 9, "fieldlength": 300})
    values = Values(s, 1, writer=1)
    lengths = [len(values.write(f"user{i}", ["field0"])["field0"]) for i in range(5000)]
    assert min(lengths) < 20 and max(lengths) > 280 and abs(np.mean(lengths) - 154.5) < 5
    run = _run(tmp_path, "len", "--workloads", "a", "-p", "recordcount=100", "-p", "operationcount=300", *props)
    assert run["run"]["status"] == "ok" and run["load"]["status"] == "ok"
    assert run["run"]["operations"]["read"]["status_counts"] == {"OK": run["run"]["operations"]["read"]
                                                                 ["latency"]["count"]}


# --- insertstart/insertcount, operationcount=0, target on the load ---------------------------------

def test_insertstart_insertcount_load_exactly_their_slice(recording: type[Recording]) -> None:
    """YCSB's split load: this client inserts [insertstart, insertstart + insertcount) only, and chooses
    uniform keys among them."""
    s = resolve("c", {"recordcount": 300, "insertstart": 100, "insertcount": 150, "operationcount": 2000,
                      "requestdistribution": "uniform"})
    record_run(s, threads=3)
    assert {recording.numbers[k] for k in recording.present} == set(range(100, 250))
    keys = np.array(recording.reads)[:, 0]
    assert keys.min() == 100 and keys.max() == 249 and recording.missing == 0


def test_operationcount_zero_runs_until_maxexecutiontime() -> None:
    s = resolve("c", {"recordcount": 100, "operationcount": 0, "maxexecutiontime": 0.5})
    outcome = run_phase(PhasePlan("null", {}, s, "run", "sbench_t", 1))
    ops = sum(h.get_total_count() for h in outcome.merged["histograms"].values())
    assert ops > 1000 and 0.4 < outcome.measured_seconds < 1.5


def test_target_throttles_the_load_phase_too() -> None:
    s = resolve("c", {"recordcount": 100, "target": 250})
    outcome = run_phase(PhasePlan("null", {}, s, "load", "sbench_t", 1, threads=2))
    inserts = outcome.merged["histograms"]["insert|OK"].get_total_count()
    assert inserts == 100
    assert outcome.measured_seconds > 0.35  # 100 inserts at 250/s: 0.4 s (unthrottled: milliseconds)
    assert outcome.merged["intended"]["insert|OK"].get_total_count() == 100
