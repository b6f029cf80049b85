"""Write a rendered project, refreshing only what sg2dbt generated.

``.sg2dbt/generated.json`` records every file sg2dbt wrote with the SHA-256 of what it wrote. On a refresh:

* a listed file still holding what sg2dbt wrote is rewritten (or deleted when its entity is gone);
* a listed file the user edited is kept and reported, also when its entity is gone, and stays listed with
  its old hash, so it is reported again until the user deletes it (then it is regenerated if still needed);
* a file that is not listed is the user's: never written or deleted. If sg2dbt would need its path, the
  build stops with one error before writing anything (unless the file already holds exactly our text).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from sg2dbt.core.errors import ProjectError

MANIFEST = ".sg2dbt/generated.json"


def _sha(text: str | bytes) -> str:
    return hashlib.sha256(text.encode("utf-8") if isinstance(text, str) else text).hexdigest()


@dataclass
class WriteReport:
    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    kept_edited: list[str] = field(default_factory=list)


def read_manifest(out: Path) -> dict[str, str]:
    path = out / MANIFEST
    if not path.is_file():
        return {}
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        files = doc["files"]
        if not isinstance(files, dict):
            raise TypeError("files is not a mapping")
    except (ValueError, KeyError, TypeError) as exc:
        raise ProjectError(f"{path}: not a manifest sg2dbt can read ({exc}); delete it to start over") from exc
    return {str(k): str(v) for k, v in files.items()}


def _current(path: Path) -> str | None:
    return _sha(path.read_bytes()) if path.is_file() else None


def write_project(files: dict[str, str], out: Path) -> WriteReport:
    """Write ``files`` under ``out`` with the refresh rules above; returns what happened to each path."""
    old = read_manifest(out)
    conflicts = sorted(rel for rel, text in files.items()
                       if rel not in old and (out / rel).exists() and _current(out / rel) != _sha(text))
    if conflicts:
        shown = ", ".join(conflicts[:5]) + (f" (+{len(conflicts) - 5} more)" if len(conflicts) > 5 else "")
        raise ProjectError(f"{out}: files that sg2dbt did not generate are in the way: {shown}; move them "
                           f"or build into another directory")
    try:
        return _apply(files, out, old)
    except OSError as exc:
        raise ProjectError(f"{out}: cannot write the project: {exc}") from exc


def _apply(files: dict[str, str], out: Path, old: dict[str, str]) -> WriteReport:
    report = WriteReport()
    manifest: dict[str, str] = {}
    for rel, text in files.items():
        path, new = out / rel, _sha(text)
        current = _current(path)
        if rel in old and current is not None and current != old[rel]:
            report.kept_edited.append(rel)
            manifest[rel] = old[rel]
            continue
        manifest[rel] = new
        if current == new:
            report.unchanged.append(rel)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode("utf-8"))
        report.written.append(rel)
    for rel in sorted(set(old) - set(files)):
        path = out / rel
        current = _current(path)
        if current is None:
            continue
        if current != old[rel]:
            report.kept_edited.append(rel)  # edited, then its entity went away: kept, and still reported
            manifest[rel] = old[rel]
            continue
        path.unlink()
        report.removed.append(rel)
        _prune_empty(path.parent, out)
    (out / MANIFEST).parent.mkdir(parents=True, exist_ok=True)
    doc = {"generator": "sg2dbt", "files": dict(sorted(manifest.items()))}
    (out / MANIFEST).write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    return report


def _prune_empty(directory: Path, root: Path) -> None:
    """Remove directories that deleting a stale file left empty, up to (not including) the project root."""
    root = root.resolve()
    d = directory.resolve()
    while d != root and root in d.parents and d.is_dir() and not any(d.iterdir()):
        d.rmdir()
        d = d.parent
