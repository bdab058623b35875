"""``python -m gameball_batch sandbox``: run the local Gameball emulator in the foreground.

Prints the base URL and the demo keys (fixed public sandbox strings, not secrets), then
serves until Ctrl-C. By default it serves the *shared* local sandbox: the port of
``GAMEBALL_SANDBOX_PORT`` (8999) and the state file beside the ledger, so the console and
the other CLI commands attach to it. This module must not hold sandbox behaviour; it only
turns options into a :class:`SandboxServer`.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from pathlib import Path

import click

from gameball_batch.sandbox import SandboxServer, SandboxServerError
from gameball_batch.sandbox.app import ROUTE_PAIRS
from gameball_batch.sandbox.faults import Faults, parse_fault_options
from gameball_batch.sandbox.model import DEMO_POINTS, REPLY_STYLES
from gameball_batch.sandbox.persist import STATE_FILE_NAME
from gameball_batch.settings import load_settings

FAULT_HELP = (
    "Inject a fault, NAME=VALUE (repeatable): error_before / error_after / drop_after "
    "(probabilities 0-1), error_before_next / error_after_next / drop_after_next / "
    "status_errors_next / rate_limit_next (counts), latency (seconds), status_spelling "
    "(lower|capitalised|openapi|v3), message_key (message|error|mixed), seed."
)


def register(group: click.Group) -> None:
    group.add_command(sandbox)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to bind; keep 127.0.0.1 unless others must reach it.")
@click.option("--port", default=None, type=click.IntRange(0, 65535),
              help="Port to listen on; 0 picks a free one. Default: GAMEBALL_SANDBOX_PORT "
                   "(8999), the port the console and the CLI look for.")
@click.option("--seed-customers", default=200, show_default=True, type=click.IntRange(0),
              help=f"Demo customers cus-1001… to create, {DEMO_POINTS} points each.")
@click.option("--rate", default=200.0, show_default=True, type=click.FloatRange(0),
              help="Items processed per second; 0 applies each job at once (instant mode).")
@click.option("--no-rate-limit", is_flag=True,
              help="Turn off Gameball's 30/s and 360/30 s request limits.")
@click.option("--rate-shared", is_flag=True,
              help="Count creation, status and stop requests in one budget "
                   "(default: one per HTTP method).")
@click.option("--fault", "faults", multiple=True, metavar="NAME=VALUE", help=FAULT_HELP)
@click.option("--replies", type=click.Choice(REPLY_STYLES), default="documented",
              show_default=True,
              help="documented: result items carry only what Gameball documents; rich: they "
                   "add the item's transactionId/orderId and the error code.")
@click.option("--routes", type=click.Choice(ROUTE_PAIRS), default="both", show_default=True,
              help="Status/stop paths served: GitBook (GET/DELETE /batch/{jobId}), OpenAPI "
                   "(/batches/{id}/status, /batches/{id}/stop) or both.")
@click.option("--state-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help=f"Where the sandbox keeps its state across restarts. Default: "
                   f"{STATE_FILE_NAME} beside the ledger.")
@click.option("--no-state", is_flag=True, help="Keep nothing: start empty, write no file.")
def sandbox(host: str, port: int | None, seed_customers: int, rate: float,
            no_rate_limit: bool, rate_shared: bool, faults: tuple[str, ...], replies: str,
            routes: str, state_file: Path | None, no_state: bool) -> None:
    """Run the local Gameball sandbox until Ctrl-C."""
    try:
        fault_settings = Faults().updated(parse_fault_options(faults))
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--fault") from None
    try:
        settings = load_settings()
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    if port is None:
        port = settings.sandbox_port
    if no_state:
        state_file = None
    elif state_file is None:
        state_file = settings.db_path.parent / STATE_FILE_NAME
    server = SandboxServer(
        host=host, port=port, seed_customers=seed_customers, instant=rate == 0,
        item_rate=rate or 200.0, rate_limit=not no_rate_limit, rate_shared=rate_shared,
        faults=fault_settings, replies=replies, routes=routes, state_file=state_file,
    )
    try:
        url = server.start()
    except SandboxServerError as exc:
        raise click.ClickException(str(exc)) from None
    _announce(url, server, seed_customers, click.echo)
    notice = server.state.notice
    if notice:
        click.echo(notice, err=True)
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    try:
        while not stopping.wait(0.5):
            pass
        click.echo("stopping the sandbox…")
    finally:
        server.stop()


def _announce(url: str, server: SandboxServer, customers: int,
              echo: Callable[[str], None]) -> None:
    echo(f"Gameball sandbox running at {url}")
    echo(f"  API base:   {url}/api/v4.0/integrations")
    echo(f"  APIKey:     {server.api_key}    (demo key, sandbox only)")
    echo(f"  SecretKey:  {server.secret_key}    (demo key, sandbox only)")
    if customers:
        echo(f"  Customers:  cus-1001 … cus-{1000 + customers}, {DEMO_POINTS} points each")
    state = server.state
    echo(f"  Replies:    {state.core.config.replies}; routes: {state.routes}")
    echo(f"  State:      {state.state_file or 'not kept (--no-state)'}")
    echo(f"  Debug:      {url}/_sandbox/customers, /_sandbox/jobs, /_sandbox/faults")
    echo("Press Ctrl-C to stop.")
