"""Is the process that owns a run still alive? Host, pid and the pid's start time as tags.

Why: a ``kill -9`` leaves an MLflow run RUNNING forever, and every statistic, every resume
and the UI would believe it. Each run records who runs it (:func:`owner_tags`); a later command
on the same host can then tell for sure that the owner is gone: no such pid, or the pid was
reused by a process that started at another time. A run owned by another host cannot be judged
from here (``None``: unknown).
"""

from __future__ import annotations

import os
import socket

HOST_TAG = "augplat.host"
PID_TAG = "augplat.pid"
PID_START_TAG = "augplat.pid_start"


def _start_time(pid: int) -> str:
    """The process's start time in clock ticks since boot (Linux ``/proc``; else empty)."""
    try:
        stat = open(f"/proc/{pid}/stat", encoding="ascii").read()  # noqa: SIM115 - tiny read
    except OSError:
        return ""
    # Field 22; the command name (field 2) may hold spaces, so split after its ')'.
    return stat.rsplit(")", 1)[1].split()[19]


def owner_tags() -> dict[str, str]:
    """Tags naming this process as a run's owner."""
    pid = os.getpid()
    return {HOST_TAG: socket.gethostname(), PID_TAG: str(pid), PID_START_TAG: _start_time(pid)}


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


def owner_alive(tags: dict[str, str]) -> bool | None:
    """True/False when the run's owner is provably alive/dead; None when it cannot be told.

    Args:
        tags: The run's tags (as written by :func:`owner_tags`).
    """
    host, pid = tags.get(HOST_TAG), tags.get(PID_TAG, "")
    if host != socket.gethostname() or not pid.isdigit():
        return None
    if int(pid) == os.getpid():
        return True
    if not pid_alive(int(pid)):
        return False
    started = tags.get(PID_START_TAG, "")
    return not (started and _start_time(int(pid)) and _start_time(int(pid)) != started)
