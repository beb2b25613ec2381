"""What a finished study leaves on its parent run: numbers, tables, plots, the verdict's words.

:func:`summarise` logs the search's trials and the final cells; :func:`publish` writes the verdict
where users look (the run's description, ``augplat.verdict.*`` tags, ``report.md`` and a
self-contained ``report.html``), with the protocol a reviewer needs to trust it.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

from augplat.study import optuna_backend as ob
from augplat.study import report as study_report
from augplat.tracking import tags as tag


def cells_csv(grid, out: Path) -> None:
    import csv

    with open(out, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["arm", "seed", "fraction", "run_id"])
        for cell in grid.cells():
            writer.writerow([cell.arm, cell.seed, f"{cell.fraction:g}", grid.done.get(cell.key)])


def summarise(spec, study, parent, plans, grid, verdict) -> None:
    """Trials table and plots of the shared search, cells, and per-arm numbers on the parent."""
    from augplat.study.verdict import curve_plot
    from augplat.tracking import scratch_dir

    counts = ob.count_states(study)
    metrics: dict[str, float] = {f"trials_{k.lower()}": v for k, v in counts.items()}
    if any(t.state.name == "COMPLETE" for t in study.trials):
        metrics.update(best_value=study.best_value, best_trial=study.best_trial.number)
        parent.log_params({f"best.{k}": v for k, v in study.best_params.items()})
    main = verdict.analysis.main
    for arm, s in main.summaries.items():
        metrics[f"final.{arm}.mean"] = s.mean
        metrics[f"final.{arm}.n"] = s.n
    parent.log_metrics({k: float(v) for k, v in metrics.items() if v == v})
    with scratch_dir() as out:
        if study.trials:
            study_report.trials_table(study, out / "trials.csv")
            study_report.best_params(study, out / "best_params.json")
            study_report.study_plots(study, out)
        cells_csv(grid, out / "final.csv")
        curve_plot(verdict.analysis, out / "curve.png")
        parent.log_artifact(out, "study")


def command(spec_path: Path, n_trials: int, storage, backend: str) -> str:
    parts = ["augplat", "study", str(spec_path), "--trials", str(n_trials)]
    if backend != "optuna":
        parts += ["--backend", backend]
    if storage:
        parts += ["--storage", "<your storage>"]  # never the URL: it may hold a password
    return shlex.join(parts)


def generators_table(inputs, tracking_uri, dst: Path) -> list[dict[str, Any]]:
    """The generators the study used: method, run, data, final metrics, a sample grid."""
    from augplat import tracking

    store = tracking.connect(tracking_uri)
    rows = []
    for (fraction, seed), run_id in sorted(inputs.generators().items(), key=lambda kv: str(kv)):
        run = store.get_run(run_id)
        if run is None:  # an imported generator's name, not a run
            rows.append({"fraction": fraction, "seed": seed, "method": "imported",
                         "run_id": run_id, "data": "", "metrics": {}})  # fmt: skip
            continue
        skip = ("loss", "lr_", "epoch")  # training state, not what the generator is worth
        metrics = {k: v for k, v in run.data.metrics.items() if not k.startswith(skip)}
        where = dst / run_id
        where.mkdir(parents=True, exist_ok=True)
        samples = store.latest_artifact(run_id, "samples", ".png", where)
        rows.append(
            {
                "fraction": fraction,
                "seed": "all" if seed is None else seed,
                "method": run.data.tags.get(tag.GAN_METHOD) or run.data.params.get("method"),
                "run_id": run_id,
                "data": run.data.params.get("data", ""),
                "metrics": metrics,
                "samples": samples,
            }
        )
    return rows


def protocol_lines(spec, plans, inputs, baseline: str, n_trials: int, verdict) -> list[str]:
    search_epochs = spec.trial_config({}).epochs
    final_epochs = spec.final.epochs or search_epochs
    if spec.final.tune == "shared":
        trained = next((p.trials for p in plans.values() if not p.ensemble), 0)
        tuning = (
            f"Tuning: shared; one search of {trained} finished trials (requested {n_trials}); "
            "every arm trains its winner with the arm's own settings on top."
        )
    else:
        tuned = ", ".join(f"{name}: {p.trials}" for name, p in plans.items() if not p.ensemble)
        tuning = f"Tuning: per-arm; trials per arm: {tuned} (requested {n_trials} each)."
    variance = ["the classifier's seed (initialisation, data order, augmentation draws)"]
    if spec.final.generator_per_seed:
        variance.append("the generator's own training (one generator per seed)")
    else:
        variance.append("not the generator's training (one generator per fraction, all seeds)")
    lines = [
        f"Selection on the validation split by {spec.objective.metric} (checkpoints, pruning, "
        f"the search); the test split is read once per final cell, with its best-val checkpoint.",
        tuning,
        f"Search on fraction {spec.final.fractions[-1]:g} of the train split; final cells at "
        f"fractions {', '.join(f'{f:g}' for f in spec.final.fractions)}.",
        f"Epochs: {search_epochs} in the search, {final_epochs} in the final cells"
        + (" (as selected)." if final_epochs == search_epochs else " (differs from the search)."),
        f"Seeds: {', '.join(map(str, spec.final.seed_list))}; cells paired by seed; "
        f"baseline arm: {baseline}; verdict metric {spec.final.metric}, alpha "
        f"{spec.final.alpha:g} per table with Holm's adjustment across arms.",
        "Intervals include: " + "; ".join(variance) + ". The test set itself is fixed.",
        "Words: helps / hurts (Holm-adjusted p below alpha), no detectable difference, "
        "underpowered (too few pairs for an exact test to reach alpha, n ≤ 5).",
    ]
    return lines + same_settings(plans)  # after the fixed lines the description quotes


def same_settings(plans) -> list[str]:
    """Arms that train exactly the same settings (e.g. a winner without generative parts)."""
    notes, seen = [], {}
    for name, plan in plans.items():
        if plan.ensemble:
            continue
        key = repr(sorted((k, v) for k, v in plan.params.items() if v is not None))
        if key in seen:
            notes.append(
                f"Arms {seen[key]} and {name} train the same settings: the search winner uses no "
                "generative augmentation, so their difference can only be zero."
            )
        seen.setdefault(key, name)
    return notes


def data_table(inputs, spec) -> tuple[list[str], list[list[Any]]]:
    header = ["fraction", "dataset", "digest", "train", "val", "test", "classes"]
    rows = []
    for fraction in spec.final.fractions:
        ds = inputs.dataset(fraction)
        n = {k: len(ds.indices(k)) for k in ("train", "val", "test")}
        rows.append([f"{fraction:g}", ds.name, ds.digest, n["train"], n["val"], n["test"],
                     ds.num_classes])  # fmt: skip
    return header, rows


def publish(spec, parent, plans, inputs, verdict, baseline, n_trials, spec_path, storage,
             backend, tracking_uri) -> None:  # fmt: skip
    """The verdict where users look: description, tags, report.md and report.html."""
    from augplat.compare.runner import verdict_tags
    from augplat.study.answer_report import build_report
    from augplat.study.verdict import description
    from augplat.tracking import scratch_dir

    question = (
        f"does generative augmentation make {spec.trial_config({}).model} better on "
        f"{inputs.base}, and with which settings?"
    )
    protocol = protocol_lines(spec, plans, inputs, baseline, n_trials, verdict)
    with scratch_dir() as tmp:
        context = {
            "study": spec.name,
            "question": question,
            "protocol": protocol,
            "protocol_line": protocol[1] + " " + protocol[4],
            "data_table": data_table(inputs, spec),
            "generators": generators_table(inputs, tracking_uri, tmp / "downloads"),
            "command": command(spec_path, n_trials, storage, backend),
        }
        parent.set_tags(
            {"mlflow.note.content": description(verdict, context), **verdict_tags(verdict.analysis)}
        )
        out = tmp / "report"
        out.mkdir()
        build_report(verdict, context, out)
        parent.log_artifact(out, "report")
        for name in ("report.md", "report.html"):
            parent.log_artifact(out / name)
