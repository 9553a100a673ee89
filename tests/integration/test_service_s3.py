"""`storagebench services up/down s3` (versitygw) end to end, with boto3 (the adapter's client)."""

from __future__ import annotations

import uuid

import pytest
from storagebench.adapters.s3.service import VERSITYGW

from storagebench.cli import main
from storagebench.services import load_service
from storagebench.services.base import ServiceContext
from storagebench.services.manager import Manager, load_endpoints
from storagebench.testing.engines import pid_alive, require_engine

pytestmark = pytest.mark.engine("s3")


def test_up_write_read_down_up() -> None:
    require_engine("s3")
    import boto3
    from botocore.config import Config

    assert main(["services", "up", "s3"]) == 0
    ctx = ServiceContext(echo=lambda _m: None)
    endpoints = load_endpoints(ctx.home)["s3"]
    assert load_service("s3")(ctx).probe() == f"versitygw {VERSITYGW.removeprefix('v')} (posix backend)"

    client = boto3.client("s3", endpoint_url=endpoints["endpoint_url"], region_name=endpoints["region"],
                          aws_access_key_id=endpoints["access_key"], aws_secret_access_key=endpoints["secret_key"],
                          config=Config(s3={"addressing_style": "path"}))
    bucket = f"sbench-it-{uuid.uuid4().hex[:8]}"
    client.create_bucket(Bucket=bucket)
    client.put_object(Bucket=bucket, Key="k", Body=b"value")
    assert client.get_object(Bucket=bucket, Key="k")["Body"].read() == b"value"
    client.delete_object(Bucket=bucket, Key="k")
    client.delete_bucket(Bucket=bucket)

    manager = Manager(ctx, ["s3"], load_service)
    pids = [p.pid for p in manager.processes("s3") if p.alive]
    assert len(pids) == 1
    assert main(["services", "down", "s3"]) == 0
    assert not any(pid_alive(pid) for pid in pids)
    assert "s3" not in load_endpoints(ctx.home)

    assert main(["services", "up", "s3"]) == 0  # later tests still find it
    assert manager.is_up("s3")
