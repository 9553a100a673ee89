"""The document workload's records: one nested document per record, known exactly to the harness.

A record of a document workload holds, in its document field (``docfield``, by default the last field), an
order as a JSON object::

    {"customer": "c0042", "placed": 1634567890, "status": "shipped:AAB00000fKx7Q", "items": [{"sku":
     "sku01234", "qty": 2, "price": 1999}, ...]}

* ``customer`` (one of ``doccustomers`` values) and ``items`` (one to three line items) are a function of
  the key, never rewritten: which records a find by customer must return is known while updates run.
* ``placed`` (when the order was placed, in seconds since the epoch, uniform over five years from 2020) is
  a function of the key too, never rewritten: a range query (``find_range``) asks for the orders placed in
  ``[lo, hi)``, a window :func:`range_width` wide, so it returns about ``docrangerecords`` of them.
* ``status`` is the one nested field the run phase updates (``update_nested``): a state word, then the
  write's version as a value's header carries it (writer, sequence number) and a CRC over key, field,
  version and word, so a reader tells which write of the key it sees and the ledger judges it as it
  judges any field (:meth:`Document.check` returns that version).  The document as a whole has the
  version of its status: the load writes version (0, 0), each nested update the writer's next one.

Stores with a document model keep the object as one (PostgreSQL ``jsonb``, a MongoDB embedded document,
SQLite's and DuckDB's JSON functions over the text); the others keep the JSON text in the field and the
adapter base class answers finds and nested updates on the client (EMULATED).  Every store returns the
document as JSON text: the check parses it, so key order and spacing are free.
"""

from __future__ import annotations

import json
import zlib
from typing import Any

from storagebench.workloads.values import CRC_CHARS, LOAD_WRITER, SEQ_CHARS, WRITER_CHARS, Version, seq_chars
from storagebench.workloads.values import _crc as crc_of
from storagebench.workloads.values import _crc_chars as crc_chars
from storagebench.workloads.values import _decode as decode
from storagebench.workloads.values import _encode as encode

#: the nested field a find filters on (never rewritten), the number a range query filters on (never
#: rewritten), and the one the nested update sets
FIND_PATH = "customer"
RANGE_PATH = "placed"
UPDATE_PATH = "status"
#: what an order's status says, before its version
STATES = ("pending", "paid", "packed", "shipped", "delivered")
#: line items per order: 1..MAX_ITEMS
MAX_ITEMS = 3
_TOP = frozenset({"customer", "placed", "status", "items"})
#: ``placed``: seconds since the epoch, from 2020-01-01 over five years (1,827 days)
PLACED_FROM = 1_577_836_800
PLACED_SPAN = 1_827 * 86_400
_VERSION = WRITER_CHARS + SEQ_CHARS


def _draw(key: str, what: str) -> int:
    return zlib.crc32(f"{key}/{what}".encode())


class Document:
    """The documents of one workload: what each key's holds, and the check a reader makes."""

    def __init__(self, field: str, customers: int) -> None:
        self.field = field
        self.customers = customers

    def customer_value(self, group: int) -> str:
        return f"c{group:05d}"

    def customer_of(self, key: str) -> str:
        return self.customer_value(_draw(key, "customer") % self.customers)

    def placed_of(self, key: str) -> int:
        return PLACED_FROM + _draw(key, "placed") % PLACED_SPAN

    def items_of(self, key: str) -> list[dict[str, Any]]:
        count = 1 + _draw(key, "items") % MAX_ITEMS
        return [{"sku": f"sku{_draw(key, f'sku{i}') % 100_000:05d}", "qty": 1 + _draw(key, f"qty{i}") % 5,
                 "price": 100 + _draw(key, f"price{i}") % 9_900} for i in range(count)]

    def status(self, key: str, writer: int, seq: int) -> str:
        """The status write ``seq`` of ``writer`` gives ``key``: ``word:`` then writer, sequence and CRC."""
        version = encode(writer, WRITER_CHARS) + seq_chars(seq)
        word = STATES[_draw(key, version) % len(STATES)]
        return f"{word}:{version}{crc_chars(crc_of(key, self.field, version, word))}"

    def render(self, key: str, writer: int = LOAD_WRITER, seq: int = 0) -> str:
        """The document text of ``key`` as write (``writer``, ``seq``) leaves it."""
        return json.dumps({"customer": self.customer_of(key), "placed": self.placed_of(key),
                           "status": self.status(key, writer, seq),
                           "items": self.items_of(key)}, separators=(",", ":"))

    def check(self, key: str, value: str) -> Version | str:
        """The version of a document read for ``key`` (its status's), or what is wrong with it."""
        try:
            doc = json.loads(value)
        except (TypeError, ValueError):
            return f"{key}: {self.field} is not a JSON document ({str(value)[:40]!r})"
        if not isinstance(doc, dict) or set(doc) != _TOP:
            keys = sorted(doc) if isinstance(doc, dict) else type(doc).__name__
            return f"{key}: {self.field} has {keys}, expected an object with {sorted(_TOP)}"
        if doc["customer"] != self.customer_of(key):
            return f"{key}: {self.field}.customer is {doc['customer']!r}, expected {self.customer_of(key)!r}"
        placed = doc["placed"]
        if type(placed) is not int or placed != self.placed_of(key):
            return f"{key}: {self.field}.placed is {placed!r}, expected the number {self.placed_of(key)}"
        if doc["items"] != self.items_of(key):
            return f"{key}: {self.field}.items are {str(doc['items'])[:80]}, expected {self.items_of(key)}"
        return self.check_status(key, doc["status"])

    def check_status(self, key: str, status: Any) -> Version | str:
        word, sep, tag = status.partition(":") if isinstance(status, str) else ("", "", "")
        if not sep or len(tag) != _VERSION + CRC_CHARS:
            return f"{key}: {self.field}.status is {str(status)[:40]!r}, not a status storagebench wrote"
        version = tag[:_VERSION]
        try:
            writer, seq = decode(version[:WRITER_CHARS]), decode(version[WRITER_CHARS:])
            crc = decode(tag[_VERSION:])
        except KeyError:
            return f"{key}: {self.field}.status is {status[:40]!r}, not a status storagebench wrote"
        if crc != crc_of(key, self.field, version, word) or word != STATES[_draw(key, version) % len(STATES)]:
            return (f"{key}: {self.field}.status {status!r} was never written for this key (corrupted or "
                    f"misplaced value)")
        return Version(writer, seq)


def range_width(records: int, per_range: int) -> int:
    """How wide a window of ``placed`` holds ``per_range`` of ``records`` orders on average (at least 1 s)."""
    return max(1, min(PLACED_SPAN, -(-PLACED_SPAN * per_range // max(1, records))))


def path_value(document: str, path: str) -> Any:
    """The value at ``path`` (a top-level name) of a document given as JSON text (None when absent)."""
    try:
        doc = json.loads(document)
    except (TypeError, ValueError):
        return None
    return doc.get(path) if isinstance(doc, dict) else None


def set_path(document: str, path: str, value: str) -> str:
    """The document text with ``path`` (a top-level name) set to ``value``."""
    doc = json.loads(document)
    doc[path] = value
    return json.dumps(doc, separators=(",", ":"))
