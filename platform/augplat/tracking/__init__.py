"""The only module that talks to MLflow.

Runs are addressed by explicit run id through an ``MlflowClient`` (never through MLflow's ambient
"active run"), so nested study trials, threads and resumed runs cannot log into the wrong run.

Tracking URI precedence: ``--tracking-uri`` > ``MLFLOW_TRACKING_URI`` > ``sqlite:///mlflow.db``
in the working directory (MLflow's own embedded default since 3.7). A server that cannot be
reached fails within seconds with one clear line instead of MLflow's minutes of retries.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from augplat.errors import TrackingError

DEFAULT_EXPERIMENT = "augplat"
_MAX_PARAM_VALUE = 6000  # MLflow rejects longer parameter values
_REACH_TIMEOUT_S = 5.0


def default_tracking_uri() -> str:
    """MLflow's embedded default: a SQLite file ``mlflow.db`` in the working directory."""
    return f"sqlite:///{Path.cwd() / 'mlflow.db'}"


def resolve_tracking_uri(uri: str | None = None) -> str:
    """The tracking URI to use: explicit, then ``MLFLOW_TRACKING_URI``, then the default."""
    return uri or os.environ.get("MLFLOW_TRACKING_URI") or default_tracking_uri()


_SECRET_QUERY = re.compile(r"((?:password|passwd|pwd|secret|token)=)[^&;]*", re.I)


def redact_uri(uri: str) -> str:
    """``uri`` with any password (in the user info or the query) replaced, safe to print or log."""
    parts = urlsplit(uri)
    query = _SECRET_QUERY.sub(r"\1***", parts.query)
    if parts.password is None and query == parts.query:
        return uri  # untouched: a round trip would turn sqlite:///x into sqlite:/x
    netloc = parts.netloc
    if parts.password is not None:
        netloc = netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc, query=query))


# Stores MLflow itself understands; a plugin's scheme is accepted through its entry point.
_KNOWN_SCHEMES = {"", "file", "http", "https", "sqlite", "postgresql", "mysql", "mssql"}
_KNOWN_SCHEMES |= {"databricks", "databricks-uc", "uc"}


def _check_scheme(uri: str) -> None:
    """One line for a tracking URI MLflow would fail on after a traceback (``foo://bar``)."""
    from importlib.metadata import entry_points

    scheme = urlsplit(uri).scheme.split("+")[0].lower()
    if len(scheme) == 1 or scheme in _KNOWN_SCHEMES:  # one letter: a Windows drive
        return
    if scheme in {e.name for e in entry_points(group="mlflow.tracking_store")}:
        return
    raise TrackingError(
        f"unsupported tracking URI {redact_uri(uri)}: use http(s)://HOST:PORT, "
        "sqlite:///FILE.db or a directory"
    )


def _health_request(uri: str) -> urllib.request.Request:
    """The ``/health`` request; credentials in the URI (``http://user:pw@host``) become a
    basic-auth header, as MLflow sends them, since urllib cannot take them in the URL."""
    import base64

    parts = urlsplit(uri)
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        raise TrackingError(f"tracking URI {redact_uri(uri)} has an invalid port") from None
    netloc = parts.netloc.rpartition("@")[2]
    url = urlunsplit(parts._replace(netloc=netloc)).rstrip("/") + "/health"
    request = urllib.request.Request(url)
    if parts.username is not None:
        token = f"{parts.username}:{parts.password or ''}".encode()
        request.add_header("Authorization", "Basic " + base64.b64encode(token).decode())
    return request


def check_reachable(uri: str, timeout: float = _REACH_TIMEOUT_S) -> None:
    """Raise :class:`TrackingError` unless an http(s) server answers its health check (and
    for a URI MLflow cannot use at all)."""
    _check_scheme(uri)
    if urlsplit(uri).scheme not in ("http", "https"):
        return
    health = _health_request(uri)
    try:
        with urllib.request.urlopen(health, timeout=timeout) as response:
            if response.status >= 400:
                raise TrackingError(
                    f"MLflow server at {redact_uri(uri)} answered {response.status}"
                )
    except urllib.error.HTTPError as exc:
        if exc.code in (401, 403):
            return  # reachable; authentication is MLflow's business (MLFLOW_TRACKING_USERNAME)
        raise TrackingError(
            f"MLflow server at {redact_uri(uri)} answered HTTP {exc.code}"
        ) from None
    except (urllib.error.URLError, OSError, ValueError) as exc:  # ValueError: InvalidURL
        reason = getattr(exc, "reason", exc)
        raise TrackingError(
            f"cannot reach the MLflow tracking server at {redact_uri(uri)} ({reason}); start one "
            "with `augplat server` or fix --tracking-uri / MLFLOW_TRACKING_URI"
        ) from None


def client(uri: str | None = None):
    """An ``MlflowClient`` for the resolved URI, after checking the server is reachable."""
    import mlflow
    from mlflow import MlflowClient

    resolved = resolve_tracking_uri(uri)
    check_reachable(resolved)
    mlflow.set_tracking_uri(resolved)  # log_model/log_input still go through the fluent API
    return MlflowClient(tracking_uri=resolved)


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
        self._logged: set[tuple[str, int]] | None = None  # (key, step) of an earlier attempt

    def remember_logged_steps(self) -> None:
        """Skip, from now on, every (metric, step) the run already has.

        Why: a resumed run repeats the steps between its last checkpoint (or its start) and the
        kill, and the test evaluation of a run killed while finishing; MLflow cannot delete a
        metric value, so each step keeps its first value and is never logged twice.
        """
        history = self.client.get_metric_history
        metrics = self.client.get_run(self.run_id).data.metrics
        self._logged = {(key, m.step) for key in metrics for m in history(self.run_id, key)}

    @property
    def experiment_id(self) -> str:
        """The run's experiment id."""
        return self.client.get_run(self.run_id).info.experiment_id

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
        parent = artifact_path.rpartition("/")[0] or None
        try:
            listed = self.client.list_artifacts(self.run_id, parent)
        except Exception:  # MlflowException / OSError: no such directory
            return False
        return any(f.path == artifact_path for f in listed)

    def download(self, artifact_path: str, dst: str | Path) -> Path:
        """Download an artifact of this run into ``dst``; returns the local path.

        No progress bar (one line per command); a failed download leaves no empty ``dst``.
        """
        dst = Path(dst)
        created = not dst.exists()
        dst.mkdir(parents=True, exist_ok=True)
        previous = os.environ.get("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR")
        os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"
        try:
            return Path(self.client.download_artifacts(self.run_id, artifact_path, str(dst)))
        except BaseException:
            if created and not any(dst.iterdir()):
                dst.rmdir()
            raise
        finally:
            if previous is None:
                os.environ.pop("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", None)
            else:
                os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = previous

    def read_text(self, artifact_path: str) -> str | None:
        """The text of an artifact file (e.g. ``config.yaml``), or None when it is missing."""
        if not self.has_artifact(artifact_path):
            return None
        with scratch_dir() as tmp:
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
        """Terminate the run with ``FINISHED``, ``FAILED`` or ``KILLED``."""
        self.client.set_terminated(self.run_id, status=status)

    @contextlib.contextmanager
    def closing(self) -> Iterator[RunLogger]:
        """End the run with the block: FINISHED, or on an exception KILLED (Ctrl-C), the
        exception's ``run_status`` (a pruned study trial), else FAILED — then re-raise."""
        try:
            yield self
        except BaseException as exc:
            if isinstance(exc, KeyboardInterrupt):
                self.end("KILLED")
            else:
                self.end(getattr(exc, "run_status", "FAILED"))
            raise
        self.end("FINISHED")


# MLflow 3's UI opens an experiment of this kind on its training runs, not the GenAI overview.
EXPERIMENT_KIND_TAG, EXPERIMENT_KIND = "mlflow.experimentKind", "custom_model_development"


def experiment_id(mlflow_client, name: str) -> str:
    """Id of experiment ``name``, created if missing (as a model-training experiment)."""
    experiment = mlflow_client.get_experiment_by_name(name)
    if experiment is not None:
        if experiment.lifecycle_stage == "deleted":
            mlflow_client.restore_experiment(experiment.experiment_id)
        if EXPERIMENT_KIND_TAG not in experiment.tags:
            mlflow_client.set_experiment_tag(
                experiment.experiment_id, EXPERIMENT_KIND_TAG, EXPERIMENT_KIND
            )
        return experiment.experiment_id
    return mlflow_client.create_experiment(name, tags={EXPERIMENT_KIND_TAG: EXPERIMENT_KIND})


def launch_tags() -> dict[str, str]:
    """Tags ``augplat launch`` hands a step (``AUGPLAT_RUN_TAGS``: parent run, step, key) for
    the project run it adopts; empty outside a launch."""
    try:
        tags = json.loads(os.environ.get("AUGPLAT_RUN_TAGS") or "{}")
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in tags.items()} if isinstance(tags, dict) else {}


def start_run(
    experiment: str = DEFAULT_EXPERIMENT,
    run_name: str | None = None,
    tags: Mapping[str, Any] | None = None,
    parent_run_id: str | None = None,
    tracking_uri: str | None = None,
) -> RunLogger:
    """Create a run (a child when ``parent_run_id`` is given) and return its logger.

    When launched by ``mlflow run`` (``MLFLOW_RUN_ID`` set) and no parent is given, the project's
    run is adopted instead of creating a new one, so the step logs where MLflow Projects expects;
    the tags ``augplat launch`` passed along (:func:`launch_tags`) are set on it first.
    """
    from augplat.runtime.liveness import owner_tags

    mlflow_client = client(tracking_uri)
    all_tags = {**owner_tags(), **{str(k): str(v) for k, v in (tags or {}).items()}}
    project_run = os.environ.get("MLFLOW_RUN_ID")
    if project_run and parent_run_id is None:
        logger = RunLogger(mlflow_client, project_run)
        all_tags = {**launch_tags(), **all_tags}
        if all_tags:
            logger.set_tags(all_tags)
        return logger
    if parent_run_id:
        all_tags["mlflow.parentRunId"] = parent_run_id
    exp_id = experiment_id(mlflow_client, experiment)
    run = mlflow_client.create_run(exp_id, tags=all_tags, run_name=run_name)
    return RunLogger(mlflow_client, run.info.run_id)


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

    try:
        run = mlflow_client.get_run(run_id)
    except Exception:  # MlflowException for unknown ids, with a long message
        where = redact_uri(str(mlflow_client.tracking_uri))
        raise TrackingError(f"no MLflow run with id '{run_id}' in {where}") from None
    kind = run.data.tags.get("augplat.kind")
    if kinds and kind not in kinds:
        raise ConfigError(f"run {run_id} is a {kind or 'non-augplat'} run, not {expected}")
    if finished_to and run.info.status != "FINISHED":
        raise ConfigError(
            f"run {run_id} is {run.info.status}: only finished runs can {finished_to}"
        )
    return run


def reopen_run(
    run_id: str, tracking_uri: str | None = None, *, finished_is_done: bool = False
) -> RunLogger:
    """Reopen an existing run (for ``--resume``) as this process's.

    A run whose owner process is gone is first ended FAILED (:func:`fail_if_dead`) and then
    taken over. With ``finished_is_done`` a FINISHED run is not reopened: the logger comes back
    with ``already_finished`` set (resuming a finished training run is a no-op).

    Raises:
        TrackingError: No such run in this store.
        ConfigError: The run is still running in a live process.
    """
    from augplat.errors import ConfigError
    from augplat.runtime.liveness import HOST_TAG, PID_TAG, owner_tags

    mlflow_client = client(tracking_uri)
    run = fail_if_dead(mlflow_client, fetch_run(mlflow_client, run_id))
    logger = RunLogger(mlflow_client, run_id)
    if finished_is_done and run.info.status == "FINISHED":
        logger.already_finished = True
        return logger
    if run.info.status == "RUNNING" and run_owner_alive(run):
        tags = run.data.tags
        raise ConfigError(
            f"run {run_id} is still running (pid {tags.get(PID_TAG)} on {tags.get(HOST_TAG)}): "
            "stop it first, or wait for it"
        )
    mlflow_client.update_run(run_id, status="RUNNING")
    logger.set_tags(owner_tags())
    return logger


def run_owner_alive(run) -> bool | None:
    """Whether the process that runs ``run`` is alive (None: unknown, e.g. another host)."""
    from augplat.runtime.liveness import owner_alive

    return owner_alive(run.data.tags)


def fail_if_dead(mlflow_client, run):
    """End ``run`` FAILED when it is RUNNING but its process is provably gone; returns the
    (refreshed) run. Tag ``augplat.ended_by=dead-process`` says who ended it.

    Every command that reads runs (resume, compare, study resume, pipeline reuse) calls this
    (or :func:`end_dead_runs`) so no statistic and no UI counts a dead run as running.
    """
    if run.info.status != "RUNNING" or run_owner_alive(run) is not False:
        return run
    from mlflow.entities import RunTag

    run_id = run.info.run_id
    mlflow_client.log_batch(run_id, tags=[RunTag("augplat.ended_by", "dead-process")])
    mlflow_client.set_terminated(run_id, status="FAILED")
    return mlflow_client.get_run(run_id)


def end_dead_runs(mlflow_client, runs) -> list:
    """:func:`fail_if_dead` over ``runs``; returns them, dead ones now FAILED."""
    return [fail_if_dead(mlflow_client, run) for run in runs]


def search_all(mlflow_client, experiment_ids: list[str], filter_string: str = "") -> Iterator[Any]:
    """Every run matching ``filter_string`` in the experiments (all pages), newest first."""
    token = None
    while True:
        page = mlflow_client.search_runs(
            experiment_ids,
            filter_string,
            max_results=1000,
            order_by=["attributes.start_time DESC"],
            page_token=token,
        )
        yield from page
        token = page.token
        if not token:
            return


def latest_artifact(mlflow_client, run_id: str, folder: str, suffix: str, dst: Path) -> Path | None:
    """Download into ``dst`` the last (by name) file of ``folder`` ending in ``suffix``."""
    from mlflow.exceptions import MlflowException

    try:
        names = sorted(
            a.path for a in mlflow_client.list_artifacts(run_id, folder) if a.path.endswith(suffix)
        )
        if not names:
            return None
        return Path(mlflow_client.download_artifacts(run_id, names[-1], str(dst)))
    except (MlflowException, OSError):
        return None


def record_prepared_dataset(ds, directory: str | Path) -> str | None:
    """Tag the run MLflow Projects made for a ``prepare`` step with the dataset it produced.

    Only under ``mlflow run`` (``MLFLOW_RUN_ID`` set): later pipeline steps read the dataset's
    name and digest from this run. Returns the run id, or None outside a project run.
    """
    run_id = os.environ.get("MLFLOW_RUN_ID")
    if not run_id:
        return None
    logger = RunLogger(client(), run_id)
    logger.set_tags(
        {
            **launch_tags(),
            "augplat.kind": "prepare",
            "augplat.dataset": ds.name,
            "augplat.dataset_digest": ds.digest,
        }
    )
    logger.log_dataset(ds.name, ds.digest, str(Path(directory).resolve()), context="prepared")
    manifest = Path(directory) / "manifest.json"
    if manifest.is_file():
        logger.log_artifact(manifest, "data")
    return run_id


@contextlib.contextmanager
def scratch_dir() -> Iterator[Path]:
    """A temporary directory for artifacts that are uploaded and then discarded."""
    with tempfile.TemporaryDirectory(prefix="augplat-") as tmp:
        yield Path(tmp)
