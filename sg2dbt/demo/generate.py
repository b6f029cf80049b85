"""A synthetic but plausible studio, as ``find()`` would return it, for the demo and the tests.

Two productions (an episodic show with episodes, and a feature without), their sequences, shots, assets,
pipeline steps, tasks with bids, versions, notes and time logs. Records look like a JSON dump of
``sg.find(entity, [], fields)``: every field of the schema is present (``None`` when empty), links are
``{"type", "id", "name"}`` dicts, ``date`` values are ``'YYYY-MM-DD'``, ``date_time`` values are strings
with a UTC offset in the form ``str(datetime)`` writes (``'2026-03-02 10:15:00+01:00'``), ``url`` fields
are SG's url dicts. The numbers are related the way a real site's are: a task's ``time_logs_sum`` is the
sum of its live time logs, a finished shot has finished tasks, ``updated_at`` never precedes
``created_at``. A few records are retired (a shot created by mistake, time logged twice), as on any site.

Everything is derived from one seeded :class:`random.Random` and a fixed clock, so the same seed gives
byte-identical files: the tests compare the demo's report against numbers computed from these files.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from sg2dbt.core.errors import SchemaError
from sg2dbt.core.model import Schema
from sg2dbt.loader import dump as dump_format

Record = dict[str, Any]
T = TypeVar("T")

DEFAULT_SEED = 20260301
# The studio's "now": fixed, so output never depends on when the generator runs.
CLOCK = dt.datetime(2026, 3, 1, 18, 0, tzinfo=dt.timezone.utc)
# Offices whose artists write the records; SG keeps UTC, a JSON dump shows the writer's offset.
OFFSETS = (dt.timezone(dt.timedelta(hours=1)), dt.timezone(dt.timedelta(hours=-8)), dt.timezone.utc)

FIRST_NAMES = ("Ada", "Bruno", "Chen", "Dara", "Emil", "Farah", "Goran", "Hana", "Ines", "Jonas", "Kemi",
               "Lars", "Mei", "Nadia", "Omar", "Priya", "Quinn", "Rosa", "Sven", "Tariq", "Uma", "Vera",
               "Wen", "Yusuf", "Zoe")
LAST_NAMES = ("Okafor", "Lindqvist", "Tanaka", "Moreau", "Haddad", "Kowalski", "Silva", "Novak", "Brennan",
              "Ivanova", "Mensah", "Rossi", "Park", "Schmidt", "Dubois", "Khan")
DEPARTMENTS = ("Animation", "Compositing", "FX", "Layout", "Lighting", "Modeling")
SHOT_STEPS = (("Layout", "LAY", "60,140,200"), ("Animation", "ANM", "220,120,40"), ("FX", "FX", "170,60,200"),
              ("Lighting", "LGT", "240,200,40"), ("Comp", "CMP", "60,180,90"))
ASSET_STEPS = (("Model", "MOD", "120,120,220"), ("Rig", "RIG", "200,80,80"), ("Surface", "SRF", "90,200,200"))
STEP_DEPARTMENT = {"Layout": "Layout", "Animation": "Animation", "FX": "FX", "Lighting": "Lighting",
                   "Comp": "Compositing", "Model": "Modeling", "Rig": "Modeling", "Surface": "Lighting"}
ASSET_NAMES = {
    "Character": ("hero", "sidekick", "villain", "guard", "pilot", "crowd_a", "crowd_b", "robot"),
    "Prop": ("lantern", "radio", "map", "sword", "cup", "crate", "key", "phone"),
    "Environment": ("harbour", "forest", "rooftops", "station", "lab", "desert"),
    "Vehicle": ("truck", "boat", "airship", "bike"),
    "FX": ("smoke", "rain", "sparks", "dust"),
}
NOTE_SUBJECTS = ("Timing on the hit feels late", "Please check the edge on the roto", "Client loves the look",
                 "Match the grade to the previous shot", "Motion blur too strong", "Approved for comp",
                 "Silhouette reads poorly", "Add a beat before the turn", "Tracking slips at frame 1040",
                 "Fix the flicker in the sky")


class _Studio:
    """Builds the records entity by entity; ids are per entity type and start at 1, as on a fresh site."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.records: dict[str, list[Record]] = {}
        self.retired: set[tuple[str, int]] = set()

    # -- helpers ------------------------------------------------------------------------------------------
    def add(self, entity: str, record: Record, *, retired: bool = False) -> Record:
        rows = self.records.setdefault(entity, [])
        record = {"type": entity, "id": len(rows) + 1, **record}
        rows.append(record)
        if retired:
            self.retired.add((entity, record["id"]))
        return record

    @staticmethod
    def link(record: Record) -> dict[str, Any]:
        name = record.get("code") or record.get("name") or record.get("content") or record.get("subject")
        return {"type": record["type"], "id": record["id"], "name": name}

    def when(self, start: dt.datetime, end: dt.datetime) -> dt.datetime:
        span = max(int((end - start).total_seconds()), 1)
        return start + dt.timedelta(seconds=self.rng.randrange(span))

    def stamp(self, moment: dt.datetime) -> str:
        """A date_time as a JSON dump carries it: ``str()`` of an aware datetime in some office's zone."""
        return str(moment.replace(microsecond=0).astimezone(self.rng.choice(OFFSETS)))

    def audit(self, created: dt.datetime, author: Record, editor: Record | None = None,
              updated: dt.datetime | None = None) -> Record:
        updated = updated or self.when(created, CLOCK)
        return {"created_at": self.stamp(created), "updated_at": self.stamp(max(updated, created)),
                "created_by": self.link(author), "updated_by": self.link(editor or author)}

    def pick(self, rows: Sequence[T], k: int) -> list[T]:
        return self.rng.sample(rows, min(k, len(rows)))

    # -- entities -----------------------------------------------------------------------------------------
    def build(self) -> dict[str, list[Record]]:
        start = CLOCK - dt.timedelta(days=300)
        users = self.people(start)
        admin = users[0]
        steps = self.steps(start, admin)
        shows = [self.project("Night Shift", "Episodic", "Active", start, users, admin, budget=4_800_000.0),
                 self.project("Paper Moon", "Feature", "Active", start + dt.timedelta(days=60), users, admin,
                              budget=12_500_000.0)]
        for show, episodes in zip(shows, (5, 0), strict=True):
            self.production(show, episodes, users, steps)
        return self.records

    def people(self, start: dt.datetime) -> list[Record]:
        users: list[Record] = []
        for i in range(36):
            first, last = FIRST_NAMES[i % len(FIRST_NAMES)], LAST_NAMES[(i * 7) % len(LAST_NAMES)]
            login = f"{first[0]}{last}".lower() + (str(i) if i >= len(FIRST_NAMES) else "")
            department = "Production" if i < 4 else DEPARTMENTS[i % len(DEPARTMENTS)]
            created = start + dt.timedelta(days=i)
            record: Record = {"name": f"{first} {last}", "firstname": first, "lastname": last, "login": login,
                      "email": f"{login}@studio.example", "sg_department": department,
                      "sg_status_list": "dis" if i % 17 == 16 else "act", "password_proxy": "*******",
                      "locked_until": None, "image": None, "projects": [],
                      "created_at": self.stamp(created), "updated_at": self.stamp(self.when(created, CLOCK))}
            user = self.add("HumanUser", record)
            user["created_by"] = user["updated_by"] = self.link(users[0] if users else user)
            users.append(user)
        return users

    def steps(self, start: dt.datetime, admin: Record) -> dict[str, Record]:
        steps = {}
        for order, (code, short, color) in enumerate(SHOT_STEPS + ASSET_STEPS):
            entity_type = "Shot" if order < len(SHOT_STEPS) else "Asset"
            steps[code] = self.add("Step", {
                "code": code, "short_name": short, "color": color, "entity_type": entity_type,
                "list_order": order + 1, "description": f"{code} work on {entity_type.lower()}s",
                **self.audit(start, admin, updated=start)})
        return steps

    def project(self, name: str, kind: str, status: str, start: dt.datetime, users: list[Record],
                admin: Record, budget: float) -> Record:
        crew = users[: len(users) * 3 // 4] if kind == "Feature" else users[len(users) // 4:]
        project = self.add("Project", {
            "name": name, "sg_type": kind, "sg_status": status, "archived": False, "sg_budget": budget,
            "sg_description": f"{kind} production, {len(crew)} crew.",
            "start_date": start.date().isoformat(),
            "end_date": (start + dt.timedelta(days=420)).date().isoformat(),
            "billboard": {"url": f"https://studio.example/billboards/{name.lower().replace(' ', '_')}.jpg",
                          "name": f"{name} billboard", "link_type": "web", "content_type": "image/jpeg"},
            "tag_list": ["2026", kind.lower()], "users": [self.link(u) for u in crew],
            **self.audit(start, admin)})
        for user in crew:
            user["projects"].append(self.link(project))
        return project

    def production(self, project: Record, episodes: int, users: list[Record],
                   steps: dict[str, Record]) -> None:
        crew = [u for u in users if u["id"] in {link["id"] for link in project["users"]}]
        artists = [u for u in crew if u["sg_department"] != "Production"] or crew
        producers = [u for u in crew if u["sg_department"] == "Production"] or crew
        start = dt.datetime.fromisoformat(project["start_date"]).replace(tzinfo=dt.timezone.utc)
        prod = self.rng.choice(producers)
        base = {"project": self.link(project)}
        assets = self.assets(project, start, prod, base)
        sequences: list[Record] = []
        if episodes:
            for e in range(1, episodes + 1):
                episode = self.add("CustomEntity01", {
                    "code": f"EP{e:02d}", "description": f"Episode {e}",
                    "sg_status_list": "fin" if e == 1 else ("ip" if e <= 3 else "wtg"),
                    "sg_air_date": (start + dt.timedelta(days=200 + 14 * e)).date().isoformat(),
                    "sg_runtime": self.rng.randrange(21, 25) * 60_000 + self.rng.randrange(60) * 1000,
                    **base, **self.audit(start + dt.timedelta(days=e), prod)})
                sequences += [self.sequence(f"E{e:02d}_{s:02d}0", episode, start, prod, base)
                              for s in range(1, self.rng.randrange(3, 6))]
        else:
            sequences = [self.sequence(f"PM{s:02d}0", None, start, prod, base) for s in range(1, 9)]
        for i, sequence in enumerate(sequences):
            # Earlier sequences are further along: a realistic spread of shot statuses.
            progress = 1 - i / max(len(sequences) - 1, 1)
            for n in range(1, self.rng.randrange(8, 19)):
                self.shot(sequence, n, progress, assets, artists, prod, steps, base, start)
            if self.rng.random() < 0.3:
                # A shot created by mistake and deleted: SG keeps it retired, unlinked from its sequence.
                self.add("Shot", {"code": f"{sequence['code']}_9990", "sg_status_list": "wtg",
                                  "sg_sequence": self.link(sequence), "assets": [], "tag_list": [], **base,
                                  **self.audit(self.when(start, CLOCK), prod)}, retired=True)
        for asset in assets:
            self.tasks(asset, [steps[c] for c, _, _ in ASSET_STEPS], 0.8, artists, prod, base, start)
        self.notes(project, artists, producers, base)

    def assets(self, project: Record, start: dt.datetime, prod: Record, base: Record) -> list[Record]:
        assets = []
        for kind, names in ASSET_NAMES.items():
            for name in names:
                code = f"{project['name'].split()[0].lower()}_{name}"
                assets.append(self.add("Asset", {
                    "code": code, "sg_asset_type": kind, "description": f"{kind} {name.replace('_', ' ')}",
                    "sg_status_list": self.rng.choice(("fin", "fin", "ip", "rev", "wtg")), "shots": [],
                    "image": None, "tag_list": [kind.lower()], **base,
                    **self.audit(self.when(start, start + dt.timedelta(days=40)), prod)}))
        return assets

    def sequence(self, code: str, episode: Record | None, start: dt.datetime, prod: Record,
                 base: Record) -> Record:
        return self.add("Sequence", {
            "code": code, "description": f"Sequence {code}", "sg_status_list": "ip",
            "sg_episode": self.link(episode) if episode else None, "shots": [], "tag_list": [], **base,
            **self.audit(self.when(start, start + dt.timedelta(days=30)), prod)})

    def shot(self, sequence: Record, n: int, progress: float, assets: list[Record], artists: list[Record],
             prod: Record, steps: dict[str, Record], base: Record, start: dt.datetime) -> None:
        roll = self.rng.random()
        if roll < 0.03:
            status = "omt"
        elif roll < 0.07:
            status = "hld"
        else:
            # Map progress plus noise onto the pipeline order of statuses.
            level = min(max(progress + self.rng.uniform(-0.35, 0.35), 0), 0.999)
            status = ("wtg", "rdy", "ip", "ip", "rev", "fin", "fin")[int(level * 7)]
        cut_in = 1001
        cut_out = cut_in + self.rng.randrange(24, 240)
        in_shot = self.pick(assets, self.rng.randrange(1, 5))
        shot = self.add("Shot", {
            "code": f"{sequence['code']}_{n * 10:04d}", "description": None, "sg_status_list": status,
            "sg_sequence": self.link(sequence), "sg_cut_in": cut_in, "sg_cut_out": cut_out,
            "sg_cut_duration": cut_out - cut_in + 1,
            "sg_frame_rate": 24.0 if self.rng.random() < 0.9 else 23.976,
            "sg_shot_type": self.rng.choice(("Live action", "Live action", "Full CG", "Matte painting")),
            "sg_due_date": (start + dt.timedelta(days=self.rng.randrange(150, 400))).date().isoformat(),
            "sg_vfx_omit": status == "omt", "assets": [self.link(a) for a in in_shot],
            "image": f"https://sg-media.studio.example/thumbs/shot/{sequence['id']}/{n}.jpg?sig=demo",
            "tag_list": self.pick(["hero", "bg", "fx_heavy", "retime"], self.rng.randrange(0, 3)), **base,
            **self.audit(self.when(start, start + dt.timedelta(days=60)), prod)})
        sequence["shots"].append(self.link(shot))
        for asset in in_shot:
            asset["shots"].append(self.link(shot))
        shot_progress = {"wtg": 0.0, "rdy": 0.1, "ip": 0.45, "rev": 0.75, "fin": 1.0}.get(status, 0.3)
        self.tasks(shot, [steps[c] for c, _, _ in SHOT_STEPS], shot_progress, artists, prod, base, start)

    def tasks(self, owner: Record, steps: Iterable[Record], progress: float, artists: list[Record],
              prod: Record, base: Record, start: dt.datetime) -> None:
        steps = list(steps)
        for i, step in enumerate(steps):
            # Steps run in order: the share of the pipeline this step sits at decides how done it is.
            done = progress * len(steps) - i
            status = "fin" if done >= 1 else "ip" if done > 0.15 else "rdy" if done > -0.3 else "wtg"
            if status == "ip" and self.rng.random() < 0.3:
                status = "rev"
            department = STEP_DEPARTMENT[step["code"]]
            pool = [a for a in artists if a["sg_department"] == department] or artists
            assignees = self.pick(pool, 1 if self.rng.random() < 0.85 else 2)
            bid = self.rng.choice((4, 8, 8, 12, 16, 24)) * 60
            begin = start + dt.timedelta(days=30 + 12 * i + self.rng.randrange(60))
            task = self.add("Task", {
                "content": step["code"], "entity": self.link(owner), "step": self.link(step),
                "sg_status_list": status, "task_assignees": [self.link(a) for a in assignees],
                "est_in_mins": bid, "duration": bid, "time_logs_sum": 0,
                "start_date": begin.date().isoformat(),
                "due_date": (begin + dt.timedelta(days=max(bid // 480, 1) + 5)).date().isoformat(),
                "milestone": step["code"] == "Comp", "sg_priority": self.rng.choice(("1", "2", "2", "3")),
                "color": None, **base, **self.audit(begin - dt.timedelta(days=20), prod)})
            if status != "wtg":
                spent = {"fin": 1.0, "rev": 0.9, "ip": 0.6, "rdy": 0.05}[status] * self.rng.uniform(0.6, 1.6)
                self.time_logs(task, assignees, int(bid * spent), begin, base)
            if status in ("ip", "rev", "fin"):
                self.versions(task, owner, assignees, begin, base)

    def time_logs(self, task: Record, people: list[Record], minutes: int, begin: dt.datetime,
                  base: Record) -> None:
        day = begin
        while minutes > 0:
            chunk = min(minutes, self.rng.choice((120, 240, 360, 480, 480, 600)))
            who = self.rng.choice(people)
            logged = day + dt.timedelta(hours=17)
            self.add("TimeLog", {
                "entity": self.link(task), "user": self.link(who), "date": day.date().isoformat(),
                "duration": chunk,
                "description": None if self.rng.random() < 0.7 else f"{task['content']} work",
                **base, **self.audit(logged, who, updated=logged)})
            task["time_logs_sum"] += chunk
            if self.rng.random() < 0.02:
                # Logged twice by mistake, the copy deleted: retired, so SG's time_logs_sum leaves it out.
                copy = {k: v for k, v in self.records["TimeLog"][-1].items() if k not in ("type", "id")}
                self.add("TimeLog", copy, retired=True)
            minutes -= chunk
            day += dt.timedelta(days=self.rng.choice((1, 1, 2, 3)))

    def versions(self, task: Record, owner: Record, people: list[Record], begin: dt.datetime,
                 base: Record) -> None:
        count = self.rng.randrange(1, 3) + (1 if task["sg_status_list"] == "fin" else 0)
        first = owner.get("sg_cut_in") or 1001
        last = owner.get("sg_cut_out") or 1100
        for v in range(1, count + 1):
            final = v == count and task["sg_status_list"] == "fin"
            code = f"{owner['code']}_{task['step']['name'].lower()}_v{v:03d}"
            created = begin + dt.timedelta(days=2 * v, hours=self.rng.randrange(9, 19))
            movie = f"{code}.mp4"
            self.add("Version", {
                "code": code, "description": None if v > 1 else "First pass",
                "entity": self.link(owner), "sg_task": self.link(task),
                "user": self.link(self.rng.choice(people)),
                "sg_status_list": "apr" if final else ("rej" if v < count else "rev"),
                "sg_first_frame": first, "sg_last_frame": last, "frame_count": last - first + 1,
                "sg_path_to_movie": f"/mnt/projects/{base['project']['name'].replace(' ', '_')}/{movie}",
                "sg_uploaded_movie": {"url": f"https://sg-media.studio.example/movies/{movie}", "name": movie,
                                      "link_type": "upload", "content_type": "video/mp4"},
                "sg_uploaded_movie_frame_rate": 24.0, "flagged": final and self.rng.random() < 0.2,
                "tag_list": [], **base, **self.audit(created, self.rng.choice(people))})

    def notes(self, project: Record, artists: list[Record], producers: list[Record], base: Record) -> None:
        pid = project["id"]
        versions = [v for v in self.records.get("Version", []) if v["project"]["id"] == pid]
        episodes = [e for e in self.records.get("CustomEntity01", []) if e["project"]["id"] == pid]
        tasks_by_id = {t["id"]: t for t in self.records["Task"]}
        for version in versions[:: 4]:
            task = tasks_by_id[version["sg_task"]["id"]]
            links = [self.link(version), version["entity"]]
            if episodes and self.rng.random() < 0.1:
                links.append(self.link(self.rng.choice(episodes)))
            author = self.rng.choice(producers)
            to = [self.link(a) for a in self.pick(artists, self.rng.randrange(1, 3))]
            created = dt.datetime.fromisoformat(version["created_at"]) + dt.timedelta(hours=3)
            subject = self.rng.choice(NOTE_SUBJECTS)
            self.add("Note", {
                "subject": subject, "content": f"{subject}. See {version['code']}.",
                "user": self.link(author),
                "note_links": links, "addressings_to": to,
                "addressings_cc": [self.link(p) for p in self.pick(producers, self.rng.randrange(0, 2))],
                "tasks": [self.link(task)],
                "sg_note_type": self.rng.choice(("Internal", "Internal", "Director", "Client")),
                "sg_status_list": "clsd" if version["sg_status_list"] != "rev" else "opn",
                "tag_list": [], **base, **self.audit(created, author)})


@dataclass(frozen=True)
class StudioDump:
    """The studio as a dump holds it: live records, and the retired ones ``find(..., retired_only=True)``
    returns, per entity. Ids are unique across both, as on a site."""

    live: dict[str, list[Record]]
    retired: dict[str, list[Record]]


def generate(schema: Schema, seed: int = DEFAULT_SEED) -> StudioDump:
    """Every entity's records, each with exactly the schema's fields (unset ones ``None``).

    The schema decides the shape, the studio logic decides the values; a field the studio logic does not
    know stays ``None``, as SG returns empty fields, and a value for a field the schema lacks is an error,
    so the generator and the schema cannot drift apart silently (:class:`SchemaError`).
    """
    studio = _Studio(seed)
    built = studio.build()
    missing = sorted(set(built) - set(schema.entities))
    if missing:
        raise SchemaError(f"the demo studio needs entities this schema lacks: {missing}", source=schema.source)
    live: dict[str, list[Record]] = {}
    retired: dict[str, list[Record]] = {}
    for entity in schema:
        names = list(entity.fields)
        live[entity.name], retired[entity.name] = [], []
        for record in built.get(entity.name, []):
            unknown = sorted(set(record) - set(names) - {"type"})
            if unknown:
                raise SchemaError(f"the demo studio sets {entity.name} field(s) this schema lacks: {unknown}",
                                  source=schema.source, entity=entity.name, field=unknown[0])
            row = {"type": entity.name, **{n: record.get(n) for n in names}}
            (retired if (entity.name, record["id"]) in studio.retired else live)[entity.name].append(row)
    return StudioDump(live=live, retired=retired)


def write_dump(dump: StudioDump, out_dir: Path) -> dict[str, int]:
    """Write the files ``sg2dbt load --from-dump`` reads: ``<Entity>.jsonl`` (live records, one a line, keys
    in schema order) and, where there are any, ``<Entity>.retired.jsonl``. Returns records per entity."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for entity, rows in dump.live.items():
        dump_format.write_records(out_dir / dump_format.file_name(entity, retired=False), rows)
        if dump.retired[entity]:
            dump_format.write_records(out_dir / dump_format.file_name(entity, retired=True), dump.retired[entity])
    return {entity: len(rows) + len(dump.retired[entity]) for entity, rows in dump.live.items()}
