"""``python -m gameball_batch sandbox`` as an operator runs it."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from click.testing import CliRunner

from gameball_batch.cli import main
from gameball_batch.settings import load_settings


def test_the_command_prints_url_and_demo_keys_serves_and_stops_on_sigterm() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "gameball_batch", "sandbox", "--port", "0",
         "--seed-customers", "3", "--fault", "status_spelling=capitalised"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.startswith("Gameball sandbox running at http://127.0.0.1:")
        url = first.rsplit(" ", 1)[-1].strip()
        lines = [process.stdout.readline() for _ in range(3)]
        assert "sandbox-api-key" in lines[1]
        assert "sandbox-secret-key" in lines[2]
        balances = httpx.get(url + "/_sandbox/balances", timeout=5).json()
        assert balances == {"cus-1001": 1000, "cus-1002": 1000, "cus-1003": 1000}
        assert httpx.get(url + "/_sandbox/faults").json()["status_spelling"] == "capitalised"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_an_unknown_fault_is_a_usage_error_with_the_known_names() -> None:
    result = CliRunner().invoke(main, ["sandbox", "--fault", "explode=1"])
    assert result.exit_code == 2
    assert "unknown fault 'explode'" in result.output
    assert "error_after" in result.output


def test_a_taken_port_is_reported_not_a_traceback() -> None:
    from gameball_batch.sandbox import SandboxServer

    with SandboxServer(instant=True) as running:
        port = running.url.rsplit(":", 1)[-1]
        started = time.monotonic()
        result = CliRunner().invoke(main, ["sandbox", "--port", port])
        assert time.monotonic() - started < 30
    assert result.exit_code == 1
    assert "could not start" in result.output


def test_replies_routes_and_the_state_file_beside_the_ledger_are_options(
        tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "gameball_batch", "sandbox", "--port", "0",
         "--replies", "rich", "--routes", "gitbook"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().rsplit(" ", 1)[-1].strip()
        health = httpx.get(url + "/_sandbox/health", timeout=5).json()
        assert (health["replies"], health["routes"]) == ("rich", "gitbook")
        # Beside the ledger's file (tests/conftest.py puts it in tmp_path); with a
        # PostgreSQL ledger, in the default ledger folder (HOME is tmp_path/home here).
        beside = load_settings().db_path.parent / "sandbox-state.json"
        assert health["stateFile"] == str(beside.resolve())
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert beside.exists()


def test_an_unknown_reply_style_is_a_usage_error() -> None:
    result = CliRunner().invoke(main, ["sandbox", "--replies", "fancy"])
    assert result.exit_code == 2
    assert "'documented', 'rich'" in result.output
