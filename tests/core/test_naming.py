"""The naming rules: snake_case tables, identifier normalization, 63-character shortening, reserved words."""

from __future__ import annotations

import keyword
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sg2dbt.core import naming


@pytest.mark.parametrize(
    ("api_name", "table"),
    [("HumanUser", "human_user"), ("CustomEntity01", "custom_entity01"), ("APIUser", "api_user"),
     ("Shot", "shot"), ("PipelineConfiguration", "pipeline_configuration"),
     ("CustomNonProjectEntity15", "custom_non_project_entity15"), ("TaskDependency", "task_dependency")],
)
def test_table_names_are_snake_case_of_the_api_name(api_name: str, table: str) -> None:
    assert naming.table_name(api_name) == table


@pytest.mark.parametrize(
    ("raw", "ident"),
    [("sg_status_list", "sg_status_list"), ("Foo Bar", "foo_bar"), ("a-b", "a_b"), ("9lives", "_9lives"),
     ("", "_"), ("caf\u00e9", "caf_"), ('it\'s "q"', "it_s__q_")],
)
def test_identifiers_are_lower_case_ascii(raw: str, ident: str) -> None:
    assert naming.identifier(raw) == ident


def test_sg_field_names_are_kept_as_they_are(real_schema_path: Path) -> None:
    from sg2dbt.schema import sources

    schema = sources.from_path(real_schema_path)
    for entity in schema:
        for name in entity.fields:
            assert naming.identifier(name) == name, f"{entity.name}.{name}"


def test_shorten_keeps_63_characters_deterministically() -> None:
    long_a = "sg_" + "a" * 77
    long_b = "sg_" + "a" * 76 + "b"
    short_a, short_b = naming.identifier(long_a), naming.identifier(long_b)
    assert len(short_a) == len(short_b) == naming.MAX_IDENTIFIER
    assert short_a != short_b                       # same 54-char prefix, different hash
    assert short_a[:54] == long_a[:54]
    assert short_a == naming.identifier(long_a)     # stable across calls
    assert naming.identifier("x" * 63) == "x" * 63  # at the limit: untouched


@given(st.text(min_size=1, max_size=200))
def test_identifier_is_always_legal(raw: str) -> None:
    ident = naming.identifier(raw)
    assert 1 <= len(ident) <= naming.MAX_IDENTIFIER
    assert ident.isascii()
    assert ident == ident.lower()
    assert ident.replace("_", "a").isalnum()
    assert not ident[0].isdigit()


_MODULE_DUNDERS = frozenset(k for k in vars(keyword) if k.startswith("__")) | {"__annotations__"}


@given(st.text(min_size=1, max_size=120))
def test_class_name_is_a_python_identifier_not_shadowing_the_module(raw: str) -> None:
    name = naming.class_name(raw)
    assert name.isidentifier() and name.isascii()
    assert not keyword.iskeyword(name) and not keyword.issoftkeyword(name)
    assert name not in naming.MODULE_NAMES
    assert name not in _MODULE_DUNDERS


@pytest.mark.parametrize(("entity", "cls"), [("Shot", "Shot"), ("CustomEntity01", "CustomEntity01"),
                                             ("Base", "Base_"), ("CLASSES", "CLASSES_"), ("class", "class_"),
                                             ("1st", "E_1st"), ("Bad Name", "Bad_Name"),
                                             ("__name__", "__name___")])
def test_class_names(entity: str, cls: str) -> None:
    assert naming.class_name(entity) == cls


@pytest.mark.parametrize(("column", "attr"), [("code", "code"), ("metadata", "metadata_"),
                                              ("registry", "registry_"), ("class", "class_"),
                                              ("from", "from_"), ("match", "match"), ("user", "user"),
                                              ("sa", "sa_"), ("mapped_column", "mapped_column_"),
                                              ("__foo", "sg__foo"), ("_sa_x", "sg_sa_x"), ("__", "sg__"),
                                              ("_sg_retired", "_sg_retired")])
def test_attribute_names(column: str, attr: str) -> None:
    assert naming.attribute_name(column) == attr


@pytest.mark.parametrize("word", ["user", "order", "group", "select", "USER", "Order"])
def test_sql_keywords_are_reserved(word: str) -> None:
    assert naming.is_reserved(word)


@pytest.mark.parametrize("word", ["code", "project", "sg_status_list", "description"])
def test_ordinary_names_are_not_reserved(word: str) -> None:
    assert not naming.is_reserved(word)


@pytest.mark.parametrize("word", ["user", "order", "group"])
def test_reserved_words_are_quoted_where_the_database_reserves_them(word: str) -> None:
    """Keeping reserved names is only safe because the emitted SQL quotes them, on every dialect alike (one DDL
    file serves every target, and SQLite and MySQL do not reserve ``user``); the DDL tests run the result."""
    from sg2dbt.core.layout import plan
    from sg2dbt.core.model import Entity, Field, Schema
    from sg2dbt.emit.ddl import DIALECTS, create_statements, dialect
    from sg2dbt.emit.metadata import build_metadata

    entity = word.title()
    layout = plan(Schema.of([Entity.of(entity, entity, [Field(entity, "id", "number"), Field(entity, word, "text")])]))
    for name in ("postgresql", "duckdb"):
        assert dialect(name).identifier_preparer.quote(word) == f'"{word}"'
    for name in DIALECTS:
        preparer = dialect(name).identifier_preparer
        if word in preparer.reserved_words:
            assert preparer.quote(word) != word, (name, word)
        ddl = create_statements(build_metadata(layout), name)
        assert ddl.count(preparer.quote_identifier(word)) == 2, (name, ddl)   # the table and its column


# --- the staging layer's naming convention -----------------------------------------------------------------

def test_display_name_convention_names_models_by_display_name_and_falls_back_on_shared_names(tmp_path: Path) -> None:
    from sg2dbt.core.model import Entity, Field

    def entity(name: str, display: str) -> Entity:
        return Entity(name=name, display_name=display,
                      fields={"id": Field(entity=name, name="id", data_type="number")})

    pairs = [(entity("CustomEntity01", "Episode"), "custom_entity01"),
             (entity("CustomEntity02", "Disk Location"), "custom_entity02"),
             (entity("CustomEntity03", "Thing"), "custom_entity03"),
             (entity("CustomEntity04", "thing"), "custom_entity04")]
    stems = naming.DisplayNameConvention().stems(pairs)
    assert stems == {"CustomEntity01": "episode", "CustomEntity02": "disk_location",
                     "CustomEntity03": "custom_entity03", "CustomEntity04": "custom_entity04"}
    assert naming.NamingConvention().stems(pairs)["CustomEntity01"] == "custom_entity01"


def test_a_subclassed_convention_renames_every_model_it_names(tmp_path: Path) -> None:
    """A studio's own convention (Python API): one overridden method, and the built project follows it."""
    from sg2dbt.core.errors import ProjectError
    from sg2dbt.emit.project import ProjectOptions, build_project
    from sg2dbt.schema import sources
    from tests.conftest import REPO

    class Studio(naming.NamingConvention):
        def staging_model(self, stem: str) -> str:
            return self.shorten(f"base_{stem}")

        def entity_key(self, stem: str) -> str:
            return self.shorten(f"{stem}_pk")

    schema = sources.from_path(REPO / "examples" / "studio" / "schema.json")
    build_project(schema, tmp_path, ProjectOptions(source_name="sg", convention=Studio()))
    models = sorted(p.name for p in (tmp_path / "models" / "staging" / "sg").glob("*.sql"))
    assert models and all(m.startswith("base_") for m in models), models
    shot = (tmp_path / "models" / "staging" / "sg" / "base_shot.sql").read_text()
    assert " as shot_pk" in shot and "source('sg', 'shot')" in shot
    bridges = list((tmp_path / "models" / "staging" / "sg" / "bridges").glob("*.sql"))
    assert bridges and all(b.name.startswith("stg_sg__") for b in bridges)   # not overridden: the project's source
    with pytest.raises(ProjectError, match="choose one"):
        ProjectOptions(convention=Studio(), name_by_display=True)
