"""The names of every job, chunk and row state, and the groups the rest of the code asks about.

Which state may follow which, and who may make the move, is in :mod:`.transitions`.
"""

from __future__ import annotations

JOB_QUEUED = "queued"  # created, waiting for a runner
JOB_RUNNING = "running"  # a runner is sending and polling its chunks
JOB_PAUSED = "paused"  # send nothing more; chunks already accepted are still followed
JOB_STOPPING = "stopping"  # stop requested: nothing new is sent (abort: remote jobs stopped too)
JOB_STOPPED = "stopped"  # stopped; rows provably never sent are not_applied
JOB_NEEDS_OPERATOR = "needs_operator"  # in-doubt rows wait for an operator decision
JOB_FINISHED = "finished"  # every chunk done or failed; rows applied or failed
# Four-eyes approval (approval_flow.py): the runner never drives a job awaiting approval;
# an approver moves it to queued, or to rejected (settled, nothing sent).
JOB_AWAITING_APPROVAL = "awaiting_approval"
JOB_REJECTED = "rejected"
# Send at a time (schedule.py): the runner never drives a scheduled job; the scheduler
# moves it to queued once ``scheduled_at`` has come (or cancels it: rejected, nothing sent).
JOB_SCHEDULED = "scheduled"
JOB_STATES = (
    JOB_QUEUED,
    JOB_RUNNING,
    JOB_PAUSED,
    JOB_STOPPING,
    JOB_STOPPED,
    JOB_NEEDS_OPERATOR,
    JOB_FINISHED,
    JOB_AWAITING_APPROVAL,
    JOB_REJECTED,
    JOB_SCHEDULED,
)
ACTIVE_JOB_STATES = (JOB_QUEUED, JOB_RUNNING, JOB_PAUSED, JOB_STOPPING)
SETTLED_JOB_STATES = (JOB_STOPPED, JOB_NEEDS_OPERATOR, JOB_FINISHED, JOB_REJECTED)

CHUNK_PENDING = "pending"
CHUNK_SENDING = "sending"
CHUNK_ACCEPTED = "accepted"
CHUNK_DONE = "done"
CHUNK_FAILED = "failed"
CHUNK_UNKNOWN = "unknown"
CHUNK_STATES = (
    CHUNK_PENDING,
    CHUNK_SENDING,
    CHUNK_ACCEPTED,
    CHUNK_DONE,
    CHUNK_FAILED,
    CHUNK_UNKNOWN,
)

ROW_PENDING = "pending"
ROW_APPLIED = "applied"
ROW_FAILED = "failed"
ROW_UNKNOWN = "unknown"
ROW_NOT_APPLIED = "not_applied"
ROW_STATUSES = (ROW_PENDING, ROW_APPLIED, ROW_FAILED, ROW_UNKNOWN, ROW_NOT_APPLIED)

TARGET_SANDBOX = "sandbox"
TARGET_PRODUCTION = "production"
