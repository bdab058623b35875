"""Durable before the send: the claim is on disk before its POST can leave, and a ledger on
a network filesystem, where SQLite's write-ahead log is unsafe, is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from gameball_batch.ledger import Ledger, LedgerError, NewChunk, NewJob, NewRow
from gameball_batch.ledger.sqlite import filesystem_type

# All of it is about SQLite: its synchronous pragma and its file on a network filesystem.
pytestmark = pytest.mark.sqlite_only

def _job(ledger: Ledger) -> None:
    ledger.create_job(
        NewJob(id="job-1", batch_type="adjustments", file_name="a.csv", fingerprint="f",
               sheet=None, mapping={}, columns=("c",), row_count=1, item_count=1, totals={},
               actor="amira"),
        [NewChunk(0, b'{"body":[{"customerId":"cus-1","amount":5}]}', 1)],
        [NewRow(2, 0, "cus-1", ("x",))],
    )


def _statements(ledger: Ledger, action: object) -> list[str]:
    """Every statement the ledger's writer connection runs during ``action()``."""
    seen: list[str] = []
    ledger.audit("t", "warm-up")  # opens the writer connection
    writer = ledger._writer_conn()
    writer.set_trace_callback(seen.append)
    try:
        action()  # type: ignore[operator]
    finally:
        writer.set_trace_callback(None)
    return seen


def test_the_claim_commits_with_synchronous_full(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.db")
    _job(ledger)
    assert ledger.acquire_lease("job-1", "runner", 60)
    seen = _statements(ledger, lambda: ledger.claim("job-1", 0, "runner"))
    full = seen.index("PRAGMA synchronous = FULL")
    commit = seen.index("COMMIT")
    claim = next(i for i, s in enumerate(seen) if "SET state = 'sending'" in s)
    assert full < seen.index("BEGIN IMMEDIATE") < claim < commit
    assert seen[commit + 1:] == ["PRAGMA synchronous = NORMAL"]  # bulk writes stay fast
    ledger.close()


def test_bulk_writes_before_anything_is_sent_stay_on_normal(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.db")
    seen = _statements(ledger, lambda: _job(ledger))
    assert not any("synchronous" in s for s in seen)
    ledger.close()


MOUNTS = """\
sysfs /sys sysfs rw 0 0
/dev/sda1 / ext4 rw,relatime 0 0
fileserver:/export/ops /mnt/ops nfs4 rw,relatime 0 0
//nas/share /mnt/nas\\040share cifs rw 0 0
"""


@pytest.mark.parametrize(("path", "kind"), [
    ("/home/ops/ledger.db", "ext4"),
    ("/mnt/ops/team/ledger.db", "nfs4"),
    ("/mnt/nas share/ledger.db", "cifs"),
    ("/mnt/opsx/ledger.db", "ext4"),  # a sibling whose name starts the same is not inside
])
def test_the_filesystem_of_a_path_is_read_from_the_mounts_table(path: str, kind: str) -> None:
    assert filesystem_type(Path(path), MOUNTS) == kind


@pytest.mark.parametrize("kind", ["nfs", "nfs4", "cifs", "smb3", "fuse.sshfs"])
def test_a_ledger_on_a_network_filesystem_is_refused_with_a_way_forward(
    tmp_path: Path, kind: str
) -> None:
    with pytest.raises(LedgerError) as refused:
        Ledger(tmp_path / "ledger.db", fs_type=lambda _path: kind)
    message = str(refused.value)
    assert kind in message
    assert "local disk" in message
    assert "PostgreSQL" in message
    assert "allow_network_fs" in message
    assert not (tmp_path / "ledger.db").exists()  # refused before anything was written


def test_the_setting_allows_it_with_a_warning(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.db", fs_type=lambda _path: "nfs4",
                    allow_network_fs=True)
    assert ledger.warning is not None
    assert "nfs4" in ledger.warning
    ledger.close()


def test_a_local_disk_gives_no_warning(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.db", fs_type=lambda _path: "ext4")
    assert ledger.warning is None
    ledger.close()
