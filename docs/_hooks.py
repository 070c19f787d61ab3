"""MkDocs hooks for this site (mkdocs.yml: ``hooks``).

The package's docstrings use Sphinx roles (``:meth:`commit```), which Markdown renders as the
role name followed by code. Drop the role names so the API reference reads cleanly.
"""

from __future__ import annotations

import re
from typing import Any

_ROLE = re.compile(r":(?:py:)?(?:meth|func|class|attr|exc|mod|data|obj):(?=<code>)")


def on_page_content(html: str, **kwargs: Any) -> str:
    return _ROLE.sub("", html)
