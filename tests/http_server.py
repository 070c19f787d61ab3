"""A range-capable, read-only HTTP server (wsgidav) over a directory, on 127.0.0.1."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from _require import unavailable


@contextmanager
def serve_directory(root: Path) -> Iterator[str]:
    """Serve ``root`` read-only; yield the base URL (ending in ``/``).

    A missing wsgidav fails the test under ``CI=true`` and skips it otherwise.
    """
    try:
        from cheroot import wsgi
        from wsgidav.wsgidav_app import WsgiDAVApp
    except ImportError:
        unavailable("wsgidav/cheroot are not installed")
    app = WsgiDAVApp(
        {
            "provider_mapping": {"/": {"root": str(root), "readonly": True}},
            "simple_dc": {"user_mapping": {"*": True}},
            "verbose": 0,
            "logging": {"enable": False, "enable_loggers": []},
            "dir_browser": {"enable": False},
        }
    )
    server = wsgi.Server(("127.0.0.1", 0), app)
    server.prepare()
    thread = threading.Thread(target=server.serve, daemon=True)
    thread.start()
    host, port = server.bind_addr[:2]
    try:
        yield f"http://{host}:{port}/"
    finally:
        server.stop()
        thread.join(10)
