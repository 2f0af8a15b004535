"""Fields, stages and pipelines as messages name them: by id in English (the CLI's `amount`), by title
in the reader's language (the board's «Сумма»). See smartflow/i18n.py."""

from __future__ import annotations

import re
from collections.abc import Iterable

from smartflow.definitions.model import DEFAULT_ROLES, Role
from smartflow.i18n import Joined, Message, Name, joined, tr
from smartflow.records import record
from smartflow.runtime.compiled import CompiledProcess

# The columns every item has, titled for people (a declared field brings its own title).
SYSTEM_TITLES: dict[str, Message] = {
    "id": tr("No."), "title": tr("Title"), "pipeline": tr("Pipeline"), "stage": tr("Stage"),
    "assigned_to": tr("Responsible"), "created_by": tr("Created by"), "created_at": tr("Created"),
    "updated_by": tr("Changed by"), "updated_at": tr("Changed"), "moved_by": tr("Moved by"),
    "moved_at": tr("Moved"), "closed_at": tr("Closed"), "observers": tr("Observers"), "version": tr("Version"),
}

# The reach of a right (`move: own`), as a refusal names it.
LEVEL_TITLES: dict[str, Message] = {"none": tr("no"), "own": tr("their own"), "department": tr("their department's"),
                                    "all": tr("all")}

# The actions of rights, as "you may not {action} …" names them.
ACTIONS: dict[str, Message] = {"read": tr("read"), "update": tr("change"), "move": tr("move"), "delete": tr("delete"),
                               "create": tr("create")}


def action(action_id: str) -> Name:
    return Name(action_id, ACTIONS.get(action_id), quote="")


def role(process: CompiledProcess, role_id: str) -> Name:
    """A role by id, titled as the definition's roles.yaml titles it (the built-in ones by default)."""
    return titled_role(process.roles, role_id)


def titled_role(roles: Iterable[Role], role_id: str) -> Name:
    found = next((r for r in roles if r.id == role_id), None)
    return Name(role_id, found.title if found is not None and found.title else DEFAULT_ROLES.get(role_id))


def field(process: CompiledProcess, field_id: str, quote: str = "`") -> Name:
    found = process.fields.get(field_id)
    return Name(field_id, found.title if found is not None and found.title else SYSTEM_TITLES.get(field_id), quote)


def fields(process: CompiledProcess, field_ids: Iterable[str], separator: str = ", ") -> Joined:
    return joined((field(process, f) for f in field_ids), separator)


def stage(process: CompiledProcess, stage_id: str, pipeline_id: str | None = None, quote: str = "`") -> Name:
    """A stage by id, titled from pipeline_id (else from the first pipeline that has it)."""
    pipelines = [process.process.pipeline(pipeline_id)] if pipeline_id else list(process.process.pipelines)
    for pipeline in pipelines:
        found = pipeline.stage(stage_id) if pipeline is not None else None
        if found is not None:
            return Name(stage_id, found.title, quote)
    return Name(stage_id, None, quote)


def stages(process: CompiledProcess, stage_ids: Iterable[str], pipeline_id: str | None = None) -> Joined:
    return joined((stage(process, s, pipeline_id) for s in stage_ids), ", ")


def pipeline(process: CompiledProcess, pipeline_id: str, quote: str = "`") -> Name:
    found = process.process.pipeline(pipeline_id)
    return Name(pipeline_id, found.title if found is not None else None, quote)


_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@record(frozen=True)
class Expression:
    """A condition as a message quotes it: its source in backticks in English (`estimate > 0`), and for
    people with each field it reads named by its title («Смета» > 0)."""

    source: str
    titles: tuple[tuple[str, Name], ...]

    def __str__(self) -> str:
        return f"`{self.source}`"

    def render(self, lang: str) -> str:
        named = dict(self.titles)
        parts, at = [], 0
        for found in _WORD.finditer(self.source):
            if found.group() in named and not _quoted(self.source, found.start()):
                parts += [self.source[at:found.start()], named[found.group()].render(lang)]
                at = found.end()
        return "".join([*parts, self.source[at:]])


def _quoted(source: str, at: int) -> bool:
    """Whether position at of source is inside a string literal."""
    inside = None
    for char in source[:at]:
        if inside is None and char in "'\"":
            inside = char
        elif char == inside:
            inside = None
    return inside is not None


def expression(process: CompiledProcess, source: str) -> Expression:
    used = {word for word in _WORD.findall(source) if word in process.fields or word in SYSTEM_TITLES}
    return Expression(source, tuple((f, field(process, f)) for f in sorted(used)))


def process(compiled: CompiledProcess) -> Name:
    """The process, named by its id in English (`procurement 35`) and by its title for people."""
    return Name(compiled.process.id, compiled.process.title, quote="")


@record(frozen=True)
class Place:
    """A stage of a named pipeline: `hiring.new` in English, «Новый» (воронка «Найм») for people."""

    pipeline: Name
    stage: Name

    def __str__(self) -> str:
        return f"`{self.pipeline.id}.{self.stage.id}`"

    def render(self, lang: str) -> str:
        return tr("{stage} of pipeline {pipeline}", stage=self.stage, pipeline=self.pipeline).render(lang)


def place(process: CompiledProcess, pipeline_id: str, stage_id: str) -> Place:
    return Place(pipeline(process, pipeline_id), stage(process, stage_id, pipeline_id))
