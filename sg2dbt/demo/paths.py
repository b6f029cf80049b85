"""Where the demo studio (schema and example marts) lives, installed or in a checkout.

A wheel carries ``examples/studio`` as package data at ``sg2dbt/demo/studio`` (hatch ``force-include`` in
pyproject.toml), so ``pip install .`` is enough for ``sg2dbt demo``. An editable install runs from the
checkout, where hatch does not apply ``force-include``: there the files are read from ``examples/studio``
at the repository root. One copy in the repository, found either way.
"""

from __future__ import annotations

from pathlib import Path

from sg2dbt.core.errors import Sg2dbtError

# Where a wheel puts the studio: pyproject.toml's force-include names this path (tested).
PACKAGED = Path(__file__).resolve().parent / "studio"
CHECKOUT = Path(__file__).resolve().parents[2] / "examples" / "studio"


def studio_dir() -> Path:
    """The directory holding ``schema.json`` and ``marts/``."""
    for candidate in (PACKAGED, CHECKOUT):
        if (candidate / "schema.json").is_file():
            return candidate
    raise Sg2dbtError(f"the demo studio is missing: neither {PACKAGED} nor {CHECKOUT} holds schema.json "
                      f"(reinstall sg2dbt)")


def schema_path() -> Path:
    return studio_dir() / "schema.json"


def marts_dir() -> Path:
    return studio_dir() / "marts"
