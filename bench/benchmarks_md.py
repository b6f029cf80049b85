"""BENCHMARKS.md is shared by every benchmark: each one rewrites only its own ``## `` section."""

from __future__ import annotations

import re
from pathlib import Path

BENCHMARKS_MD = Path(__file__).resolve().parent.parent / "BENCHMARKS.md"


def write_section(section: str, text: str, path: Path = BENCHMARKS_MD) -> None:
    """Replace the section headed ``section`` (up to the next ``## `` heading) with ``text``, or append it."""
    current = path.read_text() if path.exists() else "# Benchmarks\n\n"
    pattern = re.compile(rf"^{re.escape(section)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(current):
        new = pattern.sub(lambda _: text + "\n", current, count=1)
    else:
        new = current.rstrip("\n") + "\n\n" + text + "\n"
    path.write_text(new)
