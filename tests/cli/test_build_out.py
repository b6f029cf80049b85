"""``sg2dbt build --out DIR``: a directory holding unrelated files (``/``, a home folder) is refused unless --force."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

Cli = Callable[..., tuple[int, str, str]]


def test_build_into_a_directory_of_other_files_is_refused_unless_forced(cli: Cli, real_schema_path: Path,
                                                                         tmp_path: Path) -> None:
    out = tmp_path / "Documents"
    out.mkdir()
    (out / "thesis.docx").write_text("mine", encoding="utf-8")
    args = ("build", "--schema", str(real_schema_path), "--only", "Shot", "--out", str(out))
    code, _, err = cli(*args)
    assert code == 2
    assert [ln for ln in err.splitlines() if ln.strip()] == [
        f"sg2dbt: error: {out}: not empty and not an sg2dbt project (it holds thesis.docx); build into a new or "
        f"empty directory, or pass --force to write beside those files"]
    assert sorted(p.name for p in out.iterdir()) == ["thesis.docx"]
    code, _, err = cli(*args, "--force")
    assert code == 0, err
    assert (out / "dbt_project.yml").is_file() and (out / "thesis.docx").read_text(encoding="utf-8") == "mine"
    # once it is a project, refreshing it needs no --force; neither does a new or an empty directory
    assert cli(*args)[0] == 0
    (tmp_path / "empty").mkdir()
    for target in ("empty", "new"):
        code, _, err = cli("build", "--schema", str(real_schema_path), "--only", "Shot", "--out",
                           str(tmp_path / target))
        assert code == 0, err
