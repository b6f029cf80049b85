"""Hypothesis strategies for the damaged values a site or a dump can hand the loader: the one source of
misfits that the value rules, the column-wise converter and the DuckDB SQL path are all checked against."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

# Text that a value rule coerces (numeric and boolean strings, dates) or refuses (NUL, a lone surrogate,
# an id past 64 bits).
TRICKY_TEXT = ("12", "1.5", "true", "False", "1e3", "2024-05-01", "x\x00", "\ud800", "2024-05-01T10:00:00Z",
               "9223372036854775808")


def damaged_values(*more: st.SearchStrategy[Any], text: tuple[str, ...] = ()) -> st.SearchStrategy[Any]:
    """Scalars of every JSON kind (plus ``more``), and lists and link-shaped dicts of them, a few levels deep."""
    scalars = st.one_of(
        st.none(), st.booleans(), st.integers(min_value=-(2**65), max_value=2**65), st.floats(),
        st.text(max_size=8), st.sampled_from([*TRICKY_TEXT, *text]), *more)
    return st.recursive(scalars, lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(["type", "id", "name"]), inner, max_size=3)),
        max_leaves=6)
