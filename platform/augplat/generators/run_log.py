"""What a generator training run records: tags to find it again, its inputs, its outputs.

Inputs (params, ``config.yaml``, condition semantics, dataset lineage) are logged when the run
opens; outputs (the ``generator/`` artifact with its training-image hashes, the same generator as
an MLflow model, the last checkpoint) once it has trained every step.
"""

from __future__ import annotations

import torch

from augplat.generators.base import GanMethod
from augplat.generators.config import GanConfig, fingerprint
from augplat.generators.data import GanData
from augplat.runtime import checkpoints as checkpoint
from augplat.tracking import tags as tag


def run_tags(cfg: GanConfig, data: GanData, method: GanMethod) -> dict[str, str]:
    """Tags that let later steps find "a finished GAN run like this one" and reuse it."""
    sets = data.spec.datasets
    tags = {
        tag.KIND: tag.KIND_GAN,
        tag.GAN_METHOD: cfg.method,
        tag.DATASET: sets["a"]["name"],
        tag.DATASET_DIGEST: sets["a"]["digest"],
        tag.CONDITION_KIND: method.condition_kind,
        tag.GAN_FINGERPRINT: fingerprint(cfg, {k: v["digest"] for k, v in sets.items()}),
        tag.GAN_COMPLETE: "false",
    }
    if "b" in sets:
        tags[tag.DATASET_B] = sets["b"]["name"]
        tags[tag.DATASET_B_DIGEST] = sets["b"]["digest"]
    return tags


def log_inputs(logger, cfg: GanConfig, data: GanData, method: GanMethod) -> None:
    """Params, config.yaml, condition semantics and dataset lineage at the start of a run."""
    import json
    from pathlib import Path

    from augplat import __version__
    from augplat.data import dataset_dir
    from augplat.runtime.settings import to_yaml

    count = lambda mods: sum(p.numel() for m in mods.values() for p in m.parameters())  # noqa: E731
    logger.log_params(
        {
            **cfg.model_dump(mode="json"),
            "image_shape": [data.spec.channels, data.spec.size, data.spec.size],
            "num_classes": len(data.spec.classes),
            "num_train": len(data.images),
            "num_train_b": len(data.images_b) if data.images_b is not None else 0,
            "condition_semantics": method.condition_semantics,
            "generator_params": count(method.generators),
            "discriminator_params": count(method.discriminators),
            "device_type": method.device.type,
            "torch_version": torch.__version__,
            "augplat_version": __version__,
        }
    )
    logger.log_text(to_yaml(cfg), "config.yaml")
    logger.log_text(json.dumps(method.condition_semantics, indent=2), "condition_semantics.json")
    given = {"a": cfg.data, "b": cfg.data_b or cfg.data}  # name in the data home, or a path
    for role, ds in data.datasets.items():
        directory = Path(dataset_dir(ds.name))
        source = directory if (directory / "manifest.json").is_file() else Path(given[role])
        context = "training" if role == "a" else "training_domain_b"
        logger.log_dataset(ds.name, ds.digest, str(source.resolve()), context=context)
        if (source / "manifest.json").is_file():
            logger.log_artifact(source / "manifest.json", f"data/{role}")


def log_outputs(logger, method: GanMethod, data: GanData) -> None:
    """The generator (``generator/``: gan.json, weights, training-image hashes), the same as
    an MLflow model (:mod:`augplat.generators.serving`) and the last checkpoint."""
    from augplat.generators import provenance, serving
    from augplat.tracking import scratch_dir

    with scratch_dir() as tmp:
        method.save(tmp / "generator")
        tags = provenance.record(tmp / "generator", data)
        logger.log_artifact(tmp / "generator", "generator")
        serving.log_model(logger, method, tmp / "generator", tags.get(provenance.DIGEST_TAG))
    logger.set_tags(tags)
    last = checkpoint.run_dir(logger.run_id) / checkpoint.LAST
    logger.log_artifact(last, checkpoint.ARTIFACT_DIR)
