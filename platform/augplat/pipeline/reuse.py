"""Step reuse: a finished run with the same step key stands in for running the step again.

How to run::

    augplat pipeline digits            # second time: every step is reused, nothing is launched
    augplat pipeline digits --rerun    # launch every step even when a finished run matches

A step's key is a SHA-256 over what determines its result: the step, the code version (a git
commit, or a hash of the checkout's augplat sources), its typed parameters (floats normalised),
the content of its config file, the ids of the runs its inputs came from, and the content of
any input file. The key is tagged on the step's run (``augplat.step_key``); a later pipeline
reuses the newest FINISHED run with that key in the pipeline's experiment whose outputs are
still usable (e.g. its dataset still has the recorded digest in the data home). A step's outputs
are always read from its run's tags, never from files that happen to be lying around.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from augplat.errors import ConfigError
from augplat.tracking import run_is_kind
from augplat.tracking import tags as tag

KEY_TAG = tag.STEP_KEY


def normalise(params: dict[str, Any], declared: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Parameters as the strings MLflow passes on; ``float`` parameters in one spelling."""
    out = {}
    for key, value in params.items():
        text = str(value).lower() if isinstance(value, bool) else str(value)
        if declared.get(key, {}).get("type") == "float":
            try:
                text = repr(float(text))
            except ValueError:
                raise ConfigError(f"params.{key}={value}: '{key}' must be a number") from None
        out[key] = text
    return out


def content_hash(value: Any) -> str:
    """SHA-256 of a JSON-able value in canonical form."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def source_hash(path: Path) -> str:
    """Content of an input file, or the listing (names, sizes, mtimes) of an input folder."""
    from augplat.runtime.fsutil import file_sha256

    if path.is_file():
        return file_sha256(path)
    listing = [
        (p.relative_to(path).as_posix(), p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(path.rglob("*"))
        if p.is_file()
    ]
    return content_hash(listing)


def step_key(step: str, code: str, params: dict[str, str], config: Any, inputs: dict, sources):
    """The reuse key of one step (see the module docstring)."""
    return content_hash(
        {
            "step": step,
            "code": code,
            "params": params,
            "config": config,
            "inputs": inputs,
            "sources": sources,
        }
    )[:32]


def write_config(config: dict[str, Any]) -> Path:
    """The step's config as a YAML file whose name is its content hash (same config, same path)."""
    import yaml

    from augplat.runtime.fsutil import write_text
    from augplat.runtime.home import augplat_home

    text = yaml.safe_dump(config, sort_keys=True)
    path = augplat_home() / "pipelines" / "configs" / f"{content_hash(config)[:16]}.yaml"
    if not path.is_file():
        write_text(path, text)
    return path


def _dataset_outputs(run) -> dict[str, str] | None:
    from augplat.data.store import MANIFEST, dataset_dir

    tags = run.data.tags
    name, digest = tags.get(tag.DATASET), tags.get(tag.DATASET_DIGEST)
    if not name or not digest:
        return None
    manifest = dataset_dir(name) / MANIFEST
    try:
        if json.loads(manifest.read_text(encoding="utf-8")).get("digest") != digest:
            return None  # overwritten or re-prepared since: the run's output is gone
    except (OSError, ValueError):
        return None
    return {"dataset": name, "digest": digest}


def outputs_of(step: str, run) -> dict[str, str] | None:
    """What a finished step's run produced, read from its tags; None when unusable."""
    tags = run.data.tags
    if step in ("prepare", "expand"):
        return _dataset_outputs(run)
    if step == "gan":
        if not run_is_kind(run, tag.KIND_GAN) or tags.get(tag.GAN_COMPLETE) != "true":
            return None
        return {"generator": run.info.run_id, "dataset": tags.get(tag.DATASET, "")}
    if step == "study":
        if not run_is_kind(run, tag.KIND_STUDY) or not tags.get(tag.STUDY):
            return None
        return {"study": tags[tag.STUDY]}
    return {}


def find_reusable(store, experiment_id: str, step: str, key: str):
    """The newest FINISHED run of ``step`` with ``key`` whose outputs are usable, and them.

    Runs of this step left RUNNING by a dead process are ended FAILED on the way.

    Args:
        store: The tracking store (:func:`augplat.tracking.connect`).
        experiment_id: The pipeline's experiment.
        step: The step's name.
        key: The step key (:func:`step_key`).
    """
    keyed = {KEY_TAG: key}
    store.end_dead_runs(store.find_runs([experiment_id], tags=keyed, status="RUNNING"))
    for run in store.find_runs([experiment_id], tags=keyed, status="FINISHED"):
        outputs = outputs_of(step, run)
        if outputs is not None:
            return run, outputs
    return None
