"""Load YAML definition files safely into plain data plus a source map.

The loader walks libyaml's event stream itself (the C parser when present) instead of
using PyYAML's constructors, so that:

- every mapping key and value gets its file:line:col recorded while parsing;
- scalars follow the YAML 1.2 core rules we document, not YAML 1.1: only ``true`` /
  ``false`` are booleans, only plain decimal numbers are numbers; ``yes``, ``on``, ``0755``,
  ``1:30`` and ``2024-01-02`` stay strings;
- aliases, merge keys and non-standard tags are refused at the first sight, so an alias
  bomb costs microseconds rather than expanding;
- nesting depth is capped while streaming (libyaml's composer would recurse and crash,
  and its scanner slows down quadratically on deep flow nesting).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import field
from pathlib import Path
from typing import Any

import yaml

from smartflow.definitions.diagnostics import Diagnostic, Location
from smartflow.records import record

MAX_FILE_BYTES = 1024 * 1024
MAX_DEPTH = 32

_START_HINT = "write a document starting with `kind: Process` or `kind: Roles`"
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

JsonPath = tuple[str | int, ...]

_INT = re.compile(r"^[-+]?(0|[1-9][0-9]*)$")
_FLOAT = re.compile(r"^[-+]?(0|[1-9][0-9]*)\.[0-9]+([eE][-+]?[0-9]+)?$")
_NULLS = {"", "~", "null", "Null", "NULL"}
_TRUE = {"true", "True", "TRUE"}
_FALSE = {"false", "False", "FALSE"}
_CORE_TAG = "tag:yaml.org,2002:"  # what `!!` abbreviates
_STANDARD_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:map",
    "tag:yaml.org,2002:seq",
}
# C0 controls other than tab, newline and carriage return; DEL; C1 controls.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def format_path(path: JsonPath) -> str:
    """A JSON path as users read it: ``pipelines.main.stages[2]``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out or "(document)"


@record
class SourceMap:
    """Where each node of a document came from: json path -> (line, col), 1-based."""

    values: dict[JsonPath, tuple[int, int]] = field(default_factory=dict)
    keys: dict[JsonPath, tuple[int, int]] = field(default_factory=dict)

    def value_at(self, path: JsonPath) -> tuple[int, int]:
        """The position of the value at path, or of its nearest recorded ancestor."""
        probe = tuple(path)
        while probe:
            if probe in self.values:
                return self.values[probe]
            probe = probe[:-1]
        return self.values.get((), (1, 1))

    def key_at(self, path: JsonPath) -> tuple[int, int]:
        """The position of the mapping key naming path, else of its value."""
        if tuple(path) in self.keys:
            return self.keys[tuple(path)]
        return self.value_at(path)


@record
class Document:
    """One loaded YAML document: its data, where it came from and its source map."""

    file: str
    data: Any
    source_map: SourceMap
    text: str = ""

    def location(self, path: JsonPath, key: bool = False) -> Location:
        line, col = self.source_map.key_at(path) if key else self.source_map.value_at(path)
        return Location(self.file, line, col)


class LoadError(Exception):
    """A file that cannot be loaded; carries its located diagnostic."""

    def __init__(self, diagnostic: Diagnostic) -> None:
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic


def _fail(file: str, line: int, col: int, code: str, message: str, hint: str | None = None) -> LoadError:
    return LoadError(Diagnostic(code, message, Location(file, line, col), hint=hint))


def _position(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    col = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return line, col


def decode(raw: bytes, file: str) -> str:
    """Decode a file's bytes as UTF-8, refusing what YAML definitions must not contain."""
    if not raw.strip():
        raise _fail(file, 1, 1, "empty-file", "the file is empty", _START_HINT)
    if len(raw) > MAX_FILE_BYTES:
        raise _fail(
            file, 1, 1, "file-too-large",
            f"the file is {len(raw):,} bytes, over the limit of {MAX_FILE_BYTES:,}",
            "split the definitions into several files",
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise _fail(
            file, line, col, "encoding",
            f"the file is not valid UTF-8 (byte 0x{raw[exc.start]:02x})",
            "save the file as UTF-8",
        ) from None
    text = text.removeprefix("\ufeff")
    bad = _CONTROL.search(text)
    if bad:
        line, col = _position(text, bad.start())
        raise _fail(
            file, line, col, "control-character",
            f"the file contains the control character U+{ord(bad.group()):04X}",
            "remove it; definitions are plain text",
        )
    return text


def _scalar(event: Any) -> Any:
    """Resolve a scalar by the YAML 1.2 core rules smartflow documents."""
    value: str = event.value
    if event.style:  # quoted or block scalars are always strings ("" or None is plain)
        return value
    if event.tag in ("tag:yaml.org,2002:str", "!"):  # `!!str 12` and `! 12` are the string "12"
        return value
    if value in _NULLS:
        return None
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    if _INT.match(value):
        return int(value)
    if _FLOAT.match(value):
        return float(value)
    return value


class _Builder:
    """Builds plain data from libyaml events with an explicit stack (no recursion)."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.source_map = SourceMap()
        self.duplicates: list[Diagnostic] = []
        self.stack: list[list[Any]] = []
        self.last_event: Any = None

    def error(self, event: Any, code: str, message: str, hint: str | None = None) -> LoadError:
        mark = event.start_mark
        return _fail(self.file, mark.line + 1, mark.column + 1, code, message, hint)

    def check_tag(self, event: Any) -> None:
        tag = event.tag
        if tag is None or tag in _STANDARD_TAGS:
            return
        if isinstance(event, yaml.ScalarEvent) and tag == "!" and not event.style:
            return
        shown = "!!" + tag.removeprefix(_CORE_TAG) if tag.startswith(_CORE_TAG) else tag
        raise self.error(
            event, "yaml-tag", f"the tag `{shown}` is not allowed",
            "remove the tag; definitions hold plain strings, numbers, booleans, lists and mappings",
        )

    def check_escapes(self, event: Any) -> None:
        """Refuse double-quoted escapes (`"\\0"`, `"\\x07"`) that make the control characters a file may not hold."""
        if not isinstance(event, yaml.ScalarEvent) or event.style != '"':
            return
        bad = _CONTROL.search(event.value)
        if bad:
            raise self.error(
                event, "control-character",
                f"the quoted string contains the control character U+{ord(bad.group()):04X}, written as an escape",
                "remove it; definitions are plain text",
            )

    def build(self, events: Iterator[Any]) -> Any:
        # Each open collection: [container, path, pending_key, pending_key_state, discarded, key_marks];
        # a discarded collection is the value of a duplicate key (or inside one): it is checked
        # but kept out of the data and the source map, so it cannot move the first one's locations.
        stack: list[list[Any]] = self.stack
        root: Any = None
        documents = 0
        for event in events:
            self.last_event = event
            if isinstance(event, yaml.AliasEvent):
                raise self.error(event, "yaml-alias", f"the alias `*{event.anchor}` is not allowed",
                                 "write the value out in full; anchors and aliases are not supported")
            if isinstance(event, yaml.DocumentStartEvent):
                documents += 1
                if documents > 1:
                    raise self.error(event, "multiple-documents", "the file holds more than one YAML document",
                                     "put each process in a file of its own")
                continue
            if isinstance(event, (yaml.ScalarEvent, yaml.CollectionStartEvent)):
                self.check_tag(event)
                self.check_escapes(event)
                if stack and isinstance(stack[-1][0], dict) and stack[-1][2] is None:
                    self.take_key(event, stack[-1])
                    continue
                path = self.child_path(stack)
                discarded = self.discarding(stack)
                mark = event.start_mark
                if not discarded:
                    self.source_map.values[path] = (mark.line + 1, mark.column + 1)
                if isinstance(event, yaml.ScalarEvent):
                    self.attach(stack, _scalar(event))
                    if not stack:
                        root = _scalar(event)
                    continue
                if len(stack) >= MAX_DEPTH:
                    raise self.error(event, "too-deep", f"the document nests deeper than {MAX_DEPTH} levels",
                                     "flatten the structure")
                container: Any = {} if isinstance(event, yaml.MappingStartEvent) else []
                stack.append([container, path, None, None, discarded, {}])
                continue
            if isinstance(event, yaml.CollectionEndEvent):
                container = stack.pop()[0]
                if stack:
                    self.attach(stack, container)
                else:
                    root = container
        if documents == 0:
            raise _fail(self.file, 1, 1, "empty-file", "the file holds no YAML document",
                        "write a document starting with `kind: Process` or `kind: Roles`")
        return root

    def take_key(self, event: Any, frame: list[Any]) -> None:
        if not isinstance(event, yaml.ScalarEvent):
            raise self.error(event, "yaml-key", "a mapping key must be a plain string, not a list or mapping",
                             "write the key as a plain string, such as an id")
        key = event.value
        if key == "<<" and not event.style:
            raise self.error(event, "yaml-merge-key", "merge keys (`<<`) are not allowed",
                             "write the keys out in full")
        marks: dict[str, tuple[int, int]] = frame[5]
        path = (*frame[1], key)
        mark = event.start_mark
        if key in marks:
            first_line, first_col = marks[key]
            self.duplicates.append(Diagnostic(
                "duplicate-key",
                f"the key `{key}` appears twice in the same mapping (first at line {first_line})",
                Location(self.file, mark.line + 1, mark.column + 1),
                hint=f"remove one of them, or merge the two; the first is at {self.file}:{first_line}:{first_col}",
            ))
            frame[2], frame[3] = key, "duplicate"
            return
        marks[key] = (mark.line + 1, mark.column + 1)
        if not frame[4]:
            self.source_map.keys[path] = marks[key]
        frame[2], frame[3] = key, None

    @staticmethod
    def discarding(stack: list[list[Any]]) -> bool:
        """Whether the next value is thrown away: it belongs to a duplicate key, or is inside one."""
        if not stack:
            return False
        frame = stack[-1]
        return bool(frame[4]) or (isinstance(frame[0], dict) and frame[3] == "duplicate")

    @staticmethod
    def child_path(stack: list[list[Any]]) -> JsonPath:
        if not stack:
            return ()
        container, path, key = stack[-1][:3]
        if isinstance(container, dict):
            return (*path, key)
        return (*path, len(container))

    @staticmethod
    def attach(stack: list[list[Any]], value: Any) -> None:
        if not stack:
            return
        frame = stack[-1]
        container = frame[0]
        if isinstance(container, dict):
            if frame[3] != "duplicate":
                container[frame[2]] = value
            frame[2], frame[3] = None, None
        else:
            container.append(value)


def _too_deep(builder: _Builder, text: str, fallback: Any) -> LoadError:
    """Where the document first nests deeper than MAX_DEPTH, after the YAML library refused it first.

    libyaml 0.2.6 (PyYAML 6.0.4 wheels) caps flow nesting at 1000 levels itself, and its scanner
    looks ahead past our cap before it hands over the events. The collections still open when it
    refused are on the builder's stack; the flow collections that follow the last event are counted
    here (quoted scalars and comments skipped) to find the opening bracket of the first level too
    many, which is where the streaming check would have stopped.
    """
    depth = len(builder.stack)
    index = builder.last_event.end_mark.index if builder.last_event is not None else 0
    quote = ""
    while index < len(text):
        char = text[index]
        if quote:
            if quote == '"' and char == "\\":
                index += 1
            elif char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char == "#" and (index == 0 or text[index - 1] in " \t\n"):
            newline = text.find("\n", index)
            index = len(text) if newline < 0 else newline
        elif char in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                line, col = _position(text, index)
                return _fail(builder.file, line, col, "too-deep",
                             f"the document nests deeper than {MAX_DEPTH} levels", "flatten the structure")
        elif char in "]}":
            depth -= 1
        index += 1
    mark = fallback.problem_mark
    return _fail(builder.file, mark.line + 1, mark.column + 1, "too-deep",
                 f"the document nests deeper than {MAX_DEPTH} levels", "flatten the structure")


def _syntax_error(exc: yaml.MarkedYAMLError, text: str, file: str) -> LoadError:
    """A parser error as one located diagnostic, naming the usual culprits."""
    mark = exc.problem_mark or exc.context_mark
    line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    problem = exc.problem or "invalid YAML"
    at_tab = mark is not None and 0 <= mark.index < len(text) and text[mark.index] == "\t"
    if at_tab or "'\\t'" in problem:
        return _fail(file, line, col, "yaml-tab", "invalid YAML: a tab character is used for indentation",
                     "indent with spaces, not tabs")
    if "expected a single document" in str(exc) or "but found another document" in problem:
        return _fail(file, line, col, "multiple-documents", "the file holds more than one YAML document",
                     "put each process in a file of its own")
    context = exc.context_mark
    if exc.context and context is not None and (context.line, context.column) != (line - 1, col - 1):
        # e.g. an unclosed quote: the problem is at the end of the file, the cause where it opened
        problem += f" ({exc.context} that starts at line {context.line + 1}, column {context.column + 1})"
    return _fail(file, line, col, "yaml-syntax", f"invalid YAML: {problem}",
                 "check the indentation and quoting on this line")


def load_text(text: str, file: str) -> tuple[Document, list[Diagnostic]]:
    """Parse one YAML document; returns it with any duplicate-key diagnostics."""
    builder = _Builder(file)
    try:
        data = builder.build(yaml.parse(text, Loader=_Loader))
    except yaml.MarkedYAMLError as exc:
        if exc.problem and "maximum nesting depth" in exc.problem:
            raise _too_deep(builder, text, exc) from None
        raise _syntax_error(exc, text, file) from None
    except yaml.YAMLError as exc:  # reader errors (special characters) and the like
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise _fail(file, line, col, "yaml-syntax", f"invalid YAML: {exc}") from None
    if data is None:
        raise _fail(file, 1, 1, "empty-file", "the file holds no definition",
                    "write a document starting with `kind: Process` or `kind: Roles`")
    return Document(file, data, builder.source_map, text), builder.duplicates


def load_file(path: Path, display: str | None = None) -> tuple[Document, list[Diagnostic]]:
    """Read and parse one file; raises LoadError with a located diagnostic."""
    file = display or str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise _fail(file, 0, 0, "unreadable", f"cannot read the file: {exc.strerror}") from None
    return load_text(decode(raw, file), file)


def discover(paths: list[Path]) -> list[Path]:
    """The definition files named by paths: files as given, folders searched recursively."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file()))
        else:
            found.append(path)
    seen: set[Path] = set()
    unique: list[Path] = []
    for path in found:
        resolved = path.resolve()
        if resolved not in seen:
            seen.add(resolved)
            unique.append(path)
    return unique
