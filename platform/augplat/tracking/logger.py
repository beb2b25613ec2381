"""Logging to one run by id: params, metrics, tags, artifacts, datasets, models.

Runs are addressed by explicit run id through an ``MlflowClient`` (never through MLflow's ambient
"active run"), so nested study trials, threads and resumed runs cannot log into the wrong run.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from augplat.tracking import artifacts

_MAX_PARAM_VALUE = 6000  # MLflow rejects longer parameter values


def flatten(values: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested mapping → flat ``{"a.b": "value"}`` strings, as MLflow params want them."""
    flat: dict[str, str] = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, prefix=f"{name}."))
        else:
            text = json.dumps(value) if isinstance(value, (list, tuple)) else str(value)
            flat[name] = text[:_MAX_PARAM_VALUE]
    return flat


class RunLogger:
    """Logs params, metrics, artifacts, datasets and models to one run, by id.

    Attributes:
        client: The ``MlflowClient``.
        run_id: The run being logged to.
    """

    def __init__(self, mlflow_client, run_id: str):
        self.client = mlflow_client
        self.run_id = run_id
        self.already_finished = False  # set by reopen_run: resuming it is a no-op
        self.ended: str | None = None  # the status this process ended the run with
        self._logged: set[tuple[str, int]] | None = None  # (key, step) of an earlier attempt

    def remember_logged_steps(self) -> None:
        """Skip, from now on, every (metric, step) the run already has.

        Why: a resumed run repeats the steps between its last checkpoint (or its start) and the
        kill, and the test evaluation of a run killed while finishing; MLflow cannot delete a
        metric value, so each step keeps its first value and is never logged twice.
        """
        metrics = self.run().data.metrics
        self._logged = {(key, m.step) for key in metrics for m in self.metric_history(key)}

    @property
    def experiment_id(self) -> str:
        """The run's experiment id."""
        return self.client.get_run(self.run_id).info.experiment_id

    @property
    def tracking_uri(self) -> str:
        """The tracking URI this logger writes to."""
        return str(self.client.tracking_uri)

    def run(self):
        """The run as MLflow has it now (info, params, metrics, tags)."""
        return self.client.get_run(self.run_id)

    def experiment_name(self) -> str:
        """The name of the run's experiment."""
        return self.client.get_experiment(self.experiment_id).name

    def metric_history(self, key: str) -> list:
        """Every logged value of metric ``key`` (``.step``, ``.value``, ``.timestamp``)."""
        return list(self.client.get_metric_history(self.run_id, key))

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Log (flattened) params in batches of 100, MLflow's per-request limit."""
        from mlflow.entities import Param

        items = [Param(k, v) for k, v in flatten(params).items()]
        existing = self.client.get_run(self.run_id).data.params
        items = [p for p in items if p.key not in existing]  # resumed runs: params are immutable
        for start in range(0, len(items), 100):
            self.client.log_batch(self.run_id, params=items[start : start + 100])

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        """Log numeric metrics in one request."""
        import time

        from mlflow.entities import Metric

        now, step = int(time.time() * 1000), step or 0
        if self._logged is not None:
            metrics = {k: v for k, v in metrics.items() if (k, step) not in self._logged}
        batch = [Metric(k, float(v), now, step) for k, v in metrics.items()]
        for start in range(0, len(batch), 1000):
            self.client.log_batch(self.run_id, metrics=batch[start : start + 1000])

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        """Set run tags (stringified)."""
        from mlflow.entities import RunTag

        self.client.log_batch(self.run_id, tags=[RunTag(k, str(v)) for k, v in tags.items()])

    def log_artifact(self, path: str | Path, artifact_path: str | None = None) -> None:
        """Upload a local file (or directory) under ``artifact_path``."""
        path = Path(path)
        if path.is_dir():
            self.client.log_artifacts(self.run_id, str(path), artifact_path)
        else:
            self.client.log_artifact(self.run_id, str(path), artifact_path)

    def log_text(self, text: str, artifact_file: str) -> None:
        """Write ``text`` as an artifact file (e.g. ``config.yaml``)."""
        self.client.log_text(self.run_id, text, artifact_file)

    def has_artifact(self, artifact_path: str) -> bool:
        """Whether the run has this artifact file (asked without downloading anything)."""
        return artifacts.has_artifact(self.client, self.run_id, artifact_path)

    def download(self, artifact_path: str, dst: str | Path) -> Path:
        """Download an artifact of this run into ``dst``; returns the local path.

        No progress bar (one line per command); a failed download leaves no empty ``dst``.
        """
        return artifacts.download(self.client, self.run_id, artifact_path, dst)

    def fetch_checkpoint(self, name: str, dst: str | Path) -> Path | None:
        """This run's uploaded ``checkpoints/<name>`` in ``dst``, or None when it has none."""
        return artifacts.fetch_checkpoint(self.client, self.run_id, name, dst)

    def read_text(self, artifact_path: str) -> str | None:
        """The text of an artifact file (e.g. ``config.yaml``), or None when it is missing."""
        if not self.has_artifact(artifact_path):
            return None
        with artifacts.scratch_dir() as tmp:
            return self.download(artifact_path, tmp).read_text(encoding="utf-8")

    @contextlib.contextmanager
    def _fluent(self) -> Iterator[None]:
        """Make this run MLflow's active run for APIs that only exist in fluent form."""
        import mlflow

        mlflow.set_tracking_uri(self.client.tracking_uri)
        with mlflow.start_run(run_id=self.run_id, nested=mlflow.active_run() is not None):
            yield

    def log_dataset(self, name: str, digest: str, source: str, context: str = "training") -> None:
        """Record a dataset input (name + content digest + source) in the run's lineage."""
        import warnings

        from mlflow.data.dataset_source_registry import resolve_dataset_source
        from mlflow.data.meta_dataset import MetaDataset
        from mlflow.entities import DatasetInput, InputTag

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            dataset = MetaDataset(resolve_dataset_source(source), name=name, digest=digest)
        tag = InputTag(key="mlflow.data.context", value=context)
        self.client.log_inputs(self.run_id, [DatasetInput(dataset._to_mlflow_entity(), [tag])])

    def log_pytorch_model(self, model, input_example, name: str = "model") -> None:
        """Log a torch model with signature, input example and augplat's code attached.

        The package source travels with the model (``code_paths``) so ``mlflow.pytorch.load_model``
        works on a machine without augplat installed.
        """
        import mlflow.pytorch
        import torch
        from mlflow.models import infer_signature

        if self._drop_unfinished_models(name):
            return  # a resumed run that logged its model before the kill: one model, not two
        model = model.eval().cpu()
        with torch.no_grad():
            output = model(torch.from_numpy(input_example)).numpy()
        signature = infer_signature(input_example, output)
        package_dir = Path(__file__).resolve().parents[1]  # the augplat package
        requirements = [f"torch=={torch.__version__.split('+')[0]}", "torchvision"]
        with self._fluent():
            mlflow.pytorch.log_model(
                model,
                name=name,
                signature=signature,
                input_example=input_example,
                pip_requirements=requirements,
                code_paths=[str(package_dir)],
                # pickle keeps the Classifier class (and its .embed); torch.export would not
                serialization_format="pickle",
            )

    def _drop_unfinished_models(self, name: str) -> bool:
        """Whether the run already has a READY model ``name``; deletes half-logged ones (a
        kill during an earlier ``log_model``) so they never show next to the real one."""
        found = self.client.search_logged_models(
            experiment_ids=[self.experiment_id],
            filter_string=f"source_run_id = '{self.run_id}' AND name = '{name}'",
        )
        ready = False
        for model in found:
            if str(model.status) == "READY":
                ready = True
            else:
                self.client.delete_logged_model(model.model_id)
        return ready

    def end(self, status: str = "FINISHED") -> None:
        """Terminate the run with ``FINISHED``, ``FAILED`` or ``KILLED``.

        Inside :meth:`closing` an explicit ``end`` (a deliberate pause: ``KILLED``) stands.
        """
        self.client.set_terminated(self.run_id, status=status)
        self.ended = status

    def mark_running(self) -> None:
        """Set the run RUNNING again (a resumed run)."""
        self.client.update_run(self.run_id, status="RUNNING")
        self.ended = None

    @contextlib.contextmanager
    def closing(self) -> Iterator[RunLogger]:
        """End the run with the block by :func:`end_status`, then re-raise any exception."""
        try:
            yield self
        except BaseException as exc:
            self.end(end_status(exc))
            raise
        if self.ended is None:
            self.end(end_status(None))


def end_status(exc: BaseException | None) -> str:
    """The one rule for how a job's run ends: the block returned → ``FINISHED``; Ctrl-C
    (``KeyboardInterrupt``) → ``KILLED``; an exception that names its ``run_status`` (a pruned
    study trial: ``KILLED``) → that; any other exception → ``FAILED``."""
    if exc is None:
        return "FINISHED"
    if isinstance(exc, KeyboardInterrupt):
        return "KILLED"
    return str(getattr(exc, "run_status", "FAILED"))
