"""Write the demo studio's synthetic dump: ``<Entity>.jsonl`` (and ``<Entity>.retired.jsonl``) per entity.

    python examples/generate_dump.py                 # into examples/dump/ (git-ignored)
    python examples/generate_dump.py --out /tmp/dump --seed 7

The same seed always gives byte-identical files. ``sg2dbt demo`` runs the same generator into its working
directory, so the dump (a few MB) is not committed; the logic lives in :mod:`sg2dbt.demo.generate`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from sg2dbt.demo.generate import DEFAULT_SEED, generate, write_dump
from sg2dbt.schema import sources

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--schema", type=Path, default=HERE / "studio" / "schema.json")
    parser.add_argument("--out", type=Path, default=HERE / "dump")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = parser.parse_args()
    dump = generate(sources.from_path(args.schema), args.seed)
    write_dump(dump, args.out)
    print(f"{'entity':16} {'live':>6} {'retired':>8}")
    for entity, rows in dump.live.items():
        print(f"{entity:16} {len(rows):6} {len(dump.retired[entity]):8}")
    live, retired = (sum(len(rows) for rows in part.values()) for part in (dump.live, dump.retired))
    print(f"{'total':16} {live:6} {retired:8}  -> {args.out}")


if __name__ == "__main__":
    main()
