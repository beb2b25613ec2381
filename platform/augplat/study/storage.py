"""Where a study lives: Optuna storage, default a journal file in the data home.

Why a journal file by default: it survives crashes (append-only), needs no server, and unlike
SQLite it tolerates several worker processes on one host. ``--storage`` takes any SQLAlchemy URL
(PostgreSQL for many hosts) or a journal file path ending in ``.journal``/``.log``.

Trials left RUNNING by a dead process are failed on the next start: RDB storages use Optuna's
heartbeat; for journal files each trial records its host and pid, and a trial whose process is
gone on this host is failed (a trial on another host is failed once its heartbeat attribute is
older than the grace period).
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from pathlib import Path

from augplat.errors import ConfigError
from augplat.runtime.home import augplat_home
from augplat.runtime.liveness import pid_alive
from augplat.tracking import redact_uri

HEARTBEAT_INTERVAL_S = 30
GRACE_PERIOD_S = 120


def default_storage_path(study_name: str) -> Path:
    """``<home>/studies/<name>.journal``."""
    return augplat_home() / "studies" / f"{study_name}.journal"


def open_storage(url: str | None, study_name: str, on_stale: Callable | None = None):
    """An Optuna storage for ``url`` (``None`` = the default journal file)."""
    import optuna
    from optuna.storages import JournalStorage, RDBStorage
    from optuna.storages.journal import JournalFileBackend

    quiet_optuna()
    if url is None or url.endswith((".journal", ".log")) or "://" not in url:
        path = Path(url) if url else default_storage_path(study_name)
        path.parent.mkdir(parents=True, exist_ok=True)
        return JournalStorage(JournalFileBackend(str(path)))
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        return RDBStorage(
            url,
            heartbeat_interval=HEARTBEAT_INTERVAL_S,
            grace_period=GRACE_PERIOD_S,
            failed_trial_callback=on_stale,
        )
    except ImportError as exc:  # the database driver (psycopg, pymysql, ...) is missing
        extra = " (pip install 'augplat[postgres]')" if url.startswith("postgres") else ""
        raise ConfigError(
            f"study storage {redact_uri(url)} needs the database driver '{exc.name}'{extra}"
        ) from None
    except Exception as exc:  # SQLAlchemy: bad URL, server down, wrong password
        from sqlalchemy.exc import SQLAlchemyError

        if not isinstance(exc, SQLAlchemyError):
            raise
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise ConfigError(
            f"cannot open the study storage {redact_uri(url)}: {redact_uri(reason)}"
        ) from None


def quiet_optuna() -> None:
    """Silence Optuna's experimental/future warnings (heartbeats, journal backends): augplat
    chose those features on purpose and the user cannot act on the warning."""
    import warnings

    from optuna.exceptions import ExperimentalWarning

    warnings.filterwarnings("ignore", category=ExperimentalWarning)
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"optuna(\.|$)")


def mark_owner(trial) -> None:
    """Record which process runs a trial, and when it was last alive."""
    trial.set_user_attr("host", socket.gethostname())
    trial.set_user_attr("pid", os.getpid())
    beat(trial)


def beat(trial) -> None:
    """Heartbeat for journal storages (RDB storages have their own)."""
    trial.set_user_attr("heartbeat", time.time())


def is_stale(frozen) -> bool:
    """Whether a RUNNING trial's process is gone (same host) or silent for too long."""
    attrs = frozen.user_attrs
    if attrs.get("host") == socket.gethostname() and "pid" in attrs:
        if attrs["pid"] == os.getpid():
            return False
        return not pid_alive(int(attrs["pid"]))
    last = attrs.get("heartbeat", frozen.datetime_start.timestamp() if frozen.datetime_start else 0)
    return time.time() - float(last) > GRACE_PERIOD_S


def fail_stale_trials(study, on_stale: Callable) -> list[int]:
    """Mark stale RUNNING trials FAIL and call ``on_stale(study, frozen)``; returns numbers."""
    from optuna.storages import RDBStorage
    from optuna.storages import fail_stale_trials as optuna_fail_stale
    from optuna.trial import TrialState

    if isinstance(study._storage, RDBStorage):
        optuna_fail_stale(study)  # its failed_trial_callback ends the MLflow runs
    failed = []
    for frozen in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if is_stale(frozen) and study._storage.set_trial_state_values(
            frozen._trial_id, TrialState.FAIL
        ):
            on_stale(study, frozen)
            failed.append(frozen.number)
    return failed


def check_storage_url(url: str | None) -> None:
    """Refuse a server database URL whose driver is missing, before any slow work starts.

    Only imports the driver (nothing is connected or created): the real opening happens in
    :func:`open_storage`, when the study starts.
    """
    if url is None or url.endswith((".journal", ".log")) or "://" not in url:
        return
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        make_url(url).get_dialect().import_dbapi()
    except ImportError as exc:
        extra = " (pip install 'augplat[postgres]')" if url.startswith("postgres") else ""
        raise ConfigError(
            f"study storage {redact_uri(url)} needs the database driver '{exc.name}'{extra}"
        ) from None
    except (ArgumentError, NoSuchModuleError) as exc:
        raise ConfigError(f"study storage {redact_uri(url)}: {exc}") from None
