"""S3 served by moto on 127.0.0.1: the server fixture and a bucket maker, shared by test modules.

moto must be installed (``moto[server]``, in the test extra). Without it the tests are skipped,
except under ``CI=true`` where a missing server is a failure. Import the fixture into a test
module (``from _helpers.s3 import moto_server``) to use ``moto_endpoint`` there.
"""

from __future__ import annotations

import logging
import os
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from _require import unavailable

REGION = "us-east-1"


def atomic_conditional_puts() -> None:
    """Make moto's conditional PUTs atomic, as S3's are.

    moto checks ``If-Match`` / ``If-None-Match`` and then writes, with no lock between: under
    concurrent requests two compare-and-swap writes on one version can both succeed, which S3
    never allows. Serializing its object writes keeps the emulator to S3's guarantee.
    """
    from moto.s3.responses import S3Response

    if getattr(S3Response.put_object, "atomic", False):
        return
    lock = threading.Lock()
    plain_put = S3Response.put_object

    def put_object(self: Any, *args: Any, **kwargs: Any) -> Any:
        with lock:
            return plain_put(self, *args, **kwargs)

    put_object.atomic = True  # type: ignore[attr-defined]
    S3Response.put_object = put_object  # type: ignore[method-assign]


@pytest.fixture(scope="module", name="moto_endpoint")
def moto_server() -> Iterator[str]:
    """The URL of a moto S3 server (one per test module)."""
    try:
        from moto.server import ThreadedMotoServer
    except ImportError:
        unavailable("moto[server] is not installed")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    atomic_conditional_puts()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def s3_client(endpoint: str) -> Any:
    """A boto3 client for the moto server."""
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def new_bucket(endpoint: str, stem: str = "test") -> str:
    """Create a bucket with a fresh name and return the name."""
    name = f"{stem}-{uuid.uuid4().hex[:16]}"
    s3_client(endpoint).create_bucket(Bucket=name)
    return name
