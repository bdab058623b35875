"""The one local sandbox the console and the CLI share: start or attach, on a free port."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import httpx
import pytest

from gameball_batch.sandbox.shared import LocalSandboxError, local_sandbox
from gameball_batch.settings import load_settings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def keys() -> dict[str, str]:
    return {"APIKey": "sandbox-api-key", "SecretKey": "sandbox-secret-key"}


def test_the_second_caller_attaches_to_the_first_and_both_see_one_state(
        tmp_path: Path) -> None:
    port = free_port()
    first = local_sandbox(tmp_path, port, instant=True, seed_customers=2)
    try:
        second = local_sandbox(tmp_path, port, instant=True, seed_customers=2)
        assert (first.owned, second.owned) == (True, False)
        assert first.base_url == second.base_url == f"http://127.0.0.1:{port}"
        created = httpx.post(second.base_url + "/api/v4.0/integrations/batch/balance-adjustment",
                             headers=keys(),
                             json={"body": [{"customerId": "cus-1001", "amount": 7}]})
        assert created.status_code == 200
        assert first.server is not None
        assert first.server.core.customers["cus-1001"].points == 1007
        second.close()  # an attached handle leaves the sandbox running
        assert httpx.get(first.base_url + "/_sandbox/health").json()["ok"] is True
    finally:
        first.close()
    again = local_sandbox(tmp_path, port, instant=True, seed_customers=2)
    try:
        assert again.owned
        balances = httpx.get(again.base_url + "/_sandbox/balances").json()
        assert balances["cus-1001"] == 1007  # the state file remembered it
    finally:
        again.close()
    assert (tmp_path / "sandbox-state.json").exists()


@pytest.fixture
def other_program() -> Iterator[int]:
    class Refuse(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Refuse)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_a_port_taken_by_another_program_is_reported_not_used(
        tmp_path: Path, other_program: int) -> None:
    with pytest.raises(LocalSandboxError, match="taken by another program"):
        local_sandbox(tmp_path, other_program)


def test_a_sandbox_of_another_ledger_folder_is_not_attached_to(tmp_path: Path) -> None:
    port = free_port()
    theirs = local_sandbox(tmp_path / "a", port, instant=True)
    try:
        with pytest.raises(LocalSandboxError, match="another ledger folder"):
            local_sandbox(tmp_path / "b", port)
    finally:
        theirs.close()


def test_the_port_is_a_setting_with_a_clear_message_for_nonsense() -> None:
    assert load_settings(env={"GAMEBALL_SANDBOX_PORT": "9123"}).sandbox_port == 9123
    assert load_settings(env={}).sandbox_port == 8999
    with pytest.raises(ValueError, match="port number"):
        load_settings(env={"GAMEBALL_SANDBOX_PORT": "http"})


def test_an_attached_handle_knows_when_its_owner_has_gone(tmp_path: Path) -> None:
    port = free_port()
    owner = local_sandbox(tmp_path, port, instant=True, seed_customers=1)
    attached = local_sandbox(tmp_path, port)
    assert attached.alive()
    owner.close()
    assert not attached.alive()
    successor = local_sandbox(tmp_path, port, instant=True, seed_customers=1)
    try:
        assert successor.owned
        assert attached.alive()  # the same port and state file again
    finally:
        successor.close()
