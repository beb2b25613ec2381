"""``augplat gan eval``: judge a generator run on a dataset and log the metrics to that run."""

from __future__ import annotations


def evaluate_run(
    run_id: str,
    *,
    classifier: str | None = None,
    n_samples: int | None = None,
    data: str | None = None,
    device: str = "auto",
    tracking_uri: str | None = None,
    allow_foreign: bool = False,
) -> dict[str, float]:
    """``augplat gan eval``: evaluate a run's generator and log the metrics to that run.

    The dataset the metrics come from is checked like every use of a generator
    (:func:`augplat.generators.provenance.check`: a generator that learned from its val/test images
    would be judged on what it memorised) and recorded on the run
    (``augplat.eval_dataset``, ``augplat.eval_dataset_digest``, ``augplat.eval_foreign_generator``).

    Args:
        run_id: A GAN run (trained or imported).
        classifier: Run id of an ``augplat train`` run to use as the judge.
        n_samples: Synthetic images (default: the run's ``eval_samples``).
        data: Dataset to evaluate on; required for imported translators, otherwise the run's.
        device: ``auto``, ``cpu`` or ``cuda``.
        tracking_uri: MLflow URI.
        allow_foreign: ``--allow-foreign-generator``: evaluate on a dataset whose train split
            does not hold all of the generator's training images (never its val/test images).
    """
    from augplat import tracking
    from augplat.errors import ConfigError
    from augplat.generators.data import prepare_data
    from augplat.generators.lookup import find_run, load_generator
    from augplat.generators.provenance import check_generator_use
    from augplat.quality.metrics import evaluate_and_log
    from augplat.runtime.device import resolve_device
    from augplat.tracking import tags as tag

    dev = resolve_device(device)
    method = load_generator(run_id, tracking_uri, dev)
    if not data and not method.spec.datasets.get("a"):  # an imported translator names none
        raise ConfigError("--data is required to evaluate an imported translator")
    old = method.cfg
    updates = {"data": data or old.data, "classifier": classifier or old.classifier}
    cfg = old.model_copy(update={**updates, "eval_samples": n_samples or old.eval_samples})
    gan_data = prepare_data(cfg, type(method), dev)
    # A fixed-shape generator judges data converted to its shape; an imported one takes any.
    convert = (cfg.channels, cfg.size) if method.fixed_shape is not None else None
    verdict = check_generator_use(
        method, gan_data.datasets["a"], allow_foreign=allow_foreign, convert=convert
    )
    store = tracking.connect(tracking_uri)
    logger = store.logger(find_run(store, run_id).info.run_id)
    # augplat.eval_foreign_generator (+ _reason): how the judged dataset relates to its training
    tags = verdict.tags()
    logger.set_tags({k.replace(tag.PREFIX, tag.EVAL_PREFIX, 1): v for k, v in tags.items()})
    return evaluate_and_log(method, gan_data, logger, cfg)


def train_generator(cfg, **kwargs):
    """:func:`augplat.generators.train_gan` with quality measured when ``cfg.eval`` asks.

    The judge is :mod:`augplat.quality.metrics` itself: its ``check_classifier_run`` and
    ``evaluate_and_log`` are what :class:`augplat.generators.train.Judge` asks for.
    """
    from augplat.generators import train_gan
    from augplat.quality import metrics

    return train_gan(cfg, judge=metrics, **kwargs)
