"""Reading the event log: what counts as a change of which record (SPEC field notes on EventLogEntry)."""

from __future__ import annotations

from typing import Any

from sg2dbt.sync.events import WINDOW, Position, parse, poll


class Log:
    """A site's event log as ``find`` serves it (ids visible so far); counts the calls."""

    def __init__(self) -> None:
        self.events: dict[int, dict[str, Any]] = {}
        self.finds = 0

    def add(self, eid: int, event_type: str, entity_type: str | None = None, rid: int | None = None,
            link: bool = True, **meta: Any) -> None:
        m = {"entity_type": entity_type, "entity_id": rid, **meta} if entity_type else meta
        self.events[eid] = {"id": eid, "event_type": event_type, "meta": m,
                            "entity": {"type": entity_type, "id": rid} if link and entity_type else None}

    def find(self, entity: str, filters: list[Any], fields: list[str], **kw: Any) -> list[dict[str, Any]]:
        self.finds += 1
        after = filters[0][2]
        return [e for i, e in sorted(self.events.items()) if i > after]


SELECTION = {"Shot", "Asset", "Task"}


def test_changes_grouped_by_record_from_meta_even_when_the_entity_link_is_null() -> None:
    log = Log()
    log.add(1, "Shotgun_Shot_New", "Shot", 5)
    log.add(2, "Shotgun_Shot_Change", "Shot", 5, attribute_name="code")
    log.add(3, "Shotgun_Shot_Retirement", "Shot", 6, link=False)    # retired: SG nulls the link
    log.add(4, "Shotgun_Asset_Revival", "Asset", 2)
    batch = poll(log, Position(), SELECTION)
    assert batch.changed == {"Shot": {5, 6}, "Asset": {2}}
    assert batch.events == 4 and batch.position.last == 4 and log.finds == 1


def test_back_reference_changes_the_referrer() -> None:
    log = Log()
    log.add(1, "Shotgun_Task_Change", "Task", 9, attribute_name="entity")
    log.add(2, "Shotgun_Shot_Change", "Shot", 7, attribute_name="tasks", original_event_log_entry_id=1)
    assert poll(log, Position(), SELECTION).changed == {"Task": {9}, "Shot": {7}}


def test_meta_types_other_domains_and_unselected_entities_are_ignored() -> None:
    log = Log()
    log.add(1, "Shotgun_Reading_Change", "Reading", 3)
    log.add(2, "Toolkit_App_Startup")
    log.add(3, "Shotgun_Note_New", "Note", 4)               # not in the selection
    log.add(4, "Shotgun_User_Login")                         # not a record change
    log.add(5, "Shotgun_Shot_Change", "Shot", None)          # no record id
    batch = poll(log, Position(), SELECTION)
    assert batch.changed == {} and not batch.schema_changed and batch.events == 5


def test_a_field_created_on_the_site_marks_the_schema_changed() -> None:
    log = Log()
    log.add(1, "Shotgun_DisplayColumn_New", "DisplayColumn", 77)
    assert poll(log, Position(), SELECTION).schema_changed


def test_an_event_id_that_commits_late_is_read_once() -> None:
    log = Log()
    log.add(10, "Shotgun_Shot_Change", "Shot", 1)
    log.add(12, "Shotgun_Shot_Change", "Shot", 2)
    first = poll(log, Position(), SELECTION)
    assert first.changed == {"Shot": {1, 2}} and first.position.last == 12

    log.add(11, "Shotgun_Asset_Change", "Asset", 3)          # its transaction committed after 12's
    second = poll(log, first.position, SELECTION)
    assert second.changed == {"Asset": {3}} and second.events == 1

    third = poll(log, second.position, SELECTION)             # nothing new: nothing counted again
    assert third.changed == {} and third.events == 0 and third.position == second.position


def test_the_window_behind_the_cursor_stays_small() -> None:
    log = Log()
    for eid in range(1, 3 * WINDOW):
        log.add(eid, "Shotgun_Shot_Change", "Shot", eid)
    batch = poll(log, Position(), SELECTION)
    assert len(batch.position.seen) == WINDOW and min(batch.position.seen) == 2 * WINDOW
    assert poll(log, batch.position, SELECTION).events == 0


def test_a_start_position_counts_every_older_event_as_read() -> None:
    log = Log()
    for eid in range(1, 6):
        log.add(eid, "Shotgun_Shot_Change", "Shot", eid)
    assert poll(log, Position.at(5), SELECTION).events == 0


def test_parse_names_kind_entity_and_record() -> None:
    assert parse({"event_type": "Shotgun_CustomEntity05_New", "meta": {"entity_id": 3}, "entity": None}) == (
        "New", "CustomEntity05", 3)
    assert parse({"event_type": "Shotgun_Shot_Change", "meta": None, "entity": {"type": "Shot", "id": 4}}) == (
        "Change", "Shot", 4)
    assert parse({"event_type": "Shotgun_Shot_Frobnicate"}) is None
    assert parse({"event_type": None}) is None
