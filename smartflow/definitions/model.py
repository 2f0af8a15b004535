"""The intermediate model of definitions: plain frozen dataclasses (`smartflow.records.record`).

This module imports nothing of smartflow's but that decorator: every later stage (compile, plan,
runtime) reads these objects, and nothing here knows about YAML, SQL or the CLI.
"""

from __future__ import annotations

from dataclasses import field
from typing import Any

from smartflow.records import record

LEVELS = ("none", "own", "department", "all")
ACTIONS = ("read", "create", "update", "delete", "move", "export", "import")
FIELD_TYPES = (
    "string", "text", "integer", "number", "money", "boolean", "date", "datetime",
    "enum", "user", "link", "file", "email", "phone", "url",
)
SEMANTICS = ("process", "success", "failure")
EVENTS = ("created", "updated", "field_changed", "stage_entered", "stage_left", "scheduled")
# The system fields holding a user, which `forbid_self` may name beside user fields.
SELF_FIELDS = ("created_by", "updated_by", "assigned_to", "moved_by")
ACTION_KINDS = ("set", "move", "create_item", "assign", "notify", "webhook", "comment", "todo")

# Columns every item has; a declared field may not take these names.
SYSTEM_FIELDS = (
    "id", "title", "pipeline", "stage", "assigned_to", "created_by", "created_at",
    "updated_by", "updated_at", "moved_by", "moved_at", "version", "deleted_at",
    "closed_at", "begin_date", "close_date", "definition_version", "observers",
)
DEFAULT_ROLES = {
    "administrator": {"ru": "Администратор", "en": "Administrator"},
    "manager": {"ru": "Менеджер", "en": "Manager"},
}


@record(frozen=True)
class Text:
    """A user-facing text: one string, or translations by language code."""

    values: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, raw: str | dict[str, str] | None) -> Text | None:
        if raw is None:
            return None
        if isinstance(raw, str):
            return cls((("", raw),))
        return cls(tuple(raw.items()))

    def get(self, lang: str | None = None) -> str:
        """The text in lang, else English, else the first one given."""
        mapping = dict(self.values)
        for key in (lang, "", "en"):
            if key is not None and key in mapping:
                return mapping[key]
        return self.values[0][1]

    def to_data(self) -> str | dict[str, str]:
        if len(self.values) == 1 and self.values[0][0] == "":
            return self.values[0][1]
        return dict(self.values)


@record(frozen=True)
class Option:
    """One option of a select field: its id (what is stored), its title and colour."""

    id: str
    title: Text
    color: str | None = None
    renamed_from: str | None = None
    bitrix24_id: int | None = None  # the Bitrix24 portal's enum item id (`bitrix24: {id}`)


@record(frozen=True)
class Field:
    """A typed field of a process, with its rules (required, bounds, pattern, options, a link's target…)."""

    id: str
    type: str
    title: Text | None = None
    description: Text | None = None
    required: bool = False
    default: Any = None
    multiple: bool = False
    unique: bool = False
    min: Any = None
    max: Any = None
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    precision: int | None = None
    currency: str | None = None
    options: tuple[Option, ...] = ()
    to: str | None = None
    extensions: tuple[str, ...] = ()
    max_size: int | None = None
    roles: tuple[str, ...] = ()  # a user field: only users holding one of these roles in the process
    renamed_from: str | None = None
    backfill: Any = None
    # conditions over the item, in the language of transition conditions
    visible_when: str | None = None  # false: not on the card, may not be filled, never required
    required_when: str | None = None  # true: must be filled
    read_only_when: str | None = None  # true (on the stored item): may not be changed
    bitrix24_name: str | None = None  # the Bitrix24 portal's user field, UF_CRM_7_1700000001 (`bitrix24: {name}`)

    @property
    def conditions(self) -> tuple[tuple[str, str], ...]:
        """(key, condition) of the conditions the field declares."""
        return tuple((key, source) for key, source in (("visible_when", self.visible_when),
                     ("required_when", self.required_when), ("read_only_when", self.read_only_when)) if source)

    def label(self, lang: str | None = None) -> str:
        return self.title.get(lang) if self.title else self.id


@record(frozen=True)
class Stage:
    """A stage of a pipeline: its semantic (process, success, failure), fields it requires or keeps
    read-only, and what it replaces or was renamed from."""

    id: str
    title: Text
    semantic: str = "process"
    color: str | None = None
    required: tuple[str, ...] = ()
    description: Text | None = None
    renamed_from: str | None = None
    replaces: tuple[str, ...] = ()
    read_only: tuple[str, ...] = ()  # fields that may not be changed while an item is in this stage
    bitrix24_code: str | None = None  # the Bitrix24 portal's stage code, NEW of DT1046_12:NEW (`bitrix24: {code}`)

    @property
    def final(self) -> bool:
        return self.semantic != "process"


@record(frozen=True)
class Transition:
    """An allowed move; sources is None for "*" (from any stage of its pipeline). A source written
    `pipeline.stage` names a stage of another pipeline of the process: the transition takes items
    from there into this pipeline (a cross-pipeline move)."""

    sources: tuple[str, ...] | None
    target: str
    when: str | None = None
    roles: tuple[str, ...] | None = None
    title: Text | None = None
    # maker-checker: the user in any of these user fields of the item may not take the transition
    forbid_self: tuple[str, ...] = ()

    def starts_from(self, stage_id: str) -> bool:
        return self.sources is None or stage_id in self.sources

    def local_sources(self, stage_ids: tuple[str, ...] | list[str]) -> tuple[str, ...]:
        """The stages of its own pipeline the transition starts from (all of them for "*")."""
        if self.sources is None:
            return tuple(stage_ids)
        return tuple(s for s in self.sources if "." not in s)

    @property
    def foreign_sources(self) -> tuple[tuple[str, str], ...]:
        """(pipeline, stage) of each stage of another pipeline the transition starts from."""
        return tuple((s.split(".", 1)[0], s.split(".", 1)[1]) for s in self.sources or () if "." in s)


@record(frozen=True)
class Pipeline:
    """A pipeline: its stages in order and the moves between them (transitions None: any move)."""

    id: str
    title: Text
    stages: tuple[Stage, ...]
    default: bool = False
    transitions: tuple[Transition, ...] | None = None
    renamed_from: str | None = None
    bitrix24_category_id: int | None = None  # the Bitrix24 portal's categoryId (`bitrix24: {category_id}`)

    def stage(self, stage_id: str) -> Stage | None:
        return next((s for s in self.stages if s.id == stage_id), None)

    def moves(self) -> list[tuple[str, str]]:
        """Every (from, to) pair of its own stages this pipeline allows."""
        ids = [s.id for s in self.stages]
        if self.transitions is None:
            return [(a, b) for a in ids for b in ids if a != b]
        pairs: list[tuple[str, str]] = []
        for transition in self.transitions:
            for source in transition.local_sources(ids):
                if source != transition.target and (source, transition.target) not in pairs:
                    pairs.append((source, transition.target))
        return pairs


@record(frozen=True)
class Action:
    """One trigger action: its kind and its parameters as written."""

    kind: str
    params: Any


@record(frozen=True)
class Trigger:
    """Automation: when it fires (on an event, after a delay, at a time; under a condition) and what it does."""

    id: str
    on: str
    do: tuple[Action, ...]
    title: Text | None = None
    field: str | None = None
    to: Any = None
    stage: str | None = None
    pipeline: str | None = None
    when: str | None = None
    after: str | None = None
    at: str | None = None
    run_as: str | None = None


@record(frozen=True)
class Permission:
    """What one role may do with a process; stages is None when not restricted.

    hidden_fields are the process's fields the role may not see (nor filter, sort, search,
    export, import or set); a field is hidden from a user only when every role of theirs that
    may read the process hides it.
    """

    role: str
    levels: tuple[tuple[str, str], ...]
    stages: tuple[str, ...] | None = None
    shorthand: str | None = None
    hidden_fields: tuple[str, ...] = ()
    read_only_fields: tuple[str, ...] = ()  # fields the role may see but not set

    def level(self, action: str) -> str:
        return dict(self.levels).get(action, "none")


@record(frozen=True)
class CardSection:
    """A section of an item's card: a titled group of fields."""

    id: str
    title: Text
    fields: tuple[str, ...]


@record(frozen=True)
class Preset:
    """A shared filter of a process's views: conditions in the `--where` language (`due_date < today`:
    relative days are read when the filter is used), the viewer's own items (mine), a search."""

    id: str
    title: Text
    where: tuple[str, ...] = ()
    mine: bool = False
    search: str | None = None


@record(frozen=True)
class Features:
    """What a process switches on beyond its fields: observers, the recycle bin, begin and close dates, links."""

    observers: bool = False
    recycle_bin: bool = False
    begin_close_dates: bool = False
    links: bool = False


@record(frozen=True)
class WorkingHours:
    """When a process's team works, as written: `wd` and `wh` delays count these days and hours.

    days: 'mon-fri' or 'mon-thu, sat'; start and end: 'HH:MM' in timezone (an IANA name);
    holidays: a country code whose public holidays are days off.
    """

    days: str = "mon-fri"
    start: str = "09:00"
    end: str = "18:00"
    timezone: str = "UTC"
    holidays: str | None = None


@record(frozen=True)
class Process:
    """A smart process: its fields, pipelines, automation, permissions and how its views show items."""

    id: str
    title: Text
    fields: tuple[Field, ...]
    pipelines: tuple[Pipeline, ...]
    description: Text | None = None
    features: Features = field(default_factory=Features)
    working_hours: WorkingHours | None = None
    triggers: tuple[Trigger, ...] = ()
    permissions: tuple[Permission, ...] = ()
    card: tuple[CardSection, ...] = ()
    list_columns: tuple[str, ...] = ()
    list_sort: str | None = None
    list_presets: tuple[Preset, ...] = ()
    source: str = ""
    bitrix24_id: int | None = None  # the Bitrix24 portal's smart process `id` (its fields' UF_CRM_{id}_…)
    bitrix24_entity_type_id: int | None = None  # and its entityTypeId (`bitrix24: {id, entity_type_id}`)

    def field(self, field_id: str) -> Field | None:
        return next((f for f in self.fields if f.id == field_id), None)

    def pipeline(self, pipeline_id: str) -> Pipeline | None:
        return next((p for p in self.pipelines if p.id == pipeline_id), None)

    @property
    def default_pipeline(self) -> Pipeline:
        return next((p for p in self.pipelines if p.default), self.pipelines[0])


@record(frozen=True)
class Role:
    """A role people may hold (in every process, one process, or one pipeline)."""

    id: str
    title: Text
    description: Text | None = None
    source: str = ""


@record(frozen=True)
class Definition:
    """Everything one folder of definitions declares."""

    processes: tuple[Process, ...]
    roles: tuple[Role, ...]

    def process(self, process_id: str) -> Process | None:
        return next((p for p in self.processes if p.id == process_id), None)
