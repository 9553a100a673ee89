"""Command line: ``storagebench run | list | report | services``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from storagebench import __version__
from storagebench.errors import StorageBenchError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="storagebench",
        description="Run identical YCSB-style workloads on many stores and compare them in one HTML report.",
    )
    parser.add_argument("--version", action="version", version=f"storagebench {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    from storagebench.services import cli as services_cli

    services_cli.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args))
    except StorageBenchError as exc:
        print(f"storagebench: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("storagebench: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
