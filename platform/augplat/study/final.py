"""The final grid of a study: every (arm, seed, fraction) cell one nested run, tested once.

How it works::

    grid = FinalGrid(spec, parent, arms, inputs, tracking_uri, reporter)
    grid.run()            # cells missing or unfinished run; finished cells are kept

A cell is identified by the tag ``augplat.cell`` = ``<arm>|f<fraction>|s<seed>`` on a child of
the study's parent run, tagged ``augplat.final=true`` with its arm, seed and fraction. Resuming
finds the finished cells and keeps them; a cell whose run died (its process is gone) is ended
FAILED and trained again, once; nothing is counted twice (``augplat compare`` also counts one
run per cell). Cells run fraction by fraction, seed by seed, arm by arm, so a stage stopped
half-way leaves whole seeds that pair. An ensemble arm's cell combines the runs of its member
arms at the same seed and fraction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from augplat.errors import UserError
from augplat.runtime.progress import Reporter
from augplat.study.final_spec import is_ensemble
from augplat.tracking import tags as tag

CELL_TAG = tag.CELL


@dataclass(frozen=True)
class Cell:
    """One arm at one seed and fraction (and fold, with ``final.folds``)."""

    arm: str
    seed: int
    fraction: float
    fold: int | None = None

    @property
    def key(self) -> str:
        """The value of the cell's ``augplat.cell`` tag."""
        fold = "" if self.fold is None else f"|k{self.fold}"
        return f"{self.arm}|f{self.fraction:g}|s{self.seed}{fold}"

    @property
    def name(self) -> str:
        """Run-name suffix."""
        fold = "" if self.fold is None else f"-k{self.fold}"
        return f"{self.arm}-f{self.fraction:g}-s{self.seed}{fold}"

    def tags(self, study: str) -> dict[str, str]:
        """The tags every run of this cell carries."""
        tags = {
            tag.STUDY: study,
            tag.FINAL: "true",
            tag.ARM: self.arm,
            tag.SEED: str(self.seed),
            tag.FRACTION: f"{self.fraction:g}",
            CELL_TAG: self.key,
        }
        if self.fold is not None:
            tags[tag.FOLD] = str(self.fold)
        return tags


@dataclass
class ArmPlan:
    """An arm as the final stage runs it.

    Attributes:
        name: The arm's name.
        overrides: Its settings over the winner (or the ensemble spec).
        params: The resolved settings it trains with (train cells).
        trials: Search trials that chose ``params`` (per-arm tuning), else the shared search's.
    """

    name: str
    overrides: dict[str, Any]
    params: dict[str, Any]
    trials: int = 0

    @property
    def ensemble(self) -> bool:
        """Built from other arms' runs."""
        return is_ensemble(self.overrides)


class _CellReporter(Reporter):
    """Cells log epochs at debug level; the grid's own lines are the signal."""

    def end_epoch(self, epoch: int, metrics) -> None:
        pass

    def message(self, text: str) -> None:
        pass


class FinalGrid:
    """Runs (or resumes) every cell of the final stage under the study's parent run."""

    def __init__(self, spec, parent, arms: dict[str, ArmPlan], inputs, tracking_uri, reporter):
        self.spec, self.parent, self.arms = spec, parent, arms
        self.inputs, self.tracking_uri, self.reporter = inputs, tracking_uri, reporter
        self.done: dict[str, str] = {}  # cell key → finished run id

    def cells(self) -> list[Cell]:
        """Every cell, in the order they run (train arms before ensembles at each seed)."""
        order = sorted(self.arms.values(), key=lambda a: a.ensemble)
        folds = range(self.spec.final.folds) if self.spec.final.folds else [None]
        return [
            Cell(arm.name, seed, fraction, fold)
            for fraction in self.spec.final.fractions
            for seed in self.spec.final.seed_list
            for fold in folds
            for arm in order
        ]

    def _existing(self) -> None:
        """Finished cells of earlier attempts; dead ones ended FAILED (never counted)."""
        from augplat import tracking

        store = tracking.connect(self.tracking_uri)
        runs = store.find_runs(
            [self.parent.experiment_id], parent=self.parent.run_id, tags={tag.FINAL: "true"}
        )
        for run in runs:  # newest first
            key = run.data.tags.get(CELL_TAG)
            if key is None:
                continue
            run = store.fail_if_dead(run)
            status = run.info.status
            if status == "FINISHED" and key not in self.done:
                self.done[key] = run.info.run_id
            elif status == "RUNNING" and tracking.run_owner_alive(run):
                raise UserError(
                    f"cell {key} of study '{self.spec.name}' is being trained by a live process "
                    f"(run {run.info.run_id}); wait for it or stop it first"
                )

    def run(self) -> dict[str, str]:
        """Train every missing cell; returns cell key → finished run id."""
        self._existing()
        cells = self.cells()
        todo = [c for c in cells if c.key not in self.done]
        if len(todo) < len(cells):
            self.reporter.message(
                f"final grid: {len(cells) - len(todo)} of {len(cells)} cells already finished"
            )
        for i, cell in enumerate(todo, 1):
            fold = "" if cell.fold is None else f", fold {cell.fold}"
            self.reporter.message(
                f"final cell {i}/{len(todo)}: {cell.arm}, seed {cell.seed}{fold}, "
                f"fraction {cell.fraction:g} ({self.inputs.n_train(cell.fraction)} train images)"
            )
            arm = self.arms[cell.arm]
            run_id = self._ensemble(cell, arm) if arm.ensemble else self._train(cell, arm, i)
            self.done[cell.key] = run_id
        return self.done

    def cell_config(self, cell: Cell, arm: ArmPlan):
        """The TrainConfig of a train cell: the arm's settings on the fraction's data."""
        from augplat.classify.config import TrainConfig

        values: dict[str, Any] = {**arm.params}
        extra: dict[str, Any] = {
            "seed": cell.seed,
            "data": self.inputs.data(cell.fraction),
            "run_name": f"{self.spec.name}-{cell.name}",
            "test_eval": True,
        }
        if cell.fold is not None:
            extra["fold"] = cell.fold
        if self.spec.final.epochs:
            extra["epochs"] = self.spec.final.epochs
        probe = TrainConfig.model_construct(**{**self.spec.train, **values})
        # the fraction's own generator, or none at all (a run never names one it does not use)
        uses = probe.uses_generator()
        extra["generator"] = self.inputs.generator(cell.fraction, cell.seed) if uses else None
        if probe.train_on == "expanded":
            extra["expanded"] = self.inputs.expanded(cell.fraction, cell.seed)
        return self.spec.trial_config(values, **extra)

    def _train(self, cell: Cell, arm: ArmPlan, index: int) -> str:
        from augplat.classify.finetune import train_classifier
        from augplat.runtime.pausepoint import pause

        result = train_classifier(
            self.cell_config(cell, arm),
            tracking_uri=self.tracking_uri,
            reporter=_CellReporter(),
            parent_run_id=self.parent.run_id,
            tags={**cell.tags(self.spec.name), tag.TUNE: self.spec.final.tune},
            # crash tests stop the index-th cell here, its run open (AUGPLAT_TEST_PAUSE_AT)
            on_start=lambda _run_id: pause("study.cell_started", index),
        )
        return result.run_id

    def _ensemble(self, cell: Cell, arm: ArmPlan) -> str:
        from augplat.classify.ensemble_run import EnsembleConfig, run_ensemble

        names = arm.overrides["ensemble"]
        members = tuple(self.done[Cell(n, cell.seed, cell.fraction, cell.fold).key] for n in names)
        cfg = EnsembleConfig(
            runs=members,
            rule=arm.overrides.get("rule", "vote"),
            experiment=self.spec.experiment_name,
            run_name=f"{self.spec.name}-{cell.name}",
            eval_batch_size=int(self.spec.train.get("eval_batch_size", 512)),
        )
        result = run_ensemble(
            cfg,
            tracking_uri=self.tracking_uri,
            parent_run_id=self.parent.run_id,
            tags=cell.tags(self.spec.name),
        )
        return result.run_id
