"""Reading what users hand in (config and workload files, result files and manifests of run folders):
bounded before it is trusted.

* regular files only: a FIFO, a device or a socket is refused before it is opened (``open()`` of a FIFO
  without a writer blocks forever; ``/dev/zero`` never ends);
* a size limit on what is read;
* YAML whose work is bounded: the document is counted as if every alias were expanded, while it is being
  composed (each node once), so a "billion laughs" is refused after a bounded amount of work instead of
  being walked afterwards; nesting is bounded the same way.

Every problem with a config or workload file is a :class:`UsageError` naming the file: one line on
stderr, exit 2, never a traceback.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import yaml

from storagebench.errors import UsageError

#: config and workload files larger than this are refused
MAX_INPUT_BYTES = 10 * 2**20
#: mappings and lists nested deeper than this are refused (a workload needs two levels)
MAX_DEPTH = 32
#: values (scalars, lists, mappings) a YAML document may hold with every alias expanded; a settings file
#: has a few hundred
MAX_VALUES = 100_000

_KINDS = {stat.S_IFIFO: "a FIFO", stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device",
          stat.S_IFSOCK: "a socket", stat.S_IFDIR: "a directory"}


class InputRefused(Exception):
    """Why a file was not read ("is not a regular file (a FIFO)", "is larger than 10 MB", ...)."""


def _not_regular(mode: int) -> str | None:
    if stat.S_ISREG(mode):
        return None
    return f"is not a regular file ({_KINDS.get(stat.S_IFMT(mode), 'not a file')})"


def read_bounded(path: Path, limit: int) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes; raises :class:`InputRefused`."""
    try:
        why = _not_regular(os.stat(path).st_mode)
        if why:
            raise InputRefused(why)
        # O_NONBLOCK: a FIFO put in the file's place after the look above still cannot block the open
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise InputRefused(f"cannot be read: {exc.strerror or exc}") from None
    with os.fdopen(fd, "rb") as handle:
        why = _not_regular(os.fstat(fd).st_mode)
        if why:
            raise InputRefused(why)
        try:
            data = handle.read(limit + 1)
        except OSError as exc:
            raise InputRefused(f"cannot be read: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise InputRefused(f"is larger than {limit // 2**20} MB")
    return data


def read_text(path: Path, what: str) -> str:
    try:
        data = read_bounded(path, MAX_INPUT_BYTES)
    except InputRefused as exc:
        raise UsageError(f"{what} {path} {exc}; refusing to read it") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{what} {path} is not UTF-8 text (byte {exc.start}); save it as UTF-8") from None


def check_depth(data: Any, where: str, limit: int = MAX_DEPTH) -> None:
    """Nesting of parsed data without shared parts (TOML, JSON: the walk is as long as the input)."""
    stack = [(data, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > limit:
                raise UsageError(f"{where} is nested deeper than {limit} levels")
            stack.extend((v, depth + 1) for v in (item.values() if isinstance(item, dict) else item))


class _BoundedLoader(yaml.SafeLoader):
    """The safe loader, counting the document as composed: every node once, and every alias as the
    values and levels its anchored node expands to (known once that node is complete)."""

    def __init__(self, text: str, where: str) -> None:
        super().__init__(text)
        self.where = where
        self.depth = 0  # level of the node being composed
        self.deepest = 0  # deepest level reached, alias expansions included
        self.values = 0  # values of the expanded document so far
        self.expanded: dict[str, tuple[int, int]] = {}  # anchor -> (values, levels) of its node

    def _count(self, values: int, depth: int) -> None:
        self.values += values
        self.deepest = max(self.deepest, depth)
        if depth > MAX_DEPTH:
            raise UsageError(f"{self.where} is nested deeper than {MAX_DEPTH} levels")
        if self.values > MAX_VALUES:
            raise UsageError(f"{self.where} holds more than {MAX_VALUES:,} values with its aliases expanded")

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            node = super().compose_node(parent, index)
            size = self.expanded.get(str(event.anchor))
            if size is None:  # the anchored node is still being composed: it contains this alias
                raise UsageError(f"{self.where}: alias *{event.anchor} refers to a value that contains it")
            self._count(size[0], self.depth + size[1])
            return node
        before, outer = self.values, self.deepest
        self.depth += 1
        self.deepest = self.depth
        self._count(1, self.depth)
        node = super().compose_node(parent, index)
        if event.anchor is not None:
            self.expanded[event.anchor] = (self.values - before, self.deepest - self.depth + 1)
        self.depth -= 1
        self.deepest = max(self.deepest, outer)
        return node


def load_yaml(text: str, where: str) -> Any:
    """YAML (safe loader), refusing documents nested too deeply or too large to be settings."""
    try:
        loader = _BoundedLoader(text, where)  # the reader refuses unprintable characters here
        try:
            return loader.get_single_data()
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        raise UsageError(f"{where} is not valid YAML: {str(exc).splitlines()[0]}") from None
    except RecursionError:
        raise UsageError(f"{where} is nested deeper than {MAX_DEPTH} levels") from None
