"""What every benchmark shares: BENCHMARKS.md, where each one rewrites only its own ``## `` section, and the
peak-memory runs, each size in a fresh process."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

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


def in_fresh_processes(script: str, sizes: list[int], extra: Sequence[str] = ()) -> list[dict[str, Any]]:
    """``script --memory-child N [extra...]`` for each size, each in a new interpreter (peak RSS is per
    process), and the JSON line each child prints last."""
    out = []
    for n in sizes:
        proc = subprocess.run([sys.executable, script, "--memory-child", str(n), *extra], check=True,
                              capture_output=True, text=True)
        out.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    return out
