"""Import a generated ``sgmodel.py`` in a fresh interpreter and report what it defines, as JSON.

A fresh interpreter is the only honest check: the test process already has sg2dbt and the schema loaded, so
an import there could succeed on state the standalone module does not carry itself.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

_PROBE = r"""
import json, sys
import sqlalchemy as sa
import sgmodel

report = {"classes": {}, "databases": {}}
for entity, cls in sgmodel.CLASSES.items():
    tbl = cls.__table__
    pk = list(tbl.primary_key.columns)
    report["classes"][entity] = {
        "class": cls.__name__,
        "is_entity_class": isinstance(cls, type) and issubclass(cls, sgmodel.Base) and cls is not sgmodel.Base,
        "doc": cls.__doc__,
        "table": tbl.name,
        "columns": {c.name: {"attr": attr, "doc": c.doc, "type": type(c.type).__name__}
                    for attr, c in cls.__mapper__.columns.items()},
        "pk": [c.name for c in pk],
        "autoincrement": [c.autoincrement for c in pk] + [tbl.autoincrement_column is not None],
        "foreign_keys": len(tbl.foreign_keys),
    }
for url in sys.argv[1:]:
    engine = sa.create_engine(url)
    sgmodel.Base.metadata.create_all(engine)
    with engine.begin() as conn:
        for cls in sgmodel.CLASSES.values():
            conn.execute(sa.insert(cls.__table__).values(id=7))
        counts = {cls.__table__.name: conn.execute(sa.select(sa.func.count()).select_from(cls.__table__)).scalar()
                  for cls in sgmodel.CLASSES.values()}
    report["databases"][url.split(":")[0]] = {"tables": sorted(sa.inspect(engine).get_table_names()),
                                               "rows": counts}
    engine.dispose()
report["imports_sg2dbt"] = any(m == "sg2dbt" or m.startswith("sg2dbt.") for m in sys.modules)
print(json.dumps(report))
"""


def probe(module_dir: Path, *, databases: bool = True) -> dict[str, Any]:
    """Import ``module_dir/sgmodel.py`` in a new interpreter; with ``databases``, create_all on SQLite and
    DuckDB files in ``module_dir`` and insert one row per table. Fails with the child's stderr."""
    urls = [f"sqlite:///{module_dir / 'probe.sqlite'}", f"duckdb:///{module_dir / 'probe.duckdb'}"] if databases else []
    code = f"import sys; sys.path.insert(0, {str(module_dir)!r})\n" + _PROBE
    done = subprocess.run([sys.executable, "-I", "-c", code, *urls], cwd=module_dir, capture_output=True, text=True,
                          timeout=300, check=False)
    if done.returncode != 0:
        raise AssertionError(f"generated module failed in a fresh interpreter:\n{done.stderr}")
    report: dict[str, Any] = json.loads(done.stdout)
    return report
