"""Study efficiency: the digits study with pruning against the same study without.

Both searches run the same sampler and seed over studies/digits.yaml (its own pruner, or
``--pruner``, against none); the final multi-seed stage
is left out (it is identical in both). Reports wall time and best validation accuracy; the target
is at most half the time at a best accuracy within one point.

How to run::

    .venv/bin/python bench/bench_study_pruning.py [--trials 12]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from common import result

ROOT = Path(__file__).resolve().parents[1]


def search(pruner: str | None, trials: int) -> tuple[float, float, dict]:
    """One search over studies/digits.yaml with ``pruner`` (None: the file's own)."""
    from augplat.runtime.progress import Reporter
    from augplat.study import optuna_backend as ob
    from augplat.study.runner import _open_study
    from augplat.study.spec import load_study_spec

    spec, _ = load_study_spec(str(ROOT / "studies" / "digits.yaml"))
    pruner = pruner or spec.pruner.name
    spec = spec.model_copy(update={"name": f"bench-{pruner}"})
    spec.pruner = spec.pruner.model_copy(update={"name": pruner})
    study = _open_study(spec, None, resume=False, fresh=True, tracking_uri=None)
    from augplat import tracking

    parent = tracking.start_run(spec.experiment_name, spec.name)
    start = time.perf_counter()
    ob.optimize(study, ob.Objective(spec, parent.run_id, None), trials, None, Reporter())
    elapsed = time.perf_counter() - start
    parent.end()
    return elapsed, study.best_value, ob.count_states(study)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--pruner", default=None, help="default: the study file's pruner")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["AUGPLAT_HOME"] = os.path.join(tmp, "home")
        os.chdir(tmp)
        t_none, best_none, c_none = search("none", args.trials)
        t_median, best_median, c_median = search(args.pruner, args.trials)
    print(f"no pruning: {t_none:.1f}s best val_acc {best_none:.4f} {c_none}")
    print(f"with pruning: {t_median:.1f}s best val_acc {best_median:.4f} {c_median}")
    delta = (best_median - best_none) * 100
    print(f"time fraction {t_median / t_none:.2f}, accuracy delta {delta:+.2f} points")
    result("study-pruning", t_none, t_median, "s", higher_is_better=False)


if __name__ == "__main__":
    main()
