"""Launch augplat steps as MLflow Projects runs (``augplat launch``), locally or on Kubernetes.

How to run::

    augplat launch prepare -P source=digits -P name=digits-small -P fraction=0.2
    augplat launch gan -P method=cgan -P data=digits-small -P epochs=5 --env-manager uv
    augplat launch finetune -P model=simplecnn -P epochs=1 \\
        --project https://github.com/me/augplat.git --version <commit>
    augplat launch finetune -P epochs=30 --backend kubernetes \\
        --backend-config docker/kubernetes/backend-config.json

Every launch goes through ``mlflow.projects.run`` with the environment manager named explicitly.
MLflow Projects creates the step's run; its tags (step, code version, parent run id) are passed
explicitly: to the step, which sets them on the run it adopts before it logs anything
(``AUGPLAT_RUN_TAGS``), and set again by the launcher when the run has ended. The caller's own
``MLFLOW_RUN_ID`` (set when the caller itself runs under ``mlflow run``) is removed from the
step's environment, so a step can never adopt, and log into, its caller's run.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from augplat.errors import ConfigError
from augplat.projects.project import FILE_PARAMS, Project, _git
from augplat.tracking import tags as tag

ENV_MANAGERS = ("local", "uv", "virtualenv", "conda")
BACKENDS = ("local", "kubernetes")
# Parameters that name a file (prepare's `path`: also a folder): a relative value that exists here
# is made absolute, because the step runs in the project directory, not the caller's.
# The caller's run must not reach a step (it would adopt it); MLflow sets these for the step.
AMBIENT_RUN_VARS = ("MLFLOW_RUN_ID", "MLFLOW_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_NAME")
# Tags (parent run id, step, key) a step sets on the project run it adopts; see tracking.start_run.
RUN_TAGS_VAR = "AUGPLAT_RUN_TAGS"
DEFAULT_IMAGE = "augplat-train:latest"
_SHA = re.compile(r"^[0-9a-f]{40}$")


class StepFailed(Exception):
    """A launched step ended in a state other than FINISHED (its own output says why)."""

    def __init__(self, step: str, run_id: str, status: str):
        super().__init__(f"step '{step}' ended {status} (run {run_id}); see its output above")
        self.step, self.run_id, self.status = step, run_id, status


@dataclass
class LaunchResult:
    """A finished launch: the step's run and how it ended."""

    step: str
    run_id: str
    status: str


def _is_augplat_project(directory: Path) -> bool:
    mlproject = directory / "MLproject"
    return (
        mlproject.is_file()
        and re.search(r"^name:\s*augplat\s*$", mlproject.read_text(encoding="utf-8"), flags=re.M)
        is not None
    )


def default_project_dir() -> Path:
    """``$AUGPLAT_PROJECT``, else the augplat checkout around the working directory, else the
    checkout this package was installed from (editable installs)."""
    if os.environ.get("AUGPLAT_PROJECT"):
        return Path(os.environ["AUGPLAT_PROJECT"]).expanduser().resolve()
    cwd = Path.cwd().resolve()
    source = Path(__file__).resolve().parents[3]
    for candidate in (cwd, *cwd.parents, source):
        if _is_augplat_project(candidate):
            return candidate
    raise ConfigError(
        "no augplat MLproject found here or in the installed checkout: pass --project "
        "(a checkout of the augplat repository, or its git URL)"
    )


def find_project(uri: str | None = None, version: str | None = None) -> Project:
    """The project at ``uri`` (a local directory or a git URL, optionally ``#subdir``)."""
    if not uri:
        directory = default_project_dir()
        return Project(str(directory), directory, version)
    base, _, sub = uri.partition("#")
    if "." in sub:
        raise ConfigError(f"--project {uri}: MLflow allows no '.' in the #subdirectory")
    local = Path(base).expanduser()
    if "://" not in base and local.is_dir():
        root = local.resolve()
        directory = root / sub if sub else root
        if not (directory / "MLproject").is_file():
            raise ConfigError(f"--project {uri}: no MLproject file in {directory}")
        return Project(f"{root}#{sub}" if sub else str(root), directory, version)
    if "://" not in base and "@" not in base:
        raise ConfigError(f"--project {uri}: no such directory (or pass a git URL)")
    return Project(uri, None, version)


def entry_points(project: Project) -> dict[str, dict[str, dict[str, Any]]]:
    """Entry point → parameter → ``{"type", "default"}``, read from a local MLproject."""
    import yaml

    if project.local_dir is None:
        return {}
    path = project.local_dir / "MLproject"
    try:
        spec = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML ({exc})") from None
    points = {}
    for name, entry in (spec.get("entry_points") or {}).items():
        params = {}
        for key, value in (entry.get("parameters") or {}).items():
            value = value if isinstance(value, dict) else {"type": value}
            params[key] = {"type": value.get("type", "string"), "default": value.get("default")}
        points[name] = params
    return points


def parse_assignments(pairs: list[str] | None, flag: str = "-P") -> dict[str, str]:
    """``["k=v", ...]`` → ``{"k": "v"}``; a pair without ``=`` or with an empty key is an error."""
    out: dict[str, str] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"{flag} {pair!r}: expected KEY=VALUE")
        out[key.strip()] = value
    return out


def check_params(project: Project, step: str, params: Mapping[str, Any]) -> dict[str, str]:
    """Validate ``params`` against the entry point's typed parameters; return them as strings.

    Unknown steps and parameters, missing required ones and non-numbers for ``float`` parameters
    are errors. A relative file parameter that exists here becomes absolute. Remote projects are
    checked by MLflow after the fetch.
    """
    values = {k: str(v) for k, v in params.items()}
    for key, value in values.items():
        here = Path(value).expanduser()
        exists = here.is_file() or (key == "path" and here.is_dir())  # prepare folder ROOT
        if key in FILE_PARAMS and value and not here.is_absolute() and exists:
            values[key] = str(here.resolve())
    points = entry_points(project)
    if project.local_dir is None:
        return values
    if step not in points:
        raise ConfigError(
            f"unknown step '{step}': the project's entry points are {', '.join(points)}"
        )
    declared = points[step]
    for key, value in values.items():
        if key not in declared:
            raise ConfigError(
                f"step '{step}' has no parameter '{key}' (parameters: {', '.join(declared)})"
            )
        if declared[key]["type"] == "float":
            try:
                float(value)
            except ValueError:
                raise ConfigError(f"-P {key}={value}: '{key}' must be a number") from None
    missing = [k for k, p in declared.items() if p["default"] is None and k not in values]
    if missing:
        raise ConfigError(f"step '{step}' needs -P {missing[0]}=VALUE")
    return values


def _source_root(directory: Path) -> Path | None:
    for candidate in (directory, *list(directory.parents)[:3]):
        if (candidate / "platform" / "augplat" / "__init__.py").is_file():
            return candidate
    return None


def _tree_hash(project_dir: Path) -> str:
    """SHA-256 over the augplat sources the project's commands run, and its MLproject files."""
    root = _source_root(project_dir)
    package = root / "platform" / "augplat" if root else Path(__file__).resolve().parents[1]
    named = [
        (f"augplat/{p.relative_to(package).as_posix()}", p)
        for p in sorted(package.rglob("*"))
        if p.suffix in (".py", ".yaml", ".json") and "__pycache__" not in p.parts
    ]
    named += [(n, project_dir / n) for n in ("MLproject", "python_env.yaml")]
    digest = hashlib.sha256()
    for name, path in named:
        if path.is_file():
            digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def code_version(project: Project) -> str:
    """What code a step runs: ``git-<commit>`` for a pinned or remote project, else
    ``tree-<sha256>`` of the local sources (uncommitted edits count)."""
    if project.local_dir is not None:
        if project.version is None:
            return "tree-" + _tree_hash(project.local_dir)[:20]
        return "git-" + _git("rev-parse", f"{project.version}^{{commit}}", cwd=project.local_dir)
    if project.version and _SHA.match(project.version):
        return "git-" + project.version
    base = project.uri.split("#", 1)[0]
    ref = project.version or "HEAD"
    lines = _git("ls-remote", base, ref).splitlines()
    if not lines:
        raise ConfigError(f"--version {ref}: no such branch or tag in {base}")
    return "git-" + lines[0].split()[0]


def absolute_store_uri(uri: str) -> str:
    """A tracking URI that means the same store from any working directory."""
    if uri.startswith("sqlite:///") and not uri.startswith("sqlite:////"):
        return "sqlite:///" + str(Path(uri[len("sqlite:///") :]).resolve())
    if "://" not in uri:
        return str(Path(uri).resolve())
    return uri


@contextlib.contextmanager
def step_environment() -> Iterator[None]:
    """The process environment a step starts from: no ambient run, this Python first on PATH
    (its ``python`` runs the step's command with --env-manager local)."""
    saved = dict(os.environ)
    for var in (*AMBIENT_RUN_VARS, RUN_TAGS_VAR):
        os.environ.pop(var, None)
    bin_dir = str(Path(sys.executable).parent)
    os.environ["PATH"] = os.pathsep.join([bin_dir, saved.get("PATH", "")])
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _backend_config(backend: str, path: Path | None) -> dict[str, Any] | None:
    import json

    if backend == "local":
        if path is not None:
            raise ConfigError("--backend-config is for --backend kubernetes")
        return None
    if path is None:
        raise ConfigError("--backend kubernetes needs --backend-config FILE.json")
    try:
        config = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: unreadable backend config ({exc})") from None
    for key in ("repository-uri", "kube-job-template-path"):
        if not config.get(key):
            raise ConfigError(f"{path}: missing key '{key}'")
    template = Path(config["kube-job-template-path"])
    if not template.is_absolute():
        template = (Path(path).parent / template).resolve()
    if not template.is_file():
        raise ConfigError(f"{path}: kube-job-template-path {template} not found")
    import importlib.util

    if not all(importlib.util.find_spec(m) for m in ("kubernetes", "docker")):
        raise ConfigError(
            "--backend kubernetes needs the kubernetes and docker clients: "
            "pip install 'augplat[kubernetes]'"
        )
    return {**config, "kube-job-template-path": str(template)}


def launch_step(
    step: str,
    params: Mapping[str, Any] | None = None,
    *,
    project: Project | None = None,
    env_manager: str = "local",
    backend: str = "local",
    backend_config: Path | None = None,
    experiment: str = "augplat",
    run_name: str | None = None,
    parent_run_id: str | None = None,
    tags: Mapping[str, str] | None = None,
    tracking_uri: str | None = None,
) -> LaunchResult:
    """Run one entry point of ``project`` through ``mlflow.projects.run`` and wait for it.

    Args:
        step: The entry point (prepare, gan, expand, finetune, study, compare, pipeline).
        params: Its parameters (checked against the MLproject when the project is local).
        project: Where the project is (default: this repository).
        env_manager: local | uv | virtualenv | conda, passed to MLflow explicitly.
        backend: local | kubernetes.
        backend_config: JSON file for the kubernetes backend.
        experiment: MLflow experiment of the step's run.
        run_name: Its run name.
        parent_run_id: Recorded as the run's ``mlflow.parentRunId`` tag.
        tags: Extra tags for the run.
        tracking_uri: MLflow tracking URI.

    Raises:
        ConfigError: Bad step, parameter, backend config or project.
        StepFailed: The step ran and failed (or was killed).
    """
    from augplat import tracking

    if env_manager not in ENV_MANAGERS:
        raise ConfigError(f"--env-manager {env_manager}: use one of {', '.join(ENV_MANAGERS)}")
    if backend not in BACKENDS:
        raise ConfigError(f"--backend {backend}: use one of {', '.join(BACKENDS)}")
    project = project or find_project()
    values = check_params(project, step, params or {})
    kube = _backend_config(backend, backend_config)
    uri = absolute_store_uri(tracking.resolve_tracking_uri(tracking_uri))
    store = tracking.connect(uri)
    run_tags = {
        tag.STEP: step,
        tag.CODE_VERSION: code_version(project),
        tag.ENV_MANAGER: env_manager,
        tag.PROJECT: project.uri,
        **(tags or {}),
    }
    if parent_run_id:
        run_tags[tag.PARENT_RUN_ID] = parent_run_id
    if kube is not None:
        from augplat.projects.kube import docker_project

        project, values = docker_project(project, values, kube.get("image", DEFAULT_IMAGE))
    request = (project, step, values, env_manager, backend, kube, experiment, run_name)
    try:
        run_id = _submit(*request, run_tags, store)
    finally:
        if kube is not None:  # the copy made for the image build
            shutil.rmtree(project.uri, ignore_errors=True)
    logger = store.logger(run_id)
    logger.set_tags(run_tags)  # also when the step never started
    status = logger.run().info.status
    if status != "FINISHED":
        raise StepFailed(step, run_id, status)
    return LaunchResult(step, run_id, status)


_FAILED_RUN = re.compile(r"Run \(ID '([0-9a-f]+)'\) failed")


def _submit(project, step, values, env_manager, backend, kube, experiment, run_name, tags, store):
    """Run the step through ``mlflow.projects.run``; return its run id once it has ended.

    Locally the run is synchronous, so MLflow runs the command itself (no extra ``mlflow run``
    process) and the tags reach the step as ``AUGPLAT_RUN_TAGS``: it sets them on the run it
    adopts, before it logs anything. On Kubernetes the run is submitted asynchronously and tagged
    at once, then awaited.
    """
    import json

    from augplat.tracking.projects import ProjectRunError, run_project

    with step_environment():
        os.environ[RUN_TAGS_VAR] = json.dumps(tags)
        try:
            submitted = run_project(
                project.uri,
                entry_point=step,
                version=project.version if kube is None else None,
                parameters=values,
                experiment_name=experiment,
                backend=backend,
                backend_config=kube,
                env_manager=env_manager,
                synchronous=kube is None,
                run_name=run_name,
            )
        except ProjectRunError as exc:  # ExecutionException: failed run, bad version or param
            failed = _FAILED_RUN.search(exc.message)
            if failed:
                return failed.group(1)
            first = (exc.message.strip().splitlines() or ["failed"])[0]
            raise ConfigError(f"cannot launch step '{step}': {first}") from None
    if kube is not None:
        logger = store.logger(submitted.run_id)
        logger.set_tags(tags)
        try:
            submitted.wait()
        except KeyboardInterrupt:
            submitted.cancel()
            logger.end("KILLED")
            raise
    return submitted.run_id
