"""The storage conformance suite against Azure Blob Storage, served by Azurite on 127.0.0.1.

Azurite comes from npm (``scripts/test.sh`` installs it under ``.cache/node``). Without it the
tests are skipped, except under ``CI=true`` where a missing server is a failure.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import email.utils
import hashlib
import hmac
import pickle
import re
import shutil
import subprocess
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _require import unavailable

from icechunk import StorageRetriesSettings
from icechunk._exceptions import ObjectNotFoundError
from icechunk.credentials import azure_static_credentials
from icechunk.storage import azure_storage
from icechunk.storage._backend import StorageBackend
from icechunk.storage._specs import AzureSpec

from .conformance import MakeBackend, RemoteBackendTests, StorageBackendTests

ACCOUNT = "devstoreaccount1"
# Azurite's well-known development key (public, documented by Microsoft).
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
REPO_ROOT = Path(__file__).resolve().parents[2]


def _azurite_executable() -> str | None:
    local = REPO_ROOT / ".cache" / "node" / "node_modules" / ".bin" / "azurite-blob"
    if local.exists():
        return str(local)
    return shutil.which("azurite-blob")


@pytest.fixture(scope="module")
def azurite_endpoint() -> Iterator[str]:
    executable = _azurite_executable()
    if executable is None:
        unavailable("azurite is not installed (npm install --prefix .cache/node azurite)")
    workspace = tempfile.mkdtemp(prefix="azurite-")
    process = subprocess.Popen(
        [
            executable,
            "--blobHost",
            "127.0.0.1",
            "--blobPort",
            "0",
            "--inMemoryPersistence",
            "--disableTelemetry",
            "--skipApiVersionCheck",
            "--silent",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=workspace,
    )
    try:
        yield f"http://127.0.0.1:{_wait_for_port(process)}/{ACCOUNT}"
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
        shutil.rmtree(workspace, ignore_errors=True)


def _wait_for_port(process: subprocess.Popen[str]) -> int:
    deadline = time.monotonic() + 60
    assert process.stdout is not None
    seen = []
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        seen.append(line)
        match = re.search(r"listens on http://127\.0\.0\.1:(\d+)", line)
        if match:
            return int(match.group(1))
    raise RuntimeError("azurite did not start: " + "".join(seen))


def create_container(endpoint: str, name: str) -> None:
    """Create a container with a Shared Key signed request (no Azure SDK needed)."""
    date = email.utils.formatdate(usegmt=True)
    version = "2021-08-06"
    string_to_sign = (
        "PUT" + "\n" * 12 + f"x-ms-date:{date}\nx-ms-version:{version}\n"
        f"/{ACCOUNT}/{ACCOUNT}/{name}\nrestype:container"
    )
    digest = hmac.new(base64.b64decode(KEY), string_to_sign.encode(), hashlib.sha256).digest()
    request = urllib.request.Request(
        f"{endpoint}/{name}?restype=container",
        method="PUT",
        headers={
            "x-ms-date": date,
            "x-ms-version": version,
            "Authorization": f"SharedKey {ACCOUNT}:{base64.b64encode(digest).decode()}",
            "Content-Length": "0",
        },
    )
    with urllib.request.urlopen(request) as response:
        assert response.status == 201


@pytest.fixture
def container(azurite_endpoint: str) -> str:
    name = f"c{uuid.uuid4().hex[:20]}"
    create_container(azurite_endpoint, name)
    return name


def make_spec(endpoint: str, container: str, prefix: str | None = "repo") -> AzureSpec:
    return AzureSpec(
        account=ACCOUNT,
        container=container,
        prefix=prefix,
        credentials=None,
        config={"endpoint": endpoint, "account_key": KEY},
        retries=StorageRetriesSettings(max_tries=2, initial_backoff_ms=10, max_backoff_ms=100),
    )


class TestAzureBackend(StorageBackendTests):
    @pytest.fixture
    def backend(self, azurite_endpoint: str, container: str) -> StorageBackend:
        return make_spec(azurite_endpoint, container).make_backend()


class TestAzureRemote(RemoteBackendTests):
    @staticmethod
    def conditional_put(method: str, target: str, headers: dict[str, str]) -> bool:
        return method == "PUT" and ("if-none-match" in headers or "if-match" in headers)

    @pytest.fixture
    def endpoint(self, azurite_endpoint: str) -> str:
        return azurite_endpoint

    @pytest.fixture
    def make_backend(self, azurite_endpoint: str, container: str) -> MakeBackend:
        def make(prefix: str | None, endpoint: str | None = None, retries: Any = None) -> Any:
            # Azurite's endpoint names the account in its path (a proxy's URL does not)
            url = azurite_endpoint if endpoint is None else f"{endpoint}/{ACCOUNT}"
            spec = make_spec(url, container, prefix)
            return dataclasses.replace(spec, retries=retries or spec.retries).make_backend()

        return make


def test_azure_storage_factory(azurite_endpoint: str, container: str) -> None:
    variants: list[dict[str, Any]] = [
        {"account": ACCOUNT, "access_key": KEY},
        {"account_name": ACCOUNT, "account_key": KEY},
    ]
    for keywords in variants:
        storage = azure_storage(
            container=container,
            prefix="factory",
            config={"endpoint": azurite_endpoint},
            **keywords,
        )
        assert container in repr(storage)
        copy = pickle.loads(pickle.dumps(storage))
        asyncio.run(storage._backend().put("k", b"v"))
        assert asyncio.run(copy._backend().get("k")) == b"v"
        asyncio.run(storage._backend().delete(["k"]))
        with pytest.raises(ObjectNotFoundError):
            asyncio.run(copy._backend().get("k"))


def test_azure_static_credentials_spec(azurite_endpoint: str, container: str) -> None:
    spec = AzureSpec(
        ACCOUNT,
        container,
        "static",
        azure_static_credentials(access_key=KEY),
        {"endpoint": azurite_endpoint},
    )
    backend = spec.make_backend()
    asyncio.run(backend.put("k", b"v"))
    assert asyncio.run(backend.get("k")) == b"v"


def test_conflicting_azure_aliases() -> None:
    with pytest.raises(ValueError):
        azure_storage(account="a", account_name="b", container="c", prefix="p")
    with pytest.raises(TypeError):
        azure_storage(container="c", prefix="p")
