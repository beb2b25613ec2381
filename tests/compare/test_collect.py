"""Strategy names from tags and params, and gathering runs from a real MLflow store.

The store holds hand-made runs (tags, params and metrics as ``augplat train`` logs them), so
gathering, study children, lineage and the error cases are checked without training anything.
"""

from __future__ import annotations

import pytest

from augplat.compare.collect import base_strategy, collect, label_strategies
from augplat.errors import UserError
from augplat.tracking import Store

TRAIN = {"augplat.kind": "train", "augplat.dataset_digest": "d1"}


@pytest.mark.parametrize(
    ("tags", "params", "expanded", "want"),
    [
        ({}, {"aug": "none"}, False, "baseline"),
        ({}, {"aug": "classic"}, False, "classic"),
        ({}, {"aug": "gan"}, False, "gan"),
        ({}, {"aug": "both"}, False, "gan+classic"),
        ({"augplat.aug": "none"}, {}, False, "baseline"),  # tag when the param is missing
        ({}, {"aug": "none"}, True, "expanded"),
        ({}, {"aug": "classic", "train_on": "expanded"}, False, "expanded"),
        ({}, {"aug": "none", "train_on": "united"}, False, "united"),
        ({"augplat.kind": "ensemble"}, {"rule": "vote"}, False, "ensemble"),
        ({"augplat.strategy": "mixup"}, {"aug": "none"}, False, "mixup"),  # explicit tag wins
    ],
)
def test_base_strategy(tags, params, expanded, want):
    assert base_strategy(tags, params, expanded) == want


def _labels(*runs):
    return label_strategies([(base_strategy(t, p, e), t, p) for t, p, e in runs])


def test_gan_prob_joins_the_label_only_when_it_differs():
    runs = [({}, {"aug": "gan", "gan_prob": "0.5", "seed": s}, False) for s in "01"]
    assert _labels(*runs) == ["gan", "gan"]
    runs = [({}, {"aug": "gan", "gan_prob": p}, False) for p in ("0.5", "0.25")]
    assert _labels(*runs, ({}, {"aug": "none"}, False)) == ["gan p=0.5", "gan p=0.25", "baseline"]


def test_other_details_split_their_strategy():
    expanded = [({}, {"aug": a}, True) for a in ("none", "classic")]
    assert _labels(*expanded) == ["expanded", "expanded+classic"]
    ensembles = [({"augplat.kind": "ensemble"}, {"rule": r}, False) for r in ("sum", "vote")]
    assert _labels(*ensembles) == ["ensemble sum", "ensemble vote"]
    modes = [({"augplat.test_mode": m}, {"aug": "classic"}, False) for m in ("regular", "both")]
    assert _labels(*modes) == ["classic", "classic test=both"]
    ccl = [({}, {"aug": "classic", "ccl_lambda": v}, False) for v in ("0.0", "0.55")]
    assert _labels(*ccl, ({}, {"aug": "classic"}, False)) == [
        "classic",
        "classic ccl=0.55",
        "classic",  # a run from before the setting counts as lambda 0
    ]


def test_every_setting_but_the_seed_makes_the_arm():
    # the defect: lr, generator, epochs never split a strategy, so different arms were pooled
    runs = [
        ({}, {"aug": "gan", "lr": lr, "generator": g, "epochs": "5", "seed": s}, False)
        for lr, g, s in (("0.001", "g1", "0"), ("0.001", "g1", "1"), ("0.01", "g2", "0"))
    ]
    assert _labels(*runs) == [
        "gan generator=g1 lr=0.001",
        "gan generator=g1 lr=0.001",
        "gan generator=g2 lr=0.01",
    ]
    # ... unless the user says what makes an arm
    chosen = label_strategies([(base_strategy(t, p, e), t, p) for t, p, e in runs], ["epochs"])
    assert chosen == ["gan", "gan", "gan"]


def test_all_gan_runs_tested_on_translations_are_apart_from_regular_ones(store):
    for s in (0, 1):
        make_run(store, "exp-view", params={"aug": "none", "seed": s}, metrics={"test_top1": 0.5})
        make_run(
            store,
            "exp-view",
            tags={"augplat.test_mode": "gan"},
            params={"aug": "gan", "test_mode": "gan", "seed": s},
            metrics={"test_top1": 0.9},
        )
    found = collect(Store(store), experiment="exp-view")
    views = {r.strategy: r.view for r in found.records}
    assert views == {"baseline": "regular", "gan": "gan"}
    from augplat.compare.analysis import analyse

    a = analyse(found.records, "test_top1")
    assert len(a.tables) == 2 and all(not t.tests for t in a.tables)


def test_seed_groups_that_reuse_seeds_stay_apart():
    runs = [
        ({"augplat.seed_group": g}, {"aug": "classic", "seed": s}, False)
        for g, s in (("aaaaaaaaaa", "0"), ("aaaaaaaaaa", "1"), ("bbbbbbbbbb", "0"))
    ]
    assert _labels(*runs) == ["classic [aaaaaaaa]", "classic [aaaaaaaa]", "classic [bbbbbbbb]"]
    one_group = [({"augplat.seed_group": "g"}, {"aug": "classic", "seed": s}, False) for s in "01"]
    assert _labels(*one_group) == ["classic", "classic"]


# ---- a real store with hand-made runs ---------------------------------------------------------


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    from mlflow import MlflowClient

    root = tmp_path_factory.mktemp("collect-store")
    return MlflowClient(f"sqlite:///{root / 'mlflow.db'}")


def make_run(client, experiment, *, tags=None, params=None, metrics=None, status="FINISHED"):
    from augplat.tracking import experiment_id

    run = client.create_run(experiment_id(client, experiment), tags={**TRAIN, **(tags or {})})
    for key, value in (params or {}).items():
        client.log_param(run.info.run_id, key, value)
    for key, value in (metrics or {}).items():
        client.log_metric(run.info.run_id, key, value)
    client.set_terminated(run.info.run_id, status)
    return run.info.run_id


def test_experiment_runs_are_grouped_with_their_values(store):
    ids = {
        (aug, seed): make_run(
            store,
            "exp-a",
            params={"aug": aug, "seed": seed},
            metrics={"test_top1": 0.5 + seed / 10 + (aug == "classic") / 100},
        )
        for aug in ("none", "classic")
        for seed in (0, 1)
    }
    make_run(store, "exp-a", params={"aug": "none", "seed": 2}, status="KILLED")
    make_run(store, "exp-a", tags={"augplat.kind": "gan"}, metrics={"test_top1": 1.0})
    make_run(store, "exp-a", params={"aug": "none", "seed": 3})  # no test metric: a trial
    found = collect(Store(store), experiment="exp-a")
    by_id = {r.run_id: r for r in found.records}
    assert set(by_id) == set(ids.values())
    assert by_id[ids["classic", 1]].strategy == "classic" and by_id[ids["classic", 1]].seed == 1
    assert by_id[ids["none", 1]].value == pytest.approx(0.6)
    assert len(found.skipped) == 1 and "no test_top1" in found.skipped[0]
    assert found.experiment_id == store.get_experiment_by_name("exp-a").experiment_id


def test_study_children_of_the_newest_parent(store):
    old = store.create_run("0", tags={"augplat.kind": "study", "augplat.study": "mini"}).info
    make_run(store, "Default", tags={"mlflow.parentRunId": old.run_id}, metrics={"test_top1": 0})
    exp = store.get_experiment_by_name("Default").experiment_id
    parent = store.create_run(exp, tags={"augplat.kind": "study", "augplat.study": "mini"}).info
    kids = [
        make_run(
            store,
            "Default",
            tags={"mlflow.parentRunId": parent.run_id, "augplat.final": "true"},
            params={"aug": "classic", "seed": s},
            metrics={"test_top1": 0.9},
        )
        for s in (0, 1)
    ]
    found = collect(Store(store), study="mini")
    assert sorted(r.run_id for r in found.records) == sorted(kids)
    with pytest.raises(UserError, match="no study named 'nope'"):
        collect(Store(store), study="nope")


def test_expanded_data_is_recognised_by_the_expand_runs_digest(store):
    make_run(
        store,
        "exp-b",
        tags={
            "augplat.kind": "expand",
            "augplat.dataset_digest": "e1",
            "augplat.source_digest": "d1",
        },
    )
    plain = make_run(store, "exp-b", params={"aug": "none"}, metrics={"test_top1": 0.5})
    grown = make_run(
        store,
        "exp-b",
        tags={"augplat.dataset_digest": "e1"},
        params={"aug": "none"},
        metrics={"test_top1": 0.6},
    )
    found = {r.run_id: r for r in collect(Store(store), experiment="exp-b").records}
    assert found[plain].strategy == "baseline" and found[grown].strategy == "expanded"
    assert found[grown].dataset == found[plain].dataset == "d1"  # same test set


@pytest.mark.parametrize(
    ("setup", "fragment"),
    [
        ("unknown-id", "no MLflow run with id '0123abcd'"),
        ("unknown-metric", "unknown metric 'test_nope'"),
        ("explicit-missing-metric", "has no metric 'test_top1'"),
        ("unknown-experiment", "no experiment named 'ghost'"),
        ("empty-experiment", "no finished train or ensemble runs"),
        ("not-train", "is a gan run"),
        ("unfinished", "is RUNNING"),
    ],
)
def test_user_errors(store, setup, fragment):
    exp = f"err-{setup}"
    ok = make_run(store, exp, params={"aug": "none"}, metrics={"test_top1": 0.5})
    kwargs = {"experiment": exp}
    if setup == "unknown-id":
        kwargs = {"run_ids": ["0123abcd"]}
    elif setup == "unknown-metric":
        kwargs["metric"] = "test_nope"
    elif setup == "explicit-missing-metric":
        kwargs = {"run_ids": [ok, make_run(store, exp, params={"aug": "none"})]}
    elif setup == "unknown-experiment":
        kwargs["experiment"] = "ghost"
    elif setup == "empty-experiment":
        store.create_experiment(exp + "-empty")
        kwargs["experiment"] = exp + "-empty"
    elif setup == "two-datasets":
        make_run(store, exp, tags={"augplat.dataset_digest": "d2"}, metrics={"test_top1": 0.4})
    elif setup == "not-train":
        kwargs = {"run_ids": [make_run(store, exp, tags={"augplat.kind": "gan"})]}
    elif setup == "unfinished":
        kwargs = {"run_ids": [make_run(store, exp, status="RUNNING")]}
    with pytest.raises(UserError, match=fragment.replace("(", r"\(")):
        collect(Store(store), **kwargs)
