"""An S3 server (moto) on 127.0.0.1 that enforces credentials, in a child process.

moto's request authentication is a process-wide setting, so the server runs in its own process:
turning it on in the test process would break every other moto server there. Run as a script
it serves until stdin closes; :func:`serve_s3_with_auth` starts and stops it for a test.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from _require import unavailable

KEY_ID = "virtual-reader"
SECRET = "virtual-secret-123"


@contextmanager
def serve_s3_with_auth() -> Iterator[str]:
    """Yield the endpoint URL of a moto S3 server that accepts only ``KEY_ID``/``SECRET``.

    A missing moto fails the test under ``CI=true`` and skips it otherwise.
    """
    try:
        import moto  # noqa: F401
    except ImportError:
        unavailable("moto[server] is not installed")
    child = subprocess.Popen(
        [sys.executable, __file__],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        if not line.startswith("http://"):
            raise RuntimeError(f"the S3 server did not start: {line!r}")
        yield line.strip()
    finally:
        if child.stdin is not None:
            child.stdin.close()
        try:
            child.wait(10)
        except subprocess.TimeoutExpired:
            child.kill()


def _serve() -> None:
    import logging

    from moto import settings
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.iam.models import iam_backends
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    iam = iam_backends[DEFAULT_ACCOUNT_ID]["aws"]
    iam.create_user(region_name="us-east-1", user_name="reader")
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    iam.put_user_policy("reader", "allow-all", json.dumps(policy))
    key = iam.create_access_key("reader")
    iam.access_keys.pop(key.physical_resource_id, None)
    key.access_key_id = KEY_ID
    key.secret_access_key = SECRET
    iam.access_keys[key.physical_resource_id] = key
    settings.INITIAL_NO_AUTH_ACTION_COUNT = 0
    print(f"http://{host}:{port}", flush=True)
    sys.stdin.read()  # serve until the parent closes our stdin
    server.stop()


if __name__ == "__main__":
    _serve()
