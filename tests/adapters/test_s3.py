"""Conformance and S3-specific checks against the local versitygw (`storagebench services up s3`)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pytest
from storagebench.adapters.base import Adapter
from storagebench.adapters.s3.adapter import BATCH_PREFIX, S3Adapter, bucket_name
from storagebench.adapters.s3.service import VERSITYGW

from storagebench.errors import AlreadyExists, NotFound
from storagebench.testing.conformance import AdapterConformance
from storagebench.testing.engines import require_engine

pytestmark = pytest.mark.engine("s3")


@pytest.fixture
def options() -> dict[str, Any]:
    return require_engine("s3")


class TestS3(AdapterConformance):
    """Every driver passes the whole suite against the real server."""

    @pytest.fixture(params=["obstore", "boto3"])
    def adapter_factory(self, options: dict[str, Any], request: pytest.FixtureRequest) -> Callable[[], Adapter]:
        return lambda: S3Adapter({**options, "driver": request.param})


def test_driver_is_recorded(options: dict[str, Any]) -> None:
    for driver in ("obstore", "boto3"):
        with S3Adapter({**options, "driver": driver}) as adapter:
            assert adapter.client_info()["driver"].split() == [driver, adapter.client_info()[driver]]


def _raw(options: dict[str, Any]) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client("s3", endpoint_url=options["endpoint_url"], region_name=options["region"],
                        aws_access_key_id=options["access_key"], aws_secret_access_key=options["secret_key"],
                        config=Config(s3={"addressing_style": "path"}))


def test_bucket_names() -> None:
    assert bucket_name("sbench_t_abc") == "sbench-t-abc"
    with pytest.raises(ValueError):
        bucket_name("usertable")
    with pytest.raises(ValueError):
        bucket_name("sbench_")


def test_foreign_bucket_survives(options: dict[str, Any]) -> None:
    raw = _raw(options)
    foreign = f"usertable-{uuid.uuid4().hex[:8]}"
    raw.create_bucket(Bucket=foreign)
    try:
        raw.put_object(Bucket=foreign, Key="k", Body=b"v")
        ns = f"sbench_fk_{uuid.uuid4().hex[:8]}"
        with S3Adapter(options) as adapter:
            adapter.prepare(ns, ["field0"])
            adapter.insert(ns, "k", {"field0": "a"})
            adapter.drop(ns)
        assert raw.get_object(Bucket=foreign, Key="k")["Body"].read() == b"v"
        assert bucket_name(ns) not in [b["Name"] for b in raw.list_buckets()["Buckets"]]
    finally:
        raw.delete_object(Bucket=foreign, Key="k")
        raw.delete_bucket(Bucket=foreign)


def test_server_info_is_versitygw(options: dict[str, Any]) -> None:
    with S3Adapter(options) as adapter:
        info = adapter.server_info()
    assert info.engine == "versitygw"
    assert info.details["Server header"] == "VERSITYGW"
    assert info.version == VERSITYGW.removeprefix("v")


def test_endpoint_none_means_aws_with_virtual_hosted_addressing() -> None:
    for value in (None, "", "aws"):
        adapter = S3Adapter({"endpoint_url": value, "region": "eu-west-1", "access_key": "a", "secret_key": "b"})
        assert adapter.options.endpoint_url is None
        adapter.connect()
        try:
            url = adapter.client.generate_presigned_url("get_object", Params={"Bucket": "sbench-x", "Key": "k"})
        finally:
            adapter.close()
        assert url.startswith("https://sbench-x.s3.")
        assert "amazonaws.com/k?" in url


def test_secrets_are_hidden() -> None:
    adapter = S3Adapter({"access_key": "AKIA-visible?", "secret_key": "s3cr3t-key", "session_token": "t0ken-x"})
    for text in (repr(adapter.options), str(adapter.options.model_dump()), adapter.options.model_dump_json()):
        assert "s3cr3t-key" not in text and "t0ken-x" not in text and "AKIA-visible?" not in text


def test_conditional_insert_parquet_batches_and_listing(options: dict[str, Any]) -> None:
    ns = f"sbench_pq_{uuid.uuid4().hex[:8]}"
    with S3Adapter(options) as adapter:
        adapter.prepare(ns, ["field0"])
        try:
            adapter.insert(ns, "k1", {"field0": "a"})
            with pytest.raises(AlreadyExists):
                adapter.insert(ns, "k1", {"field0": "b"})
            with pytest.raises(NotFound):
                adapter.update(ns, "nope", {"field0": "x"})
            adapter.write_batch(ns, pa.table({"key": ["b2", "b1"], "field0": ["y", "x"]}))
            adapter.write_batch(ns, pa.table({"key": ["b3"], "field0": ["z"]}))
            # batch objects are Parquet under the reserved prefix, invisible to scans
            raw = _raw(options)
            listed = [o["Key"] for o in raw.list_objects_v2(Bucket=bucket_name(ns))["Contents"]]
            assert sum(k.startswith(BATCH_PREFIX) and k.endswith(".parquet") for k in listed) == 2
            assert [k for k, _ in adapter.scan(ns, "", 10)] == ["k1"]
            back = adapter.read_batch(ns, ["field0"])
            assert back.to_pydict() == {"key": ["b1", "b2", "b3", "k1"], "field0": ["x", "y", "z", "a"]}
        finally:
            adapter.drop(ns)
