"""Field values: random printable text like YCSB's, new on every write, and self-checking.

Every value a worker writes is ``header + body``:

* ``body``: random printable characters (:data:`BODY_ALPHABET`, 90 symbols) drawn from the writer's own
  seeded stream, so values compress like YCSB's random text (zlib about 1.3x; YCSB's
  ``RandomByteIterator`` mixes 32-, 64- and 96-symbol characters) and no two writes give the same value.
* ``header`` (:data:`HEADER` = 14 characters of :data:`ALPHABET`, 64 symbols): the writer (3 characters: 0 = the load
  phase, ``w + 1`` = run-phase worker ``w``), that writer's sequence number of the write (6), and a 30-bit
  CRC-32 over the key, the field, writer, sequence and body (5).

A reader therefore tells, from the value alone, that it was written for *this* key and field (the CRC
covers both) and by which write (writer, sequence): the runner compares that with the ledger of
acknowledged writes (:mod:`storagebench.measuring.ledger`) to find lost updates.

A value of :data:`MIN_LENGTH` to :data:`HEADER` characters has no room for a body: it is the writer (1
character), the sequence number (4) and a digest of key, field, writer and sequence (the rest, at least 4
characters = 24 bits: a corrupt, stale or misplaced value passes with odds below 1 in 16 million), so it
identifies its key, field and write as a long one does.  Shorter values cannot: a workload whose values
may be shorter than :data:`MIN_LENGTH` is refused when it is resolved (:func:`too_short`).  Lengths follow
``fieldlengthdistribution`` (:class:`~storagebench.workloads.generators.FieldLengths`), one draw per
value written.

Fields the query, graph and join workloads compute on (the filter value, the summed number, the links, a
customer's region, an order's customer and amount) are
*fixed*: a deterministic function of the key, never rewritten by updates, so the expected count, sum and
traversal are known while updates run (:attr:`Values.writable_fields` leaves them out).
"""

from __future__ import annotations

import hashlib
import math
import random
import zlib
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
from storagebench.workloads.spec import WorkloadSpec

if TYPE_CHECKING:
    from storagebench.workloads.documents import Document

#: the header's characters (6 bits each)
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
#: the body's characters: printable ASCII without space, quotes, backslash and comma (90 symbols), so
#: values need no escaping in JSON, SQL literals or comma lists
BODY_ALPHABET = "".join(chr(c) for c in range(33, 127) if chr(c) not in "\\\"',")
_TRANSLATE = bytes(ord(BODY_ALPHABET[b % len(BODY_ALPHABET)]) for b in range(256))
_INDEX = {c: i for i, c in enumerate(ALPHABET)}
#: 12 bits -> two characters
_PAIRS = [a + b for a in ALPHABET for b in ALPHABET]
WRITER_CHARS, SEQ_CHARS, CRC_CHARS = 3, 6, 5
HEADER = WRITER_CHARS + SEQ_CHARS + CRC_CHARS
MAX_WRITER = 64**WRITER_CHARS - 1
MAX_SEQ = 64**SEQ_CHARS - 1
#: a short value (at most HEADER characters): writer, sequence number, then a digest of at least
#: SHORT_DIGEST_CHARS characters over key, field, writer and sequence
SHORT_WRITER_CHARS, SHORT_SEQ_CHARS, SHORT_DIGEST_CHARS = 1, 4, 4
SHORT_VERSION = SHORT_WRITER_CHARS + SHORT_SEQ_CHARS
#: the shortest value that still identifies its key, field and write
MIN_LENGTH = SHORT_VERSION + SHORT_DIGEST_CHARS
#: graphtargets=powerlaw draws a link's target key number as recordcount * u**POWER_LAW_SKEW (u uniform
#: in [0, 1)): the target density falls as x**(1/3 - 1), so in-degrees follow a power law of tail exponent
#: 1 + 1/(1 - 1/3) = 2.5
POWER_LAW_SKEW = 3
#: how many keys' links :meth:`Values.links` keeps (about 200 bytes each)
LINKS_CACHED = 1 << 16
MAX_SHORT_WRITER = 64**SHORT_WRITER_CHARS - 1
MAX_SHORT_SEQ = 64**SHORT_SEQ_CHARS - 1
_CRC_MASK = (1 << 30) - 1
LOAD_WRITER = 0


#: names this encoding of values (header, CRC, short digest): a data set written with another cannot be read
SCHEME = "header14-crc30/short-blake2b-v1"


class Version(NamedTuple):
    """Who wrote a value: ``writer`` (0 = load phase, w + 1 = run worker w) and its sequence number."""

    writer: int
    seq: int


def _encode(number: int, chars: int) -> str:
    out = []
    for _ in range(chars):
        out.append(ALPHABET[number & 63])
        number >>= 6
    return "".join(reversed(out))


def _decode(text: str) -> int:
    number = 0
    for c in text:
        number = (number << 6) | _INDEX[c]
    return number


def seq_chars(seq: int) -> str:
    return _PAIRS[(seq >> 24) & 4095] + _PAIRS[(seq >> 12) & 4095] + _PAIRS[seq & 4095]


def _crc_chars(crc: int) -> str:
    return _PAIRS[(crc >> 18) & 4095] + _PAIRS[(crc >> 6) & 4095] + ALPHABET[crc & 63]


def _crc(key: str, field: str, version_chars: str, body: str) -> int:
    return zlib.crc32(body.encode(), zlib.crc32(f"{key}\x00{field}\x00{version_chars}".encode())) & _CRC_MASK


def _short(key: str, field: str, version_chars: str, length: int) -> str:
    """The short value (``length`` <= HEADER) of write ``version_chars`` for ``key``/``field``."""
    digest = int.from_bytes(hashlib.blake2b(f"{key}\x00{field}\x00{version_chars}".encode(),
                                            digest_size=8).digest())
    return version_chars + _encode(digest, length - SHORT_VERSION)


def too_short(shortest: int, writers: int = 1) -> str | None:
    """Why values of ``shortest`` characters (and ``writers`` run-phase writers) cannot be verified; None
    when they can."""
    if shortest < MIN_LENGTH:
        return (f"values of {shortest} character{'s' if shortest != 1 else ''} cannot identify their key, field "
                f"and write (writer, write number and a 24-bit digest need {MIN_LENGTH}): use fieldlength "
                f">= {MIN_LENGTH} (and minfieldlength >= {MIN_LENGTH} with a length distribution)")
    if shortest <= HEADER and writers > MAX_SHORT_WRITER:
        return (f"values of {shortest} characters name their writer in one character: at most "
                f"{MAX_SHORT_WRITER} clients (or values longer than {HEADER} characters)")
    return None

def _crc_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """zlib's CRC-32 (reflected 0xEDB88320) tables for slicing by four bytes."""
    t0 = np.zeros(256, dtype=np.uint32)
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0xEDB88320 if c & 1 else c >> 1
        t0[i] = c
    t1 = (t0 >> 8) ^ t0[t0 & 0xFF]
    t2 = (t1 >> 8) ^ t0[t1 & 0xFF]
    t3 = (t2 >> 8) ^ t0[t2 & 0xFF]
    return t0, t1, t2, t3


_CRC_TABLES: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None
_ALPHABET_BYTES = np.frombuffer(ALPHABET.encode(), dtype=np.uint8)
_TRANSLATE_BYTES = np.frombuffer(_TRANSLATE, dtype=np.uint8)


def crc32_rows(rows: np.ndarray, state: np.ndarray, start: np.ndarray | None = None) -> np.ndarray:
    """zlib's running CRC-32 of each row of ``rows`` (uint8, one message per row) continued from ``state``
    (zlib's value, e.g. 0 to begin): ``zlib.crc32(row, state)`` for every row at once.  ``start``: the first
    column of each row's message (its columns before are padding)."""
    global _CRC_TABLES
    if _CRC_TABLES is None:
        _CRC_TABLES = _crc_tables()
    t0, t1, t2, t3 = _CRC_TABLES
    crc = state.astype(np.uint32) ^ np.uint32(0xFFFFFFFF)
    width = rows.shape[1]
    if start is not None:  # ragged rows, right-aligned: a byte at a time, padding left untouched
        for j in range(width):
            crc = np.where(j >= start, t0[(crc ^ rows[:, j]) & 0xFF] ^ (crc >> 8), crc)
        return crc ^ np.uint32(0xFFFFFFFF)
    whole = width - width % 4
    if whole:
        words = np.ascontiguousarray(rows[:, :whole]).view("<u4")
        for w in range(words.shape[1]):
            x = crc ^ words[:, w]
            crc = t3[x & 0xFF] ^ t2[(x >> 8) & 0xFF] ^ t1[(x >> 16) & 0xFF] ^ t0[x >> 24]
    for j in range(whole, width):
        crc = t0[(crc ^ rows[:, j]) & 0xFF] ^ (crc >> 8)
    return crc ^ np.uint32(0xFFFFFFFF)


class Values:
    """Values of one writer (a load stream or one run-phase worker), plus the checks a reader makes.

    ``writer`` is :data:`LOAD_WRITER` for the load phase, ``worker + 1`` in the run phase; ``stream``
    separates several load workers (they all write version ``(0, 0)``); ``seq_base``: the writer's sequence
    numbers start above it (a run on a data set, whose earlier runs used those up to it).
    """

    def __init__(self, spec: WorkloadSpec, seed: int, writer: int = LOAD_WRITER, stream: int = 0,
                 seq_base: int = 0) -> None:
        if not 0 <= writer <= MAX_WRITER:
            raise ValueError(f"writer {writer} out of range 0..{MAX_WRITER}")
        self.spec = spec
        self.writer = writer
        self.seq = seq_base
        self._random = random.Random(f"{seed}/{writer}/{stream}")
        self._writer_chars = _encode(writer, WRITER_CHARS)
        self.fields = spec.field_names()
        self.field_set = frozenset(self.fields)
        from storagebench.workloads.generators import FieldLengths, KeyNamer

        #: YCSB's fieldlengthdistribution: each value written draws its length
        self.lengths = FieldLengths(spec)
        self.length = self.lengths.longest
        self.shortest = self.lengths.lo if not self.lengths.constant else self.length
        refused = too_short(self.shortest, max(1, writer))
        if refused:
            raise ValueError(refused)
        self._short_writer_chars = _encode(writer, SHORT_WRITER_CHARS) if writer <= MAX_SHORT_WRITER else ""
        self.query = spec.queryproportion > 0 or spec.kind == "batch"
        self.queryfield, self.sumfield, self.groups = spec.queryfield, spec.querysumfield, spec.querygroups
        self.graph = spec.linked_field() is not None
        self.links_field, self.degree = spec.links_field(), spec.graphdegree
        self.power_law = spec.graphtargets == "powerlaw"
        self._links: dict[str, list[str]] = {}
        self.records = max(1, spec.recordcount)
        #: join workloads: customers are the first ``customers`` loaded key numbers, the rest orders
        self.join_fields = spec.join_fields()
        self.customers = spec.join_customers()
        self._customer_keys: frozenset[str] | None = None
        fixed = set(self.join_fields)
        if self.query:
            fixed |= {self.queryfield, self.sumfield}
        if self.graph:
            fixed.add(self.links_field)
        self.fixed = frozenset(fixed)
        #: the document field of a document workload (None otherwise): only nested updates rewrite it
        self.docfield = spec.document_field()
        self.document: Document | None = None
        if self.docfield is not None:
            from storagebench.workloads.documents import Document

            self.document = Document(self.docfield, spec.doccustomers)
        writable = [f for f in self.fields if f not in self.fixed and f != self.docfield]
        #: the fields updates choose from (all fields when every one is fixed)
        self.writable_fields = writable or list(self.fields)
        self.namer = KeyNamer(spec)

    # -- fixed fields ------------------------------------------------------------------------------
    def links(self, key: str) -> list[str]:
        """The loaded records ``key`` links to (deterministic, so a traversal can be verified).  Callers
        must not change the list: the first :data:`LINKS_CACHED` keys' lists are kept, since a check's
        breadth-first walk asks for the same keys again and again."""
        cached = self._links.get(key)
        if cached is None:
            draws = [zlib.crc32(f"{key}/link{i}".encode()) for i in range(self.degree)]
            if self.power_law:  # key number records * u**3 for u uniform: P(in-degree >= d) ~ d**-1.5
                nums = [int(self.records * (d / 2**32) ** POWER_LAW_SKEW) for d in draws]
            else:
                nums = [d % self.records for d in draws]
            cached = self.namer.names(np.array(nums, dtype=np.int64))
            if len(self._links) < LINKS_CACHED:
                self._links[key] = cached
        return cached

    def reachable(self, key: str, hops: int) -> set[str]:
        """What ``Adapter.neighbors`` must answer when every loaded record is present."""
        seen, frontier = {key}, [key]
        for _ in range(hops):
            following = []
            for node in frontier:
                for target in self.links(node):
                    if target not in seen:
                        seen.add(target)
                        following.append(target)
            frontier = following
        seen.discard(key)
        return seen

    def group_value(self, group: int) -> str:
        return f"g{group:04d}"

    def group_of(self, key: str) -> int:
        return zlib.crc32(f"{key}/{self.queryfield}".encode()) % self.groups

    def summand_of(self, key: str) -> int:
        return zlib.crc32(f"{key}/{self.sumfield}".encode()) % 1000

    def is_customer(self, key: str) -> bool:
        if self._customer_keys is None:
            first = self.spec.insertstart
            self._customer_keys = frozenset(self.namer.names(np.arange(first, first + self.customers,
                                                                       dtype=np.int64)))
        return key in self._customer_keys

    def region(self, group: int) -> str:
        return f"r{group:04d}"

    def join_row(self, key: str) -> tuple[int | None, str | None, int]:
        """A loaded record's part in the join: (its region if a customer, the customer it names if an order,
        the order's amount)."""
        if self.is_customer(key):
            return zlib.crc32(f"{key}/region".encode()) % self.spec.joingroups, None, 0
        customer = self.spec.insertstart + zlib.crc32(f"{key}/customer".encode()) % self.customers
        return None, self.namer.name(customer), zlib.crc32(f"{key}/amount".encode()) % 1000

    def fixed_value(self, key: str, field: str) -> str:
        if field in self.join_fields:
            region, customer, amount = self.join_row(key)
            if field == self.spec.joingroupfield:
                return "none" if region is None else self.region(region)
            if field == self.spec.joinreffield:
                return customer or "none"
            return str(amount)
        if self.graph and field == self.links_field:
            return ",".join(self.links(key))
        if field == self.queryfield:
            return self.group_value(self.group_of(key))
        return str(self.summand_of(key))

    # -- writing -----------------------------------------------------------------------------------
    def write(self, key: str, fields: Sequence[str] | None = None, load: bool = False) -> dict[str, str]:
        """New values for ``fields`` (all when None) of ``key``: one write, one sequence number.

        ``load=True`` writes version ``(0, 0)`` (the load phase); otherwise the next sequence number of
        this writer (read it back from :attr:`seq` after the call).
        """
        names = self.fields if fields is None else fields
        if not load:
            self.seq += 1
            if self.seq > (MAX_SHORT_SEQ if self.shortest <= HEADER else MAX_SEQ):
                raise OverflowError("writer sequence exhausted")
        seq = 0 if load else self.seq
        version = (_encode(LOAD_WRITER, WRITER_CHARS) if load else self._writer_chars) + seq_chars(seq)
        fixed, random_ = self.fixed, self._random
        if self.lengths.constant:
            lengths = [self.length] * len(names)
        else:
            lengths = [self.lengths.length(random_.random()) for _ in names]
        text = random_.randbytes(sum(lengths)).translate(_TRANSLATE).decode()
        out = {}
        at = 0
        for f, length in zip(names, lengths, strict=True):
            chunk = text[at:at + length]
            at += length
            if f in fixed:
                out[f] = self.fixed_value(key, f)
            elif f == self.docfield and self.document is not None:
                out[f] = self.document.render(key, LOAD_WRITER if load else self.writer, seq)
            elif length <= HEADER:  # no room for a body: writer, sequence and a digest
                out[f] = _short(key, f, (self._short_writer_chars if not load else _encode(LOAD_WRITER, 1))
                                + _encode(seq, SHORT_SEQ_CHARS), length)
            else:
                body = chunk[HEADER:]
                out[f] = version + _crc_chars(_crc(key, f, version, body)) + body
        return out

    def write_status(self, key: str) -> str:
        """A nested update of ``key``'s document: the status it sets (one write, one sequence number)."""
        assert self.document is not None
        self.seq += 1
        if self.seq > (MAX_SHORT_SEQ if self.shortest <= HEADER else MAX_SEQ):
            raise OverflowError("writer sequence exhausted")
        return self.document.status(key, self.writer, self.seq)

    def load_record(self, key: str) -> dict[str, str]:
        return self.write(key, None, load=True)

    def load_columns(self, keys: Sequence[str]) -> dict[str, Any] | None:
        """The load's values of ``keys`` as Arrow string arrays, one per field, built with NumPy: the same
        values :meth:`load_record` writes (header, CRC over key, field, version and body), with no Python
        work per value (about 0.5 µs a value against 2.4).  None where values have no fixed length above
        :data:`HEADER` (a length distribution, short values): use :meth:`load_record`."""
        import pyarrow as pa

        if not self.lengths.constant or self.length <= HEADER or not keys or self.docfield is not None:
            return None
        n, length, body_len = len(keys), self.length, self.length - HEADER
        encoded = [k.encode() for k in keys]
        sizes = np.fromiter(map(len, encoded), dtype=np.int64, count=n)
        widest = int(sizes.max())
        padded = np.zeros((n, widest), dtype=np.uint8)  # keys right-aligned: ragged CRC over their bytes
        starts = np.cumsum(sizes) - sizes
        lead = widest - sizes
        flat = np.frombuffer(b"".join(encoded), dtype=np.uint8)
        padded[np.repeat(np.arange(n), sizes), np.arange(flat.size) - np.repeat(starts - lead, sizes)] = flat
        key_crc = crc32_rows(padded, np.zeros(n, dtype=np.uint32), lead)
        version = (_encode(LOAD_WRITER, WRITER_CHARS) + seq_chars(0)).encode()
        rng = np.random.default_rng(self._random.getrandbits(64))
        random_fields = [f for f in self.fields if f not in self.fixed]
        shape = (len(random_fields), n, body_len)
        bodies = np.take(_TRANSLATE_BYTES, np.frombuffer(rng.bytes(int(np.prod(shape))), dtype=np.uint8)).reshape(shape)
        offsets = pa.py_buffer(np.arange(0, (n + 1) * length, length, dtype=np.int32))
        out: dict[str, Any] = {}
        for f in self.fields:
            if f in self.fixed:
                out[f] = pa.array([self.fixed_value(k, f) for k in keys], pa.string())
                continue
            body = bodies[random_fields.index(f)]
            tail = np.frombuffer(b"\x00" + f.encode() + b"\x00" + version, dtype=np.uint8)
            crc = crc32_rows(np.broadcast_to(tail, (n, tail.size)), key_crc)
            crc = crc32_rows(body, crc) & np.uint32(_CRC_MASK)
            values = np.empty((n, length), dtype=np.uint8)
            values[:, :len(version)] = np.frombuffer(version, dtype=np.uint8)
            for i, shift in enumerate((24, 18, 12, 6, 0)):
                values[:, len(version) + i] = _ALPHABET_BYTES[(crc >> np.uint32(shift)) & np.uint32(63)]
            values[:, HEADER:] = body
            out[f] = pa.StringArray.from_buffers(n, offsets, pa.py_buffer(values))
        return out

    # -- reading -----------------------------------------------------------------------------------
    def check(self, key: str, field: str, value: str) -> Version | str | None:
        """The version of a value read for ``key``/``field``, or a string saying what is wrong with it.

        None for a fixed field (a function of the key: it has no version).
        """
        if field == self.docfield and self.document is not None:
            return self.document.check(key, value)
        if field in self.fixed:
            expected = self.fixed_value(key, field)
            return None if value == expected else f"{key}: {field} is {value[:40]!r}, expected {expected[:40]!r}"
        if not isinstance(value, str) or not self.shortest <= len(value) <= self.length:
            size = len(value) if isinstance(value, str) else type(value).__name__
            wanted = self.length if self.shortest == self.length else f"{self.shortest}..{self.length}"
            return f"{key}: {field} has length {size}, every value written has {wanted}"
        if len(value) <= HEADER:
            return self._check_short(key, field, value)
        version = value[:WRITER_CHARS + SEQ_CHARS]
        try:
            writer = _decode(value[:WRITER_CHARS])
            seq = _decode(value[WRITER_CHARS:WRITER_CHARS + SEQ_CHARS])
            crc = _decode(value[WRITER_CHARS + SEQ_CHARS:HEADER])
        except KeyError:
            return f"{key}: {field} is not a value storagebench wrote ({value[:20]!r}...)"
        if crc != _crc(key, field, version, value[HEADER:]):
            return f"{key}: {field} was never written for this key and field (corrupted or misplaced value)"
        return Version(writer, seq)

    def _check_short(self, key: str, field: str, value: str) -> Version | str:
        try:
            writer = _decode(value[:SHORT_WRITER_CHARS])
            seq = _decode(value[SHORT_WRITER_CHARS:SHORT_VERSION])
        except KeyError:
            return f"{key}: {field} is not a value storagebench wrote ({value!r})"
        if value != _short(key, field, value[:SHORT_VERSION], len(value)):
            return (f"{key}: {field} is {value!r}, which was never written for this key and field "
                    f"(corrupted or misplaced value)")
        return Version(writer, seq)

    def random_bytes_per_record(self) -> float:
        """Bytes of a loaded record's values that no compression can save: the random body of each value
        that is not fixed, at its shortest, at log2(90) bits a character (short values are a function of
        key, field and write: nothing is random in them)."""
        body = max(0, self.shortest - HEADER)
        randoms = [f for f in self.fields if f not in self.fixed and f != self.docfield]
        return len(randoms) * body * math.log2(len(BODY_ALPHABET)) / 8

    def mismatch(self, key: str, got: Mapping[str, str], fields: Sequence[str] | None) -> str | None:
        """None if every requested field is present and each value is one written for key and field."""
        expected = fields if fields is not None else self.fields
        if set(got) != set(expected):
            return f"{key}: fields {sorted(got)} != expected {sorted(expected)}"
        for f in expected:
            verdict = self.check(key, f, got[f])
            if isinstance(verdict, str):
                return verdict
        return None
