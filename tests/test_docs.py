"""The documentation: the site builds with `mkdocs build --strict`, and its generated reference holds
every command and option, every key of the definition format, every HTTP path and method, and every
error and exit code, each enumerated here from the code itself; the README's tour runs as written;
the shipped systemd units and nginx example pass their tools' own checks."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT

SMARTFLOW = shutil.which("smartflow") or str(Path(sys.executable).parent / "smartflow")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site, built once for the module as CI builds it."""
    target = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    built = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file",
                            str(ROOT / "mkdocs.yml"), "--site-dir", str(target)],
                           cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    return target


def page(site: Path, name: str) -> str:
    return (site / name / "index.html").read_text(encoding="utf-8")


def section(text: str, anchor: str) -> str:
    """The HTML from the heading with this id to the next heading."""
    start = text.index(f'id="{anchor}"')
    following = re.search(r"<h[1-4][ >]", text[start:])
    return text[start:start + following.start()] if following else text[start:]


def commands() -> Iterator[tuple[str, Any]]:
    """Every command of `smartflow`, by its full name, walking the lazily loaded command table."""
    import click

    from smartflow.cli.main import main

    def walk(command: click.Command, ctx: click.Context, path: str) -> Iterator[tuple[str, Any]]:
        yield path, command
        if isinstance(command, click.Group):
            for name in command.list_commands(ctx):
                sub = command.get_command(ctx, name)
                assert sub is not None
                if not sub.hidden:
                    yield from walk(sub, click.Context(sub, info_name=name, parent=ctx), f"{path} {name}")

    yield from walk(main, click.Context(main, info_name="smartflow"), "smartflow")


def test_every_command_and_option_is_in_the_cli_reference(site: Path) -> None:
    import click

    text = page(site, "reference/cli")
    found = list(commands())
    assert len(found) > 30  # the walk reached the lazily loaded commands and their subcommands
    for path, command in found:
        part = section(text, path.replace(" ", "-")) if path != "smartflow" else text
        if path != "smartflow":
            assert f"<code>{path}</code>" in part, path
        for param in command.params:
            if isinstance(param, click.Option) and not param.hidden:
                for name in [*param.opts, *param.secondary_opts]:
                    assert f"<code>{name}</code>" in part, f"{path} {name}"
            elif isinstance(param, click.Argument):
                assert f"<code>{param.human_readable_name}</code>" in part, f"{path} {param.name}"


def schema_keys(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("properties"), dict):
            yield from node["properties"]
        for value in node.values():
            yield from schema_keys(value)
    elif isinstance(node, list):
        for value in node:
            yield from schema_keys(value)


def test_every_key_of_the_schema_is_in_the_format_reference(site: Path) -> None:
    schema = json.loads((ROOT / "smartflow" / "schemas" / "smartflow.schema.json").read_text(encoding="utf-8"))
    text = page(site, "reference/definition-format")
    keys = set(schema_keys(schema))
    assert {"pipelines", "forbid_self", "working_hours", "expect_inbox", "hidden_fields"} <= keys
    missing = sorted(k for k in keys if f"<code>{html.escape(k)}</code>" not in text)
    assert missing == []
    for name in schema["$defs"]:
        assert f'id="{name}"' in text, name


def test_every_http_path_and_method_is_in_the_api_reference(site: Path, tmp_path: Path) -> None:
    from smartflow.http.app import create_app

    document = create_app(f"sqlite:///{tmp_path / 'none.db'}").openapi()
    text = page(site, "reference/http-api")
    operations = [(m.upper(), p) for p, methods in document["paths"].items() for m in methods]
    assert len(operations) > 15
    missing = [(m, p) for m, p in operations if f"{m} <code>{html.escape(p)}</code>" not in text]
    assert missing == []


def test_every_error_and_exit_code_is_in_the_errors_reference(site: Path) -> None:
    from smartflow import errors
    from smartflow.cli import exits
    from smartflow.http.problems import STATUSES

    text = page(site, "reference/errors")
    names = [n for n, v in vars(errors).items() if isinstance(v, type) and issubclass(v, errors.SmartflowError)]
    assert "TransitionNotAllowed" in names
    assert [n for n in names if f"<code>{n}</code>" not in text] == []
    codes = {n: v for n, v in vars(exits).items() if n.startswith("EXIT_") and isinstance(v, int)}
    assert len(codes) >= 14
    for name, number in codes.items():
        assert re.search(rf"<td>{number}</td>\s*<td><code>{name}</code></td>\s*<td>(?!</td>)\S", text), name
    for _, status, code in STATUSES:
        assert re.search(rf"<td>{status}</td>\s*<td><code>{code}</code></td>", text), code


def test_no_page_of_the_site_is_missing_or_speaks_of_development_history(site: Path) -> None:
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    for path in pages:
        text = path.read_text(encoding="utf-8")
        found = re.findall(r"(?i)\b(?:issue|round) #?\d+", text)
        assert found == [], f"{path.relative_to(ROOT)}: {found} (history belongs in CHANGELOG.md and bench/)"
    built = {p.parent.relative_to(site).as_posix() for p in site.rglob("index.html")}
    assert {"tutorial", "deployment", "how-to/http-api", "reference/cli", "architecture", "changelog"} <= built


def test_readme_tour_runs_as_written(tmp_path: Path) -> None:
    """The README's ten-line tour: its process file, then its commands (all but `serve`), then the refusal."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    tour = readme[readme.index("## A ten-line tour"):]
    (tmp_path / "processes").mkdir()
    (tmp_path / "processes" / "request.yaml").write_text(tour.split("```yaml\n", 1)[1].split("```", 1)[0],
                                                         encoding="utf-8")
    lines = tour.split("```sh\n", 1)[1].split("```", 1)[0].splitlines()
    assert lines[-1].startswith("smartflow serve")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMARTFLOW_")}
    env["COLUMNS"] = "120"
    done = subprocess.run(["sh", "-eu", "-c", "\n".join(lines[:-1])], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Applied: version 1 is live." in done.stdout
    assert "В работе" in done.stdout and "250k RUB" in done.stdout
    refusal = tour.split("```text\n", 1)[1].split("```", 1)[0]
    shown = re.findall(r"`(smartflow item [^`]+)`", tour.split("```text\n", 1)[0].rsplit("```", 1)[1])
    assert len(shown) == 2
    for command in shown:
        last = subprocess.run(["sh", "-c", command], cwd=tmp_path, env=env, capture_output=True, text=True,
                              timeout=120)
    assert last.returncode == 10
    assert last.stderr == refusal


def units(tmp_path: Path) -> list[Path]:
    """The shipped units, pointed at this environment's `smartflow` (verify checks that it exists)."""
    found = []
    for unit in sorted((ROOT / "deploy" / "systemd").glob("*.service")):
        text = unit.read_text(encoding="utf-8")
        assert "/srv/smartflow/.venv/bin/smartflow " in text
        (tmp_path / unit.name).write_text(text.replace("/srv/smartflow/.venv/bin/smartflow", SMARTFLOW),
                                          encoding="utf-8")
        found.append(tmp_path / unit.name)
    return found


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed here")
def test_systemd_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    found = units(tmp_path)
    assert [u.name for u in found] == ["smartflow-serve.service", "smartflow-worker.service"]
    checked = subprocess.run(["systemd-analyze", "verify", "--man=no", *map(str, found)], capture_output=True,
                             text=True, timeout=120)
    # verify exits 0 on unknown keys and values too: any line it prints about our units is a failure
    assert checked.returncode == 0 and checked.stdout + checked.stderr == "", checked.stdout + checked.stderr
    broken = tmp_path / "broken.service"
    broken.write_text(found[1].read_text(encoding="utf-8").replace("Restart=", "Restrat="), encoding="utf-8")
    caught = subprocess.run(["systemd-analyze", "verify", "--man=no", str(broken)], capture_output=True, text=True,
                            timeout=120)
    assert "Restrat" in caught.stdout + caught.stderr  # the check above can fail


@pytest.mark.skipif(not (shutil.which("nginx") and shutil.which("openssl")), reason="nginx or openssl is not installed")
def test_nginx_example_passes_nginx_t(tmp_path: Path) -> None:
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(tmp_path / "key.pem"),
                    "-out", str(tmp_path / "cert.pem"), "-days", "1", "-subj", "/CN=crm.example.com"],
                   check=True, capture_output=True, timeout=120)
    site_conf = (ROOT / "deploy" / "nginx" / "smartflow.conf").read_text(encoding="utf-8")
    site_conf = (site_conf.replace("/etc/letsencrypt/live/crm.example.com/fullchain.pem", str(tmp_path / "cert.pem"))
                 .replace("/etc/letsencrypt/live/crm.example.com/privkey.pem", str(tmp_path / "key.pem")))
    (tmp_path / "site.conf").write_text(site_conf, encoding="utf-8")
    temp = " ".join(f"{kind}_temp_path {tmp_path};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
        f"http {{\n access_log off;\n {temp}\n include {tmp_path}/site.conf;\n}}\n", encoding="utf-8")
    checked = subprocess.run(["nginx", "-t", "-c", str(tmp_path / "nginx.conf")], capture_output=True, text=True,
                             timeout=60)
    assert checked.returncode == 0, checked.stderr
    assert "test is successful" in checked.stderr
