"""`smartflow init`: a new processes folder that validates from the first run."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from smartflow.definitions.validate.schema import SCHEMA_FILE, schema_text

TEMPLATE_FILES = ("example.yaml", "roles.yaml")


class ScaffoldError(Exception):
    """The folder cannot be scaffolded (files in the way)."""


def scaffold(directory: Path, force: bool = False) -> list[Path]:
    """Write the example process, the roles file and the schema into directory."""
    contents = {name: resources.files("smartflow").joinpath("templates", "init", name).read_text("utf-8")
                for name in TEMPLATE_FILES}
    contents[SCHEMA_FILE] = schema_text()
    targets = [directory / name for name in contents]
    existing = [path for path in targets if path.exists()]
    if existing and not force:
        names = ", ".join(str(p) for p in existing)
        raise ScaffoldError(f"{names} already exist(s); use --force to overwrite")
    directory.mkdir(parents=True, exist_ok=True)
    for path in targets:
        path.write_text(contents[path.name], encoding="utf-8")
    return targets
