"""Run configuration: defaults, a YAML/TOML file, environment overrides, command-line flags.

Precedence for a store's options (later wins): the adapter's defaults < the endpoints file written by
``storagebench services up`` < the config file's ``options.<store>`` < ``STORAGEBENCH_<STORE>_<OPTION>``
environment variables.  Everything is validated before anything is created.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from storagebench.adapters.base import AdapterOptions
from storagebench.durability import DEFAULT_PROFILE, Profile
from storagebench.errors import UsageError
from storagebench.registry import available, load_adapter
from storagebench.running.runner import STALL_TIMEOUT_S
from storagebench.services.manager import load_endpoints


#: the embedded default: stores that need no server
def default_stores() -> list[str]:
    """The stores of a plain ``storagebench run``: every registered adapter that declares ``default_store``."""
    from storagebench.registry import available, load_adapter

    return [name for name in sorted(available()) if load_adapter(name).default_store]


DEFAULT_WORKLOADS = ["a", "b", "c", "d", "e", "f", "delete", "query"]
ENV_PREFIX = "STORAGEBENCH_"


class RunConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    stores: list[str] = Field(default_factory=default_stores, min_length=1)
    workloads: list[str] = Field(default_factory=lambda: list(DEFAULT_WORKLOADS))
    #: total client workers, placed by :func:`storagebench.running.runner.client_layout` (a process each, up to
    #: two per core); exclusive with an explicit ``threads``/``processes`` layout
    clients: int | None = Field(default=None, ge=1, le=4096)
    threads: int = Field(default=1, ge=1, le=1024)
    processes: int = Field(default=1, ge=1, le=256)
    seed: int = Field(default=42, ge=0)
    results_dir: Path = Path("results")
    #: the run folder's name (namespaces never derive from it: see suite.new_run_token)
    run_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
    #: YCSB properties applied to every workload, over what the workload files say (e.g. recordcount)
    properties: dict[str, Any] = Field(default_factory=dict)
    #: per-store adapter options
    options: dict[str, dict[str, Any]] = Field(default_factory=dict)
    report: bool = True
    #: where the client workers run: "local" (threads x processes) or "spark" (one worker per partition)
    engine: Literal["local", "spark"] = "local"
    spark_master: str = "local[2]"
    #: extra Spark settings (``--spark-conf KEY=VALUE``), e.g. spark.pyspark.python for remote executors
    spark_conf: dict[str, str] = Field(default_factory=dict)
    #: measure each (store, workload) this many times, the order of stores shuffled per repeat (seeded)
    repeat: int = Field(default=1, ge=1, le=1000)
    #: a named profile (storagebench.profiles): record counts, durations, repeats, sweeps
    profile: str | None = None

    @field_validator("profile")
    @classmethod
    def _known_profile(cls, value: str | None) -> str | None:
        from storagebench.profiles import PROFILES

        if value is not None and value not in PROFILES:
            raise ValueError(f"unknown profile {value!r}: choose one of {', '.join(PROFILES)}")
        return value
    #: a phase with no successful operation for this many seconds is aborted (the store is not answering)
    stall_timeout: float = Field(default=STALL_TIMEOUT_S, gt=0, le=86_400)
    #: what an acknowledged write must mean on every store of the run (storagebench.durability)
    durability: Profile = DEFAULT_PROFILE
    #: the network between clients and engines (storagebench.services.network.PROFILES)
    network: str = "loopback"
    #: a fault injected into each run phase, KIND@SECONDS[:DURATION] (storagebench.running.faults)
    fault: str | None = None
    #: before each run phase, restart the engine (when `services up` started it) and drop the OS page cache
    #: (storagebench.running.cache); otherwise the caches are as the load left them ("as found")
    cold: bool = False

    @field_validator("fault")
    @classmethod
    def _known_fault(cls, value: str | None) -> str | None:
        from storagebench.running.faults import FaultSpec

        if value is not None:
            FaultSpec.parse(value)
        return value

    @field_validator("network")
    @classmethod
    def _known_network(cls, value: str) -> str:
        from storagebench.services.network import PROFILES as NETWORKS

        if value not in NETWORKS:
            raise ValueError(f"unknown network profile {value!r}: choose one of {', '.join(NETWORKS)}")
        return value

    @model_validator(mode="after")
    def _one_layout(self) -> RunConfig:
        if self.clients is not None and {"threads", "processes"} & self.model_fields_set:
            raise ValueError("give either clients (placed automatically) or threads/processes, not both")
        return self

    def placement(self, multiprocess: bool = True, cooperative: bool = False) -> tuple[int, int, bool]:
        """(processes, clients, cooperative) for a store: the default spread for ``clients`` (clients that
        share a process share its thread when the store is ``cooperative``), else threads x processes."""
        if self.clients is None:
            return self.processes, self.threads * self.processes, False
        from storagebench.running.runner import client_layout

        processes, clients = client_layout(self.clients, multiprocess, cooperative=cooperative)
        return processes, clients, cooperative


def _problems(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'config'}: {e['msg']}" for e in exc.errors())


def load_config_file(path: Path) -> dict[str, Any]:
    from storagebench.inputs import check_depth, load_yaml, read_text

    text = read_text(path, "config file")
    if path.suffix == ".toml":
        try:
            data = tomllib.loads(text)
        except (tomllib.TOMLDecodeError, RecursionError) as exc:
            raise UsageError(f"config file {path} is malformed: {str(exc).splitlines()[0]}") from None
        check_depth(data, f"config file {path}")
    else:
        data = load_yaml(text, f"config file {path}")
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UsageError(f"config file {path} must be a mapping")
    return data


def build_config(file_data: dict[str, Any], flags: dict[str, Any]) -> RunConfig:
    for key in ("properties", "options"):
        if not isinstance(file_data.get(key, {}), dict):
            raise UsageError(f"invalid configuration: {key} must be a mapping, got {file_data[key]!r:.60}")
    for store, opts in (file_data.get("options") or {}).items():
        if not isinstance(opts, dict):
            raise UsageError(f"invalid configuration: options.{store} must be a mapping")
    data = {**file_data, **{k: v for k, v in flags.items() if v is not None}}
    if data.get("spark_master") is None:  # the cluster `services up spark` started, else local mode
        from storagebench.spark.session import default_master

        data["spark_master"] = default_master()
    if "spark_conf" in flags:
        data["spark_conf"] = {**file_data.get("spark_conf", {}), **flags["spark_conf"]}
    if "properties" in flags:
        data["properties"] = {**file_data.get("properties", {}), **flags["properties"]}
    if isinstance(data.get("profile"), str):
        from storagebench import profiles

        profile = profiles.get(data["profile"])
        props = data.get("properties", {})
        data["properties"] = {**profile.properties(), **(props if isinstance(props, dict) else {})}
        data.setdefault("repeat", profile.repeat)
    try:
        return RunConfig.model_validate(data)
    except ValidationError as exc:
        raise UsageError(f"invalid configuration: {_problems(exc)}") from None


def env_options(store: str, environ: dict[str, str] | None = None) -> dict[str, str]:
    """``STORAGEBENCH_<STORE>_<OPTION>`` settings of one store; those of a store whose name extends this
    one's (``paced_control`` for ``paced``) are that store's."""
    prefix = f"{ENV_PREFIX}{store.upper()}_"
    others = tuple(f"{ENV_PREFIX}{name.upper()}_" for name in available() if name.startswith(f"{store}_"))
    env = os.environ if environ is None else environ
    return {k[len(prefix):].lower(): v for k, v in env.items() if k.startswith(prefix) and not k.startswith(others)}


def store_options(store: str, config: RunConfig, environ: dict[str, str] | None = None) -> AdapterOptions:
    """The validated options of one store (raises UsageError naming the bad option)."""
    cls = load_adapter(store)
    merged: dict[str, Any] = {}
    merged.update(load_endpoints().get(store, {}))
    merged["durability"] = config.durability
    merged.update(config.options.get(store, {}))
    merged.update(env_options(store, environ))
    try:
        return cls.Options.model_validate(merged)
    except ValidationError as exc:
        raise UsageError(f"invalid options for store {store!r}: {_problems(exc)} "
                         f"(set them under options.{store} in the config file or as "
                         f"{ENV_PREFIX}{store.upper()}_<OPTION>)") from None


def plain_options(options: AdapterOptions) -> dict[str, Any]:
    """Options as plain values for worker processes (secrets revealed: never written anywhere)."""
    out: dict[str, Any] = {}
    for name in type(options).model_fields:
        value = getattr(options, name)
        if hasattr(value, "get_secret_value"):
            value = value.get_secret_value()
        out[name] = value
    return out


def redacted_options(options: AdapterOptions) -> dict[str, Any]:
    """Options for result files and logs: SecretStr fields come out as '**********'."""
    return options.model_dump(mode="json")
