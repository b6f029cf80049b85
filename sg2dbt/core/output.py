"""Writing one generated file where the user asked for it, failing as one clear error.

A path under a regular file, a read-only directory or a full disk is the user's to fix: it surfaces as a
:class:`OutputError` naming the path, not as an ``OSError`` traceback.
"""

from __future__ import annotations

import os
from pathlib import Path

from sg2dbt.core.errors import Sg2dbtError


class OutputError(Sg2dbtError):
    """An output file cannot be written."""


def write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path``, creating missing parent directories."""
    out = Path(path)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise OutputError(f"{out}: cannot write: {exc.strerror or exc}") from None
    return out
