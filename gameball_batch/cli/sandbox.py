"""``python -m gameball_batch sandbox``: run the local Gameball emulator in the foreground.

Prints the base URL and the demo keys (fixed public sandbox strings, not secrets), then
serves until Ctrl-C. This module must not hold sandbox behaviour; it only turns options
into a :class:`SandboxServer`.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable

import click

from gameball_batch.sandbox import SandboxServer, SandboxServerError
from gameball_batch.sandbox.core import DEMO_POINTS, Faults, parse_fault_options

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
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535),
              help="Port to listen on; 0 picks a free one.")
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
def sandbox(host: str, port: int, seed_customers: int, rate: float, no_rate_limit: bool,
            rate_shared: bool, faults: tuple[str, ...]) -> None:
    """Run the embedded Gameball sandbox until Ctrl-C."""
    try:
        fault_settings = Faults().updated(parse_fault_options(faults))
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--fault") from None
    server = SandboxServer(
        host=host, port=port, seed_customers=seed_customers, instant=rate == 0,
        item_rate=rate or 200.0, rate_limit=not no_rate_limit, rate_shared=rate_shared,
        faults=fault_settings,
    )
    try:
        url = server.start()
    except SandboxServerError as exc:
        raise click.ClickException(str(exc)) from None
    _announce(url, server, seed_customers, click.echo)
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
    echo(f"  Debug:      {url}/_sandbox/customers, /_sandbox/jobs, /_sandbox/faults")
    echo("Press Ctrl-C to stop.")
