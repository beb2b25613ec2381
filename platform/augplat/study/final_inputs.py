"""What each fraction of a study's final stage trains on: data, generators, expansions.

How it works::

    inputs = FinalInputs(spec, tracking_uri, reporter)
    inputs.data(0.25)                     # "digits.f0.25": the nested train subset, saved once
    inputs.generator(0.25, seed=3)        # a GAN trained on that subset (reused by fingerprint)
    inputs.expanded(0.25, seed=3)         # that subset grown by that generator (reused)

A generator learns from the same train images the classifier of its fraction sees: a GAN that
saw the full train split would lend the small-data arms images they are not supposed to have.
With ``final.generator_per_seed`` every seed gets its own generator (same config, the seed
varied), so the intervals include the generator's own variance; otherwise one generator per
fraction serves every seed. Generators and expansions are reused whenever one that learned
exactly the same thing exists, so a resumed or repeated study trains nothing twice.
"""

from __future__ import annotations

from typing import Any

from augplat.runtime.progress import MessagesOnly, Reporter
from augplat.tracking import tags as tag


class FinalInputs:
    """Lazily made, cached per fraction (and seed): datasets, generator runs, expansions."""

    def __init__(self, spec, tracking_uri: str | None, reporter: Reporter):
        self.spec = spec
        self.base = spec.train.get("data", "digits")
        self.tracking_uri = tracking_uri
        self.reporter = reporter
        self._data: dict[float, Any] = {}
        self._generators: dict[tuple[float, int | None], str] = {}
        self._expanded: dict[str, str] = {}

    def dataset(self, fraction: float):
        """The prepared dataset of ``fraction`` (the study's own data at 1.0)."""
        if fraction not in self._data:
            from augplat.data import load_dataset
            from augplat.data.subset import train_subset

            base = load_dataset(self.base)
            self._data[fraction] = train_subset(base, fraction, seed=self.spec.sampler.seed)
        return self._data[fraction]

    def data(self, fraction: float) -> str:
        """The dataset name a cell of ``fraction`` trains on."""
        if fraction >= 1.0:
            return self.base
        return self.dataset(fraction).name

    def n_train(self, fraction: float) -> int:
        """Real train images at ``fraction``."""
        return len(self.dataset(fraction).indices("train"))

    def generator(self, fraction: float, seed: int | None = None) -> str:
        """The generator run of ``fraction`` (and ``seed`` with ``generator_per_seed``)."""
        fixed = self.spec.train.get("generator")
        if fixed:
            return fixed  # the definition names one: used as given, at every fraction
        key = (fraction, seed if self.spec.final.generator_per_seed else None)
        if key not in self._generators:
            self._generators[key] = self._train_or_reuse(fraction, key[1])
        return self._generators[key]

    def remember_generator(self, fraction: float, run_id: str) -> None:
        """The search's generator serves the cells of its fraction (one generator per fraction)."""
        self._generators[(fraction, None)] = run_id

    def generators(self) -> dict[tuple[float, int | None], str]:
        """Every generator used so far, by (fraction, seed or None)."""
        return dict(self._generators)

    def _train_or_reuse(self, fraction: float, seed: int | None) -> str:
        from augplat.generators.lookup import find_finished_run
        from augplat.study.generator import gan_config

        update: dict[str, Any] = {"data": self.data(fraction)}
        name = f"study-{self.spec.name}-gan-f{fraction:g}"
        if seed is not None:
            update["seed"] = seed
            name += f"-s{seed}"
        base = gan_config(self.spec)
        if "data" in (self.spec.gan or {}) and fraction < 1.0:
            update.pop("data")  # the definition trains its generator on other data on purpose
        cfg = base.model_copy(update={**update, "run_name": name})
        cfg = type(base).model_validate(cfg.model_dump())
        self._check_planned(cfg, fraction)  # one line before minutes of training, not after
        run_id = find_finished_run(cfg, self.tracking_uri)
        if run_id is not None:
            self.reporter.message(f"generator ({name}): reusing finished {cfg.method} run {run_id}")
            return run_id
        from augplat.quality import train_generator

        self.reporter.message(f"generator ({name}): training {cfg.method} on '{cfg.data}'")
        tags = {tag.STUDY: self.spec.name, tag.FRACTION: f"{fraction:g}"}
        quiet = MessagesOnly(Reporter())  # no per-epoch lines inside the final stage
        return train_generator(
            cfg, tracking_uri=self.tracking_uri, reporter=quiet, tags=tags
        ).run_id

    def _check_planned(self, cfg, fraction: float) -> None:
        """The generator's training images must pass the provenance rule for this fraction's
        data (:mod:`augplat.generators.provenance`): a ``gan.data`` override is refused here,
        once."""
        from augplat.generators import provenance

        prov = provenance.planned(cfg)
        prov.run_id = f"of study '{self.spec.name}' (gan: section, fraction {fraction:g})"
        allow = bool(self.spec.train.get("allow_foreign_generator", False))
        provenance.check(prov, self.dataset(fraction), allow_foreign=allow)

    def expanded(self, fraction: float, seed: int | None = None) -> str:
        """The dataset of ``fraction`` grown by its generator (``expand:`` settings), made once.

        ``expand: {dataset: NAME}`` names one made already (a pipeline's expand step); it serves
        the full train split only.
        """
        given = (self.spec.expand or {}).get("dataset")
        if given:
            if fraction < 1.0:
                from augplat.errors import ConfigError

                raise ConfigError(
                    f"study '{self.spec.name}': expand.dataset '{given}' grew the full train "
                    f"split; fraction {fraction:g} needs its own (drop expand.dataset)"
                )
            return given
        generator = self.generator(fraction, seed)
        if generator in self._expanded:
            return self._expanded[generator]
        from augplat.data.store import read_manifest
        from augplat.errors import UserError
        from augplat.expand import ExpandConfig, expand_dataset

        source = self.dataset(fraction)
        values = {"per_class": None, "balance": True, **(self.spec.expand or {})}
        if values.get("per_class") is not None:
            values["balance"] = False
        cfg = ExpandConfig.model_validate(
            {
                **values,
                "data": self.data(fraction),
                "generator": generator,
                "name": f"{source.name}.x{generator[:8]}",
                "experiment": self.spec.experiment_name,
                "run_name": f"study-{self.spec.name}-expand-f{fraction:g}",
            }
        )
        try:
            lineage = read_manifest(cfg.name).get("source", {})
        except UserError:  # not made yet
            lineage = {}
        same = {
            "generator_run": generator,
            "source_digest": source.digest,
            "mode": cfg.mode,
            "per_class": cfg.per_class,
            "seed": cfg.seed,
        }
        if all(lineage.get(k) == v for k, v in same.items()):
            self.reporter.message(f"expanded data: reusing '{cfg.name}'")
        else:
            self.reporter.message(f"expanded data: growing '{source.name}' into '{cfg.name}'")
            expand_dataset(cfg, tracking_uri=self.tracking_uri)
        self._expanded[generator] = cfg.name
        return cfg.name
