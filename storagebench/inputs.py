"""Reading what users hand in (config and workload files): size-limited, UTF-8, bounded nesting.

Every problem is a :class:`UsageError` naming the file: one line on stderr, exit 2, never a traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from storagebench.errors import UsageError

#: config and workload files larger than this are refused (``-P /dev/zero`` stops here, not at 3.5 GB)
MAX_INPUT_BYTES = 10 * 2**20
#: mappings and lists nested deeper than this are refused (a workload needs two levels)
MAX_DEPTH = 32


def read_text(path: Path, what: str) -> str:
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_INPUT_BYTES + 1)
    except OSError as exc:
        raise UsageError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    if len(data) > MAX_INPUT_BYTES:
        raise UsageError(f"{what} {path} is larger than {MAX_INPUT_BYTES // 2**20} MB; refusing to read it")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{what} {path} is not UTF-8 text (byte {exc.start}); save it as UTF-8") from None


def check_depth(data: Any, where: str, limit: int = MAX_DEPTH) -> None:
    stack = [(data, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > limit:
                raise UsageError(f"{where} is nested deeper than {limit} levels")
            stack.extend((v, depth + 1) for v in (item.values() if isinstance(item, dict) else item))


def load_yaml(text: str, where: str) -> Any:
    """YAML (safe loader), refusing documents nested too deeply to be settings."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise UsageError(f"{where} is not valid YAML: {str(exc).splitlines()[0]}") from None
    except RecursionError:
        raise UsageError(f"{where} is nested deeper than {MAX_DEPTH} levels") from None
    check_depth(data, where)
    return data
