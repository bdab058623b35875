"""``python -m gameball_batch``: the command-line interface."""

from gameball_batch.cli import run

if __name__ == "__main__":
    run()
