"""The storage conformance suite against S3, served by moto on 127.0.0.1 (see
``_helpers.s3``)."""

from __future__ import annotations

import asyncio
import dataclasses
import pickle
from typing import Any

import pytest
from _helpers.s3 import REGION, moto_server, new_bucket

from icechunk import StorageRetriesSettings
from icechunk.credentials import s3_static_credentials
from icechunk.storage import s3_storage
from icechunk.storage._backend import StorageBackend
from icechunk.storage._object_store import ObjectStoreBackend
from icechunk.storage._specs import S3Spec

from .conformance import MakeBackend, RemoteBackendTests, StorageBackendTests
from .fault_proxy import fault_proxy

moto_endpoint = moto_server  # the fixture, also imported from here by test_cli.py
FAST_RETRIES = StorageRetriesSettings(max_tries=2, initial_backoff_ms=10, max_backoff_ms=100)


@pytest.fixture
def bucket(moto_endpoint: str) -> str:
    return new_bucket(moto_endpoint)


def make_spec(endpoint: str, bucket: str, prefix: str | None = "repo", **extra: Any) -> S3Spec:
    return S3Spec(
        bucket=bucket,
        prefix=prefix,
        region=REGION,
        endpoint_url=endpoint,
        allow_http=True,
        credentials=s3_static_credentials(access_key_id="testing", secret_access_key="testing"),
        retries=FAST_RETRIES,
        **extra,
    )


class TestS3Backend(StorageBackendTests):
    new_version_on_identical_write = False  # S3 ETags are MD5 digests of the content

    @pytest.fixture
    def backend(self, moto_endpoint: str, bucket: str) -> StorageBackend:
        return make_spec(moto_endpoint, bucket).make_backend()


class TestS3BackendWithoutPrefix(StorageBackendTests):
    new_version_on_identical_write = False

    @pytest.fixture
    def backend(self, moto_endpoint: str, bucket: str) -> StorageBackend:
        return make_spec(moto_endpoint, bucket, prefix=None).make_backend()


class TestS3Remote(RemoteBackendTests):
    @staticmethod
    def conditional_put(method: str, target: str, headers: dict[str, str]) -> bool:
        return method == "PUT" and ("if-none-match" in headers or "if-match" in headers)

    @pytest.fixture
    def endpoint(self, moto_endpoint: str) -> str:
        return moto_endpoint

    @pytest.fixture
    def make_backend(self, moto_endpoint: str, bucket: str) -> MakeBackend:
        def make(prefix: str | None, endpoint: str | None = None, retries: Any = None) -> Any:
            spec = make_spec(endpoint or moto_endpoint, bucket, prefix)
            return dataclasses.replace(spec, retries=retries or spec.retries).make_backend()

        return make


def test_s3_storage_factory_round_trip(moto_endpoint: str, bucket: str) -> None:
    storage = s3_storage(
        bucket=bucket,
        prefix="factory",
        region=REGION,
        endpoint_url=moto_endpoint,
        allow_http=True,
        access_key_id="testing",
        secret_access_key="testing",
    )
    assert bucket in repr(storage) and "S3" in repr(storage)
    backend = storage._backend()
    assert isinstance(backend, ObjectStoreBackend)
    asyncio.run(backend.put("k", b"v"))
    copy = pickle.loads(pickle.dumps(storage))
    assert asyncio.run(copy._backend().get("k")) == b"v"


FETCHES: list[int] = []


def fetch_testing_credentials() -> Any:
    """Module level, so cloudpickle pickles it by reference and FETCHES is this module's."""
    from icechunk.credentials import S3StaticCredentials

    FETCHES.append(1)
    return S3StaticCredentials("testing", "testing")


def test_s3_storage_refreshable_credentials(moto_endpoint: str, bucket: str) -> None:
    FETCHES.clear()
    storage = s3_storage(
        bucket=bucket,
        prefix="refresh",
        region=REGION,
        endpoint_url=moto_endpoint,
        allow_http=True,
        get_credentials=fetch_testing_credentials,
    )
    asyncio.run(storage._backend().put("k", b"v"))
    assert asyncio.run(storage._backend().get("k")) == b"v"
    assert FETCHES  # the function was used
    copy = pickle.loads(pickle.dumps(storage))
    assert asyncio.run(copy._backend().get("k")) == b"v"


def test_commit_survives_a_reset_ref_update(moto_endpoint: str, bucket: str) -> None:
    import numpy as np
    import zarr

    import icechunk

    with fault_proxy(moto_endpoint) as proxy:
        storage = s3_storage(
            bucket=bucket,
            prefix="reset",
            region=REGION,
            endpoint_url=proxy.url,
            allow_http=True,
            access_key_id="testing",
            secret_access_key="testing",
        )
        repo = icechunk.Repository.create(storage)
        session = repo.writable_session("main")
        zarr.create_array(session.store, name="x", shape=(4,), dtype="i4")[:] = 7
        proxy.reset(
            lambda m, t, h: TestS3Remote.conditional_put(m, t, h) and "ref.json" in t, times=1
        )
        snapshot = session.commit("through a reset")
        assert proxy.resets and "refs/branch.main/ref.json" in proxy.resets[0]
        assert repo.lookup_branch("main") == snapshot
        read = zarr.open_array(repo.readonly_session("main").store, path="x", mode="r")
        np.testing.assert_array_equal(read[:], 7)
