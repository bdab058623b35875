"""The CLI starts light: the intake commands never load what only sending needs.

Each case runs the real ``python -m gameball_batch`` entry point in a fresh interpreter and
lists the modules it imported; no timing is asserted (bench/README.md has the figures).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import pytest

from gameball_batch import cli

REPO = Path(__file__).resolve().parents[2]
# What validate and types must not import: the console's libraries, the HTTP client, the
# ledger and the sandbox's web stack.
HEAVY = ("plotly", "streamlit", "httpx", "gameball_batch.ledger", "gameball_batch.client",
         "gameball_batch.sandbox", "starlette", "uvicorn")
PROBE = """
import json, os, runpy, sys
sys.argv = ["gameball_batch", *json.loads(sys.argv[1])]
def report(code, quick):
    print("\\n" + json.dumps({"code": code, "quick": quick, "modules": sorted(sys.modules)}))
    sys.stdout.flush()
end_now = os._exit
def ended_without_teardown(code):  # validate ends here (cli.run), after flushing its output
    report(code, True)
    end_now(code)
os._exit = ended_without_teardown
try:
    runpy.run_module("gameball_batch", run_name="__main__", alter_sys=True)
except SystemExit as exc:
    report(exc.code if isinstance(exc.code, int) else 0, False)
"""
CASHBACK = (
    "Customer ID,Transaction ID,Transaction time,Amount\n"
    "cus-1001,T1,2026-01-01T00:00:00Z,12\n"
    "cus-1002,T2,2026-01-01T00:00:00Z,15.50\n"
)


def _run_probe(*args: str) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", PROBE, json.dumps(list(args))], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=120, check=False)
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


def _modules_after(*args: str) -> tuple[int, list[str]]:
    report = _run_probe(*args)
    return int(report["code"]), list(report["modules"])


def _heavy(modules: list[str]) -> list[str]:
    return [m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY)]


@pytest.mark.parametrize("args", [["--help"], ["types"], ["types", "--json"]])
def test_help_and_types_load_nothing_heavy(args: list[str]) -> None:
    code, modules = _modules_after(*args)
    assert code == 0
    assert _heavy(modules) == []
    assert "pandas" not in modules  # listing types needs no table library either


def test_validate_loads_only_the_intake_engine(tmp_path: Path) -> None:
    path = tmp_path / "cashback.csv"
    path.write_text(CASHBACK, encoding="utf-8")
    code, modules = _modules_after("validate", str(path), "--type", "cashback")
    assert code == 0
    assert "gameball_batch.validate" in modules
    assert _heavy(modules) == []


def test_only_validate_ends_without_tearing_down(tmp_path: Path) -> None:
    """validate holds nothing to close, so its process ends at once (cli.run); commands
    that may hold a ledger or threads, and --help, exit the usual way."""
    path = tmp_path / "cashback.csv"
    path.write_text(CASHBACK, encoding="utf-8")
    assert _run_probe("validate", str(path), "--type", "cashback")["quick"] is True
    assert _run_probe("--help")["quick"] is False
    assert _run_probe("types")["quick"] is False


def test_the_command_table_matches_what_the_modules_register() -> None:
    """COMMANDS (what --help lists without importing) is every module's real command set."""
    group = click.Group()
    for name in cli.MODULES:
        importlib_module = __import__(f"gameball_batch.cli.{name}", fromlist=["register"])
        importlib_module.register(group)
    assert sorted(group.commands) == sorted(cli.COMMANDS)
    for name, command in group.commands.items():
        module, attribute, short_help = cli.COMMANDS[name]
        assert getattr(sys.modules[f"gameball_batch.cli.{module}"], attribute) is command
        assert command.get_short_help_str(limit=200) == short_help


def test_every_command_is_reachable_through_the_lazy_group() -> None:
    context = click.Context(cli.main)
    for name in cli.COMMANDS:
        command = cli.main.get_command(context, name)
        assert command is not None
        assert command.name == name
    assert cli.main.get_command(context, "no-such-command") is None
