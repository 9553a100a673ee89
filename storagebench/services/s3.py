"""S3 API, served by the Versity S3 Gateway (versitygw, Apache-2.0) on a local directory.

``versitygw`` is built from the Go module proxy into the cache (``go install``, version stamped with
``-ldflags`` so its start-up banner names it) and runs its *posix* backend: every bucket is a directory
under ``<data>/s3/buckets``, every object a file.  Object metadata goes into extended attributes; where
the filesystem refuses user xattrs, the gateway's sidecar option keeps it in ``<data>/s3/meta`` instead.

Credentials are fixed local defaults (single-account mode, no IAM service); the gateway listens on
127.0.0.1 only.  The S3 protocol does not carry a server version: the probe checks that the ``Server``
header is versitygw's and reports the version this project built.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any

from storagebench.services.base import ProcessSpec, Service
from storagebench.services.mongodb import go_binary, go_env
from storagebench.services.versions import VERSITYGW

VERSITYGW_PACKAGE = "github.com/versity/versitygw/cmd/versitygw"
#: local-only credentials of the gateway's root account (not secrets: the gateway binds to 127.0.0.1)
ACCESS_KEY = "sbench-access-key"
SECRET_KEY = "sbench-secret-key"
REGION = "us-east-1"
#: what the gateway sends as its ``Server`` response header
SERVER_HEADER = "VERSITYGW"


class VersityGatewayService(Service):
    name = "s3"
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

    def provision(self) -> None:
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
        argv = [str(self.binary), "--access", ACCESS_KEY, "--secret", SECRET_KEY, "--region", REGION,
                "--port", f"{self.host}:{self.ports['http']}", "--keep-alive", "--quiet",
                "posix"]
        if not self.xattrs_work():
            self.sidecar_dir.mkdir(parents=True, exist_ok=True)
            argv += ["--sidecar", str(self.sidecar_dir)]
        argv.append(str(self.bucket_root))
        return [ProcessSpec("gateway", argv, cwd=self.data_dir)]

    def probe(self) -> str:
        import boto3
        from botocore.config import Config

        client = boto3.client("s3", endpoint_url=self.endpoint_url, region_name=REGION,
                              aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
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
        return {"endpoint_url": self.endpoint_url, "region": REGION, "access_key": ACCESS_KEY,
                "secret_key": SECRET_KEY, "path_style": True, "server_version_hint": VERSITYGW.removeprefix("v")}
