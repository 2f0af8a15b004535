"""Benchmark: validating a folder of definitions against bare YAML parsing of the same files.

Generates N realistic process files (20–30 fields, 2 pipelines, triggers, permissions; about
100–200 lines each) plus a roles file into a temporary folder, then times, in the same run:

  a. bare parsing: yaml.load(text, Loader=yaml.CSafeLoader) of every file (the baseline);
  b. smartflow's loader only: smartflow.definitions.load.load_file on every file;
  c. full validation: smartflow.definitions.validate.validate_paths([folder]);
  and, for context, PyYAML's pure-Python yaml.SafeLoader.

Each is run a few times, in turn; the table shows the best and the median run, and the best
as a ratio to (a). Run from the repository root:

    python3 bench/bench_validate.py [--files N] [--repeat R] [--clock cpu|wall]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from smartflow.definitions.load import load_file  # noqa: E402
from smartflow.definitions.validate import validate_paths  # noqa: E402

ROLES = ("administrator", "manager", "buyer", "accountant", "lawyer", "production")
WORDS = [
    ("estimate", "Смета", "Estimate"), ("supplier", "Поставщик", "Supplier"), ("amount", "Сумма", "Amount"),
    ("due_date", "Срок", "Due date"), ("contract", "Договор", "Contract"), ("invoice", "Счёт", "Invoice"),
    ("warehouse", "Склад", "Warehouse"), ("quantity", "Количество", "Quantity"), ("discount", "Скидка", "Discount"),
    ("comment", "Комментарий", "Comment"), ("region", "Регион", "Region"), ("phone", "Телефон", "Phone"),
    ("email", "Почта", "Email"), ("site", "Сайт", "Website"), ("approved", "Согласовано", "Approved"),
    ("shipped", "Отгружено", "Shipped"), ("paid_on", "Дата оплаты", "Paid on"), ("priority", "Приоритет", "Priority"),
    ("category", "Категория", "Category"), ("owner", "Ответственный", "Owner"), ("weight", "Вес", "Weight"),
    ("volume", "Объём", "Volume"), ("tax_rate", "Ставка НДС", "VAT rate"), ("inn", "ИНН", "Tax number"),
    ("address", "Адрес", "Address"), ("document", "Документ", "Document"), ("delivery", "Доставка", "Delivery"),
    ("budget", "Бюджет", "Budget"), ("risk", "Риск", "Risk"), ("reviewed_at", "Проверено", "Reviewed at"),
]
TYPES = ["string", "text", "integer", "number", "money", "boolean", "date", "datetime", "enum", "user", "file",
         "email", "phone", "url"]


def flow(value: Any) -> str:
    """One value in YAML flow style, on one line, as people write short mappings."""
    text: str = yaml.dump(value, Dumper=yaml.CSafeDumper, default_flow_style=True, allow_unicode=True,
                          width=1 << 20, sort_keys=False)
    return text.strip().removesuffix("...").strip()


def title(ru: str, en: str) -> dict[str, str]:
    return {"ru": ru, "en": en}


def make_field(rng: random.Random, kind: str, ru: str, en: str, link_to: str | None) -> dict[str, Any]:
    spec: dict[str, Any] = {"type": kind, "title": title(ru, en)}
    if kind == "money":
        spec.update(currency=rng.choice(["RUB", "USD", "EUR"]), precision=2, min=0)
    elif kind in ("integer", "number"):
        spec.update(min=0, max=rng.choice([100, 1000, 1_000_000]))
    elif kind == "string":
        spec["max_length"] = rng.choice([60, 200, 255])
        if rng.random() < 0.3:
            spec["pattern"] = "^[A-ZА-Я0-9/-]{3,30}$"
    elif kind == "enum":
        spec["options"] = [{"id": f"opt_{n}", "title": title(f"Вариант {n}", f"Option {n}")}
                           for n in range(rng.randint(2, 5))]
        spec["default"] = "opt_0"
    elif kind == "boolean":
        spec["default"] = False
    elif kind == "date":
        spec["min"] = "2020-01-01"
    elif kind == "file":
        spec.update(extensions=["pdf", "docx", "xlsx"], max_size=20_000_000)
    elif kind == "link":
        spec["to"] = link_to
    if rng.random() < 0.2 and kind not in ("boolean", "file"):
        spec["required"] = True
    return spec


def make_fields(index: int, rng: random.Random, process_ids: list[str]) -> dict[str, dict[str, Any]]:
    words = rng.sample(WORDS, rng.randint(20, min(30, len(WORDS))))
    fields: dict[str, dict[str, Any]] = {}
    for n, (word, ru, en) in enumerate(words):
        kind = "link" if n == 0 and index > 0 else rng.choice(TYPES)
        fields[f"{word}_{n}"] = make_field(rng, kind, ru, en, process_ids[index - 1] if index > 0 else None)
    return fields


def process_text(index: int, rng: random.Random, process_ids: list[str],
                 all_fields: list[dict[str, dict[str, Any]]]) -> str:
    """One process file, written the way the shipped definitions are: block style with flow leaves."""
    pid = process_ids[index]
    fields = all_fields[index]
    ids = list(fields)
    dates = [f for f, s in fields.items() if s["type"] in ("date", "datetime")]
    booleans = [f for f, s in fields.items() if s["type"] == "boolean"]
    numbers = [f for f, s in fields.items() if s["type"] in ("integer", "number", "money")]

    lines = [
        "# yaml-language-server: $schema=../schemas/smartflow.schema.json",
        f"# Generated process {index} for the validation benchmark.",
        "kind: Process",
        f"id: {pid}",
        f"title: {flow(title(f'Процесс {index}', f'Process {index}'))}",
        "description:",
        f"  ru: Процесс номер {index} — от заявки до закрытия",
        f"  en: Process number {index}, from request to closing",
        "features:",
        "  observers: true",
        "  recycle_bin: true",
        "",
        "fields:",
    ]
    for n, (field_id, spec) in enumerate(fields.items()):
        if n % 4 == 0:  # some fields written out in block style, like hand-written files
            lines.append(f"  {field_id}:")
            lines.extend(f"    {key}: {flow(value)}" for key, value in spec.items())
        else:
            lines.append(f"  {field_id}: {flow(spec)}")

    main = ["new", "qualified", "approval", "contract", "delivery"][: rng.randint(4, 5)]
    lines += ["", "pipelines:", "  main:", f"    title: {flow(title('Основное направление', 'Main'))}",
              "    default: true", "    stages:"]
    for n, stage in enumerate(main):
        extra = {"required": rng.sample(ids, 2)} if n else {}
        lines.append(f"      {stage}: {flow({'title': title(f'Этап {stage}', stage.title()), **extra})}")
    lines.append(f"      won: {flow({'title': title('Успешно', 'Won'), 'semantic': 'success', 'color': '#66bb6a'})}")
    lines.append(f"      lost: {flow({'title': title('Провал', 'Lost'), 'semantic': 'failure', 'color': '#e57373'})}")
    lines.append("    transitions:")
    for a, b in zip(main, [*main[1:], "won"], strict=True):
        move: dict[str, Any] = {"from": a, "to": b}
        if numbers and rng.random() < 0.5:
            move["when"] = f"{rng.choice(numbers)} > 0"
        if rng.random() < 0.4:
            move["roles"] = ["buyer", "administrator"]
        lines.append(f"      - {flow(move)}")
    lines.append(f"      - {flow({'from': main[1], 'to': main[0], 'title': title('Вернуть', 'Back')})}")
    lines.append(f"      - {flow({'from': main, 'to': 'lost', 'roles': ['manager', 'administrator']})}")
    lines += ["  express:", f"    title: {flow(title('Срочно', 'Express'))}", "    stages:",
              f"      start: {flow({'title': title('Начало', 'Start')})}",
              f"      check: {flow({'title': title('Проверка', 'Check'), 'required': [ids[1]]})}",
              f"      done: {flow({'title': title('Готово', 'Done'), 'semantic': 'success'})}",
              f"      failed: {flow({'title': title('Отказ', 'Failed'), 'semantic': 'failure'})}",
              "    transitions:",
              "      - {from: start, to: check}",
              "      - {from: check, to: done, when: " + (f"\"{booleans[0]}\"" if booleans else "\"title\"") + "}",
              "      - {from: \"*\", to: failed, roles: [manager]}"]

    lines += ["", "triggers:",
              "  - id: remind_due" if dates else "  - id: remind_new",
              f"    title: {flow(title('Напоминание', 'Reminder'))}"]
    if dates:
        lines += ["    on: scheduled", f"    at: {dates[0]} - 2d"]
    else:
        lines += ["    on: created", "    after: 1d"]
    lines += ["    do:", "      - notify:", "          users: [assigned_to]",
              f"          subject: \"Процесс {index}: {{{{ title }}}}\"",
              f"          message: \"Срок {{{{ {ids[2]} }}}} / due: {{{{ {ids[3]} }}}}\"",
              "  - id: on_approval", "    on: stage_entered", "    stage: approval", "    do:",
              "      - notify: {roles: [manager], message: \"Согласуйте {{ title }} / please approve\"}",
              "      - comment: \"Sent for approval by {{ user }} at {{ now }}\""]
    if booleans:
        lines += ["  - id: on_flag", "    on: field_changed", f"    field: {booleans[0]}", "    to: true",
                  "    when: stage == \"delivery\"", "    do:", "      - move: won",
                  "      - webhook: {url: \"https://erp.example.com/hook\", method: POST, "
                  "body: \"{\\\"id\\\": {{ id }}}\"}"]
    if index > 0:
        target = (index + 1) % len(process_ids)
        required = {f: "{{ title }}" for f, spec in all_fields[target].items()
                    if spec.get("required") and spec.get("default") is None}
        spawn: dict[str, Any] = {"process": process_ids[target], "title": "Из {{ title }}"}
        if required:
            spawn["fields"] = required
        lines += ["  - id: spawn_next", "    on: stage_entered", "    stage: won", "    do:",
                  f"      - create_item: {flow(spawn)}"]

    lines += ["", "permissions:", "  administrator: all", "  manager: all",
              "  buyer:", "    read: all", "    create: all", "    update: own", "    move: own",
              f"    stages: {flow([*main[1:], 'won'])}", "  accountant: {read: all, update: department, move: none}",
              "  lawyer: {read: department, export: own}"]
    lines += ["", "card:", "  sections:"]
    for n in range(3):
        part = ids[n * len(ids) // 3:(n + 1) * len(ids) // 3]
        section = {"id": f"section_{n}", "title": title(f"Раздел {n}", f"Section {n}"), "fields": part}
        lines.append(f"    - {flow(section)}")
    lines += ["", "list:", f"  columns: {flow(['title', 'stage', *ids[:4], 'assigned_to'])}",
              f"  sort: {ids[0]}:asc", ""]
    return "\n".join(lines)


ROLES_TEXT = "kind: Roles\nroles:\n" + "".join(
    f"  {role}: {{title: {{ru: Роль {role}, en: {role.title()}}}}}\n" for role in ROLES
)


def generate(folder: Path, count: int, seed: int = 7) -> list[Path]:
    rng = random.Random(seed)
    process_ids = [f"process_{n:03d}" for n in range(count)]
    paths = []
    all_fields = [make_fields(index, rng, process_ids) for index in range(count)]
    for index in range(count):
        path = folder / f"{process_ids[index]}.yaml"
        path.write_text(process_text(index, rng, process_ids, all_fields), encoding="utf-8")
        paths.append(path)
    (folder / "roles.yaml").write_text(ROLES_TEXT, encoding="utf-8")
    return [*paths, folder / "roles.yaml"]


CLOCKS = {"cpu": time.process_time, "wall": time.perf_counter}


def timed(run: Callable[[], object], clock: Callable[[], float]) -> float:
    start = clock()
    run()
    return (clock() - start) * 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=100, help="process files to generate (default 100)")
    parser.add_argument("--repeat", type=int, default=7, help="runs of each measurement (default 7)")
    parser.add_argument("--keep", type=Path, help="write the files here instead of a temporary folder")
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="cpu",
                        help="cpu: this process's CPU time (steady on a busy machine, the default); wall: elapsed time")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="smartflow-bench-") as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        paths = generate(folder, args.files)
        texts = [p.read_text(encoding="utf-8") for p in paths]
        lines = [t.count("\n") + 1 for t in texts[:-1]]

        clock = CLOCKS[args.clock]
        cold_result: list[Any] = []
        # the first call also builds the JSON Schema validator and the Jinja environment
        cold_ms = timed(lambda: cold_result.append(validate_paths([folder])), clock)
        cold = cold_result[0]
        problems = [f"{d.location}: {d.code}: {d.message}" for d in cold.diagnostics]
        if problems:
            print("the generated files do not validate cleanly:", *problems[:10], sep="\n  ", file=sys.stderr)
            return 1

        runs = {
            "a. bare `yaml.load`, libyaml CSafeLoader": lambda: [yaml.load(t, Loader=yaml.CSafeLoader) for t in texts],
            "b. smartflow loader (`load_file`)": lambda: [load_file(p) for p in paths],
            "c. full `validate_paths` (load + schema + checks)": lambda: validate_paths([folder]),
            "pure-Python `yaml.load`, SafeLoader": lambda: [yaml.load(t, Loader=yaml.SafeLoader) for t in texts],
        }
        # round-robin, so that a busy machine slows every measurement alike
        results: dict[str, list[float]] = {name: [] for name in runs}
        for _ in range(args.repeat):
            for name, run in runs.items():
                results[name].append(timed(run, clock))

    base = min(next(iter(results.values())))
    print(f"{args.files} process files + roles.yaml, {min(lines)}–{max(lines)} lines each "
          f"({sum(lines) // len(lines)} on average), {sum(len(t.encode()) for t in texts) / 1024:.0f} KiB; "
          f"{args.clock} time, best and median of {args.repeat} runs; Python {sys.version.split()[0]}, "
          f"PyYAML {yaml.__version__} (libyaml {yaml.__with_libyaml__})")
    print()
    print("| what | best ms | median ms | best / (a) |")
    print("| --- | ---: | ---: | ---: |")
    for name, times in results.items():
        print(f"| {name} | {min(times):.1f} | {statistics.median(times):.1f} | {min(times) / base:.1f}× |")
    print(f"| first `validate_paths` call (cold: schema validator and Jinja built) | {cold_ms:.1f} | | "
          f"{cold_ms / base:.1f}× |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
