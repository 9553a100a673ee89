"""S3 API, served by the Versity S3 Gateway (versitygw, Apache-2.0) on a local directory.

``versitygw`` is built from the Go module proxy into the cache (``go install``, version stamped with
``-ldflags`` so its start-up banner names it) and runs its *posix* backend: every bucket is a directory
under ``<data>/s3/buckets``, every object a file.  Object metadata goes into extended attributes; where
the filesystem refuses user xattrs, the gateway's sidecar option keeps it in ``<data>/s3/meta`` instead.

Credentials: the root account's access key and secret are generated once per home, kept in
``<data>/s3/credentials.json`` (0600) and in the endpoints file (0600), and given to the gateway
through its environment (``ROOT_ACCESS_KEY`` / ``ROOT_SECRET_KEY``), never on its command line.  A
gateway started by an older recipe (fixed keys, no credentials file) keeps its keys until restarted.
The gateway listens on 127.0.0.1 only.  Neither the S3 protocol nor versitygw's ``Server`` header
carries a version: the probe checks the header is versitygw's and reports the version this project
built, which adapters label "configured".
"""

from __future__ import annotations

import errno
import json
import os
import secrets
from pathlib import Path
from typing import Any

from storagebench.services.base import ProcessSpec, Service
from storagebench.services.build import go_binary, go_env
from storagebench.services.ports import local_ports

#: the only versitygw the Go module proxy serves here
VERSITYGW = "v1.8.0"
#: the engine's well-known ports (role -> port); ``STORAGEBENCH_PORT_OFFSET`` shifts them all
BASE_PORTS: dict[str, int] = {"http": 7070}
#: what the engine binds and the adapter uses by default
PORTS = local_ports(BASE_PORTS)

VERSITYGW_PACKAGE = "github.com/versity/versitygw/cmd/versitygw"
#: the fixed keys of gateways started by older recipes (used only while no credentials file exists)
LEGACY_KEYS = ("sbench-access-key", "sbench-secret-key")
REGION = "us-east-1"
#: what the gateway sends as its ``Server`` response header
SERVER_HEADER = "VERSITYGW"


class VersityGatewayService(Service):
    name = "s3"
    base_ports = BASE_PORTS
    description = f"S3 API by versitygw {VERSITYGW} (posix backend on a local directory)"
    start_timeout = 60.0

    @property
    def binary(self) -> Path:
        return self.ctx.cache / "go" / f"versitygw-{VERSITYGW}" / "versitygw"

    @property
    def bucket_root(self) -> Path:
        return self.data_dir / "buckets"

    @property
    def sidecar_dir(self) -> Path:
        return self.data_dir / "meta"

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.host}:{self.ports['http']}"

    @property
    def credentials_file(self) -> Path:
        return self.data_dir / "credentials.json"

    def keys(self) -> tuple[str, str]:
        """(access key, secret) of the root account."""
        try:
            data = json.loads(self.credentials_file.read_text())
            return str(data["access_key"]), str(data["secret_key"])
        except (OSError, ValueError, KeyError):
            return LEGACY_KEYS

    def _generate_keys(self) -> None:
        if self.credentials_file.exists():
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        keys = {"access_key": "sbench" + secrets.token_hex(8), "secret_key": secrets.token_urlsafe(30)}
        fd = os.open(self.credentials_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(keys, out)

    def provision(self) -> None:
        self._generate_keys()
        if not self.binary.exists():
            env = {**go_env(self.ctx.cache), "GOBIN": str(self.binary.parent)}
            self.binary.parent.mkdir(parents=True, exist_ok=True)
            self.step(f"go install versitygw {VERSITYGW} (a few minutes the first time)",
                      [go_binary(), "install", "-p", "1", "-trimpath",
                       f"-ldflags=-X main.Version={VERSITYGW} -X main.Build=go-module-proxy",
                       f"{VERSITYGW_PACKAGE}@{VERSITYGW}"],
                      cwd=self.binary.parent, env=env)
        self.bucket_root.mkdir(parents=True, exist_ok=True)

    def xattrs_work(self) -> bool:
        """Whether the bucket directory's filesystem takes user extended attributes."""
        probe = self.data_dir / ".xattr-probe"
        probe.touch()
        try:
            os.setxattr(probe, "user.storagebench", b"1")
            return True
        except OSError as exc:
            if exc.errno in (errno.ENOTSUP, errno.EOPNOTSUPP, errno.EPERM, errno.EACCES):
                return False
            raise
        finally:
            probe.unlink(missing_ok=True)

    def processes(self) -> list[ProcessSpec]:
        argv = [str(self.binary), "--region", REGION,
                "--port", f"{self.host}:{self.ports['http']}", "--keep-alive", "--quiet",
                "posix"]
        if not self.xattrs_work():
            self.sidecar_dir.mkdir(parents=True, exist_ok=True)
            argv += ["--sidecar", str(self.sidecar_dir)]
        argv.append(str(self.bucket_root))
        access, secret = self.keys()
        return [ProcessSpec("gateway", argv, env={"ROOT_ACCESS_KEY": access, "ROOT_SECRET_KEY": secret},
                            cwd=self.data_dir)]

    def probe(self) -> str:
        import boto3
        from botocore.config import Config

        access, secret = self.keys()
        client = boto3.client("s3", endpoint_url=self.endpoint_url, region_name=REGION,
                              aws_access_key_id=access, aws_secret_access_key=secret,
                              config=Config(s3={"addressing_style": "path"}, connect_timeout=3,
                                            read_timeout=5, retries={"max_attempts": 1}))
        try:
            reply = client.list_buckets()
        finally:
            client.close()
        server = reply["ResponseMetadata"]["HTTPHeaders"].get("server", "")
        if server != SERVER_HEADER:
            raise RuntimeError(f"{self.endpoint_url} answered with Server: {server!r}, not versitygw")
        return f"versitygw {VERSITYGW.removeprefix('v')} (posix backend)"

    def endpoints(self) -> dict[str, Any]:
        access, secret = self.keys()
        return {"endpoint_url": self.endpoint_url, "region": REGION, "access_key": access,
                "secret_key": secret, "path_style": True, "server_version_hint": VERSITYGW.removeprefix("v")}


#: the engine ``storagebench services`` starts for this store
SERVICE = VersityGatewayService
