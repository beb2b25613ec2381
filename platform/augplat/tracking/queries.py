"""Typed queries: runs by kind, tags, status and parent, always every page.

The filter string of a run search is built here only (:func:`run_filter`), with values quoted
so a name holding a quote still matches exactly; every search pages (:func:`search_all`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from augplat.errors import TrackingError
from augplat.tracking import tags as tag
from augplat.tracking.uri import redact_uri, store_errors

NEWEST_FIRST = ("attributes.start_time DESC",)
_PAGE = 1000  # MLflow's largest page of runs


def quote(value: Any) -> str | None:
    """``value`` as a literal of a search filter, or None when no literal can hold it.

    MLflow's filter parser strips the quotes of a literal but does not unescape what is inside,
    so a value is quoted with the quote character it does not contain.
    """
    text = str(value)
    if "'" not in text:
        return f"'{text}'"
    if '"' not in text:
        return f'"{text}"'
    return None


def run_filter(
    *,
    kind: str | None = None,
    tags: Mapping[str, Any] | None = None,
    status: str | None = None,
    parent: str | None = None,
) -> tuple[str, dict[str, str]]:
    """The filter string of a run search, and the tag conditions it could not express.

    Returns:
        ``(filter_string, leftover)``: ``leftover`` maps tag keys to values holding both quote
        characters; :func:`find_runs` checks those on each run found.
    """
    wanted: dict[str, str] = {}
    if kind is not None:
        wanted[tag.KIND] = kind
    if parent is not None:
        wanted[tag.PARENT_RUN_ID] = parent
    wanted.update({str(k): str(v) for k, v in (tags or {}).items()})
    clauses, leftover = [], {}
    for key, value in wanted.items():
        literal = quote(value)
        if literal is None or "`" in key:
            leftover[key] = value
        else:
            clauses.append(f"tags.`{key}` = {literal}")
    if status is not None:
        clauses.append(f"attributes.status = {quote(status)}")
    return " AND ".join(clauses), leftover


def search_all(
    mlflow_client,
    experiment_ids: Sequence[str],
    filter_string: str = "",
    *,
    order_by: Sequence[str] = NEWEST_FIRST,
    page_size: int = _PAGE,
) -> Iterator[Any]:
    """Every run matching ``filter_string`` in the experiments, page after page."""
    token = None
    while True:
        page = mlflow_client.search_runs(
            list(experiment_ids),
            filter_string,
            max_results=page_size,
            order_by=list(order_by),
            page_token=token,
        )
        yield from page
        token = page.token
        if not token:
            return


def all_experiment_ids(mlflow_client, page_size: int = _PAGE) -> list[str]:
    """The ids of every active experiment (all pages)."""
    ids, token = [], None
    while True:
        page = mlflow_client.search_experiments(max_results=page_size, page_token=token)
        ids += [e.experiment_id for e in page]
        token = page.token
        if not token:
            return ids


def find_runs(
    mlflow_client,
    experiment_ids: Iterable[str] | None = None,
    *,
    kind: str | None = None,
    tags: Mapping[str, Any] | None = None,
    status: str | None = None,
    parent: str | None = None,
    order_by: Sequence[str] = NEWEST_FIRST,
    limit: int | None = None,
    page_size: int = _PAGE,
) -> list:
    """The runs of a kind, with these tag values, status and parent run (newest first).

    Args:
        mlflow_client: The client to ask.
        experiment_ids: Where to look (None: every active experiment).
        kind: The ``augplat.kind`` tag (``tag.KIND_TRAIN``, ...).
        tags: Further tag values, all required.
        status: ``FINISHED``, ``RUNNING``, ``FAILED`` or ``KILLED``.
        parent: Only children of this run.
        order_by: MLflow ``order_by`` clauses.
        limit: At most this many runs.
        page_size: Runs per request (every page is read until ``limit``).
    """
    ids = all_experiment_ids(mlflow_client) if experiment_ids is None else list(experiment_ids)
    if not ids:
        return []
    where, leftover = run_filter(kind=kind, tags=tags, status=status, parent=parent)
    if limit and not leftover:
        page_size = min(page_size, limit)
    found = []
    for run in search_all(mlflow_client, ids, where, order_by=order_by, page_size=page_size):
        if all(run.data.tags.get(k) == v for k, v in leftover.items()):
            found.append(run)
            if limit and len(found) >= limit:
                break
    return found


def run_is_kind(run, *kinds: str) -> bool:
    """Whether ``run``'s ``augplat.kind`` tag is one of ``kinds``."""
    return run.data.tags.get(tag.KIND) in kinds


def get_run(mlflow_client, run_id: str):
    """The run ``run_id``, or None when this store has no such run."""
    try:
        return mlflow_client.get_run(run_id)
    except store_errors():
        return None


def fetch_run(
    mlflow_client,
    run_id: str,
    *,
    kinds: tuple[str, ...] = (),
    expected: str = "",
    finished_to: str = "",
):
    """The MLflow run ``run_id``, or one clear error line.

    Args:
        mlflow_client: The client to ask.
        run_id: The run's id.
        kinds: Accepted ``augplat.kind`` tags (empty: any run).
        expected: What the kinds are, for the error (``an `augplat train` run``).
        finished_to: When set, the run must be FINISHED; the error says only finished runs can
            ``finished_to`` (``be compared``).

    Raises:
        TrackingError: No such run in this store.
        ConfigError: The run is of another kind, or not finished.
    """
    from augplat.errors import ConfigError

    run = get_run(mlflow_client, run_id)
    if run is None:
        where = redact_uri(str(mlflow_client.tracking_uri))
        raise TrackingError(f"no MLflow run with id '{run_id}' in {where}")
    kind = run.data.tags.get(tag.KIND)
    if kinds and kind not in kinds:
        raise ConfigError(f"run {run_id} is a {kind or 'non-augplat'} run, not {expected}")
    if finished_to and run.info.status != "FINISHED":
        raise ConfigError(
            f"run {run_id} is {run.info.status}: only finished runs can {finished_to}"
        )
    return run
