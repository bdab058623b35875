"""The embedded Gameball sandbox: a local emulator of the documented batch API.

``core`` holds the state and rules (pure; records in ``model``, replies in ``replies``),
``app`` the Starlette HTTP face, ``server`` the background-thread runner, ``persist`` the
state file and ``shared`` the one local sandbox the console and the CLI share. Import the
server from here; nothing in this package talks to the real Gameball.
"""

from gameball_batch.sandbox.core import (
    DEMO_API_KEY,
    DEMO_SECRET_KEY,
    CoreConfig,
    Faults,
    SandboxCore,
)
from gameball_batch.sandbox.server import SandboxServer, SandboxServerError

__all__ = [
    "DEMO_API_KEY",
    "DEMO_SECRET_KEY",
    "CoreConfig",
    "Faults",
    "SandboxCore",
    "SandboxServer",
    "SandboxServerError",
]
