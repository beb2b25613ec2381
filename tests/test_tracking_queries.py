"""tracking as the one MLflow boundary: typed, paged queries; one run-status rule; the tag
vocabulary covers every ``augplat.*`` key in the package; no raw client outside tracking."""

from __future__ import annotations

import io
import re
import tokenize
from pathlib import Path

import pytest

from augplat import tracking
from augplat.tracking import tags as tag

PACKAGE = Path(tracking.__file__).resolve().parents[1]


@pytest.fixture
def store(tmp_path) -> tracking.Store:
    return tracking.connect(f"sqlite:///{tmp_path / 'mlflow.db'}")


def _run(store, experiment: str = "queries", **tags) -> str:
    logger = tracking.start_run(experiment, tags=tags, tracking_uri=store.uri)
    logger.end()
    return logger.run_id


# ---- the filter string ----------------------------------------------------------------------


def test_filter_quotes_each_value_with_the_quote_it_does_not_hold():
    where, leftover = tracking.run_filter(
        kind="gan",
        tags={tag.GAN_NAME: "it's"},
        status="FINISHED",
    )
    assert where == (
        "tags.`augplat.kind` = 'gan' AND tags.`augplat.gan_name` = \"it's\""
        " AND attributes.status = 'FINISHED'"
    )
    assert leftover == {}
    where, leftover = tracking.run_filter(tags={tag.GAN_NAME: "both ' and \""}, parent="p1")
    assert where == "tags.`mlflow.parentRunId` = 'p1'"  # no literal can hold both quotes
    assert leftover == {tag.GAN_NAME: "both ' and \""}


@pytest.mark.parametrize("name", ["it's", 'say "hi"', "both ' and \"", "plain", "back\\slash"])
def test_find_runs_matches_values_holding_quotes_exactly(store, name):
    names = ["it's", 'say "hi"', "both ' and \"", "plain", "back\\slash", "its"]
    ids = {n: _run(store, **{tag.KIND: tag.KIND_GAN, tag.GAN_NAME: n}) for n in names}
    _run(store, **{tag.KIND: tag.KIND_TRAIN, tag.GAN_NAME: name})  # same name, another kind
    found = store.find_runs(kind=tag.KIND_GAN, tags={tag.GAN_NAME: name})
    assert [r.info.run_id for r in found] == [ids[name]]


def test_find_runs_reads_every_page_newest_first(store, monkeypatch):
    ids = [_run(store, **{tag.KIND: tag.KIND_TRAIN}) for _ in range(5)]
    _run(store, **{tag.KIND: tag.KIND_GAN})
    pages = []
    search = store.client.search_runs

    def counting(*args, **kwargs):
        pages.append(kwargs.get("page_token"))
        return search(*args, **kwargs)

    monkeypatch.setattr(store.client, "search_runs", counting)
    found = store.find_runs(kind=tag.KIND_TRAIN, page_size=2)
    assert len(pages) == 3 and pages[0] is None and all(pages[1:])
    assert sorted(r.info.run_id for r in found) == sorted(ids)
    starts = [r.info.start_time for r in found]
    assert starts == sorted(starts, reverse=True)
    assert [r.info.run_id for r in store.find_runs(kind=tag.KIND_TRAIN, limit=2, page_size=1)] == [
        r.info.run_id for r in found[:2]
    ]


def test_typed_lookups_answer_none_for_what_the_store_lacks(store):
    run_id = _run(store, **{tag.KIND: tag.KIND_TRAIN})
    assert store.get_run("feedbeef") is None
    run = store.get_run(run_id)
    assert tracking.run_is_kind(run, tag.KIND_TRAIN, tag.KIND_ENSEMBLE)
    assert not tracking.run_is_kind(run, tag.KIND_GAN)
    assert store.find_runs(experiment_ids=[]) == []
    assert store.experiment_named("queries") == run.info.experiment_id
    assert store.experiment_named("nope") is None
    assert store.experiment_name(run.info.experiment_id) == "queries"


def test_checkpoints_and_metric_history_through_the_store(store, tmp_path):
    logger = tracking.start_run("queries", tracking_uri=store.uri)
    logger.log_metrics({"val_acc": 0.5}, step=1)
    logger.log_metrics({"val_acc": 0.75}, step=2)
    assert store.fetch_checkpoint(logger.run_id, "best.pt", tmp_path / "none") is None
    assert not (tmp_path / "none").exists()  # a missing artifact leaves no empty directory
    (tmp_path / "best.pt").write_bytes(b"weights")
    logger.log_artifact(tmp_path / "best.pt", "checkpoints")
    got = store.fetch_checkpoint(logger.run_id, "best.pt", tmp_path / "dl")
    assert got is not None and got.read_bytes() == b"weights"
    history = store.metric_history(logger.run_id, "val_acc")
    assert [(m.step, m.value) for m in history] == [(1, 0.5), (2, 0.75)]
    assert [m.step for m in logger.metric_history("val_acc")] == [1, 2]


# ---- one status rule --------------------------------------------------------------------------


class _Pruned(Exception):
    run_status = "KILLED"


def _status_after(store, body) -> str:
    run_ids = []
    try:
        with tracking.open_run("status", tracking_uri=store.uri) as logger:
            run_ids.append(logger.run_id)
            body(logger)
    except (Exception, KeyboardInterrupt):
        pass
    return store.get_run(run_ids[0]).info.status


def _raise(error: BaseException):
    def body(logger) -> None:
        raise error

    return body


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (lambda logger: None, "FINISHED"),
        (_raise(KeyboardInterrupt()), "KILLED"),
        (_raise(ValueError("crashed")), "FAILED"),
        (_raise(RuntimeError("crashed")), "FAILED"),
        (_raise(_Pruned()), "KILLED"),
        (lambda logger: logger.end("KILLED"), "KILLED"),  # a deliberate pause
    ],
    ids=["returns", "ctrl-c", "error", "other-error", "pruned", "paused"],
)
def test_open_run_ends_every_run_by_one_rule(store, body, status):
    assert _status_after(store, body) == status


def test_open_run_reraises_and_takes_a_reopened_run(store):
    logger = tracking.start_run("status", tracking_uri=store.uri)
    logger.end("KILLED")  # paused earlier; not owned by a live process any more
    with pytest.raises(ValueError, match="again"), tracking.open_run(logger=logger) as same:
        assert same is logger
        logger.mark_running()
        raise ValueError("crashed again")
    assert store.get_run(logger.run_id).info.status == "FAILED"


@pytest.mark.parametrize(
    ("error", "status"), [(ValueError("no checkpoint"), "FAILED"), (KeyboardInterrupt(), "KILLED")]
)
def test_a_resume_that_cannot_go_on_ends_by_the_same_rule(store, error, status):
    from augplat.tracking.resume import failing

    logger = tracking.start_run("status", tracking_uri=store.uri)
    with pytest.raises(type(error)), failing(logger):
        raise error
    assert store.get_run(logger.run_id).info.status == status


def test_end_status_is_the_rule():
    assert tracking.end_status(None) == "FINISHED"
    assert tracking.end_status(KeyboardInterrupt()) == "KILLED"
    assert tracking.end_status(_Pruned()) == "KILLED"
    assert tracking.end_status(OSError()) == "FAILED"


# ---- the boundary -----------------------------------------------------------------------------


def _string_literals(path: Path) -> list[tuple[int, str]]:
    found = []
    for token in tokenize.generate_tokens(io.StringIO(path.read_text()).readline):
        if token.type == tokenize.STRING and not token.string.lstrip("rbRB").startswith(
            ("f", "F", '"""', "'''")
        ):
            found.append((token.start[0], token.string.strip("'\"")))
    return found


def test_every_augplat_tag_key_is_spelled_in_the_vocabulary_only():
    vocabulary = {v for k, v in vars(tag).items() if k.isupper() and isinstance(v, str)}
    # runtime/ is below tracking and cannot import it: liveness owns its keys, tags re-exports
    owners = {"tracking/tags.py", "runtime/liveness.py"}
    stray = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        for line, text in _string_literals(path):
            if re.fullmatch(r"augplat\.[a-z_.]+", text):
                assert text in vocabulary, f"{rel}:{line}: {text} is not in tracking/tags.py"
                if rel not in owners:
                    stray.append(f"{rel}:{line}: {text}")
    assert stray == [], "use augplat.tracking.tags instead of literals:\n" + "\n".join(stray)
    owned = {"augplat.host", "augplat.pid", "augplat.pid_start"}
    assert {tag.HOST, tag.PID, tag.PID_START} == owned


def test_no_module_outside_tracking_holds_an_mlflow_client():
    calls = re.compile(r"tracking\.client\(|\bclient\.(get_|search_|set_|log_|download_|list_)")
    offenders = [
        f"{path.relative_to(PACKAGE)}:{n}: {line.strip()}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if "tracking" not in path.relative_to(PACKAGE).parts
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if calls.search(line)
    ]
    assert offenders == []
    assert not hasattr(tracking, "client")
