"""What a study's parent run shows: the trials table, best params and the standard plots."""

from __future__ import annotations

import json
import logging
import warnings
from pathlib import Path

log = logging.getLogger("augplat")

PLOTS = {
    "optimization_history": "plot_optimization_history",
    "param_importances": "plot_param_importances",
    "parallel_coordinate": "plot_parallel_coordinate",
    "slice": "plot_slice",
}


def trials_table(study, path: Path) -> Path:
    """All trials as CSV: number, state, value, params, MLflow run id, timing."""
    frame = study.trials_dataframe(
        attrs=("number", "state", "value", "params", "user_attrs", "duration")
    )
    keep = [
        c
        for c in frame.columns
        if not c.startswith("user_attrs_")
        or c in ("user_attrs_mlflow_run_id", "user_attrs_best_epoch")
    ]
    frame = frame[keep].rename(columns=lambda c: c.replace("user_attrs_", ""))
    frame.to_csv(path, index=False)
    return path


def best_params(study, path: Path) -> dict:
    """Best trial's number, value and params as JSON."""
    best = study.best_trial
    payload = {
        "trial": best.number,
        "value": best.value,
        "params": best.params,
        "mlflow_run_id": best.user_attrs.get("mlflow_run_id"),
    }
    path.write_text(json.dumps(payload, indent=2), encoding="utf-8")
    return payload


def study_plots(study, out: Path) -> list[Path]:
    """Optuna's matplotlib plots as PNG; a plot that cannot be drawn yet is skipped, not fatal."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    import optuna.visualization.matplotlib as ovm

    written = []
    for name, func in PLOTS.items():
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "experimental" warnings
                result = getattr(ovm, func)(study)
            axes = result.flat[0] if hasattr(result, "flat") else result
            figure = axes.get_figure()
            figure.set_size_inches(max(figure.get_size_inches()[0], 8), 5)
            path = out / f"{name}.png"
            figure.savefig(path, dpi=110, bbox_inches="tight")
            plt.close(figure)
            written.append(path)
        except (ValueError, RuntimeError, ZeroDivisionError) as exc:
            log.debug("skipping study plot %s: %s", name, exc)
    plt.close("all")
    return written
