"""A generator meets a dataset only if it learned from that dataset's train split (or a subset).

Real generator runs, made once per session in a private store: ``leaky`` trained on a re-split of
the digits whose train split holds the test images of ``digits``; ``full`` trained on all of the
``digits`` train split; ``small`` trained on a 20 % subset of it (``digits-small``). Every refusal
goes through the CLI: one line naming both datasets, exit code 2, no run and nothing written.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from augplat.generators import provenance
from tests.generators import tiny_config

_STORE: dict = {}


def _build() -> dict:
    import atexit
    import os
    import tempfile

    from augplat.data import ImageDataset, dataset_dir, load_dataset, prepare_digits
    from augplat.generators import train_gan
    from augplat.runtime.home import datasets_dir

    root = Path(tempfile.mkdtemp(prefix="augplat-provenance-tests-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    saved = {k: os.environ.get(k) for k in ("AUGPLAT_HOME", "MLFLOW_TRACKING_URI")}
    previous_cwd = Path.cwd()
    os.environ["AUGPLAT_HOME"] = str(root / "home")
    os.chdir(root)
    try:
        digits = prepare_digits(size=16)
        prepare_digits(name="digits-small", size=16, fraction=0.2)
        # The same images, re-split: the test split of `digits` becomes the train split.
        code = np.where(digits.split == 2, 0, np.where(digits.split == 0, 2, digits.split))
        resplit = ImageDataset(
            digits.images, digits.labels, code.astype(np.int8), digits.classes, name="resplit"
        )
        resplit.save(dataset_dir("resplit"))
        assert load_dataset("resplit").digest != digits.digest
        runs = {
            name: train_gan(tiny_config("cgan", data=data, max_steps=2, preview_images=2)).run_id
            for name, data in (("leaky", "resplit"), ("full", "digits"), ("small", "digits-small"))
        }
        return {"db": root / "mlflow.db", "datasets": datasets_dir(), "runs": runs}
    finally:
        os.chdir(previous_cwd)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture
def gens() -> dict[str, str]:
    """The datasets in this test's home, the generator runs in its store: ``{name: run id}``."""
    from augplat.runtime.home import datasets_dir

    if not _STORE:
        _STORE.update(_build())
    shutil.copytree(_STORE["datasets"], datasets_dir(), dirs_exist_ok=True)
    shutil.copy(_STORE["db"], Path.cwd() / "mlflow.db")
    return dict(_STORE["runs"])


def _client():
    from mlflow import MlflowClient

    return MlflowClient(f"sqlite:///{Path.cwd() / 'mlflow.db'}")


def _runs(kind: str) -> list:
    client = _client()
    experiments = [e.experiment_id for e in client.search_experiments()]
    return client.search_runs(experiments, f"tags.`augplat.kind` = '{kind}'")


def _refused(proc, *names: str) -> str:
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    for name in names:
        assert f"'{name}'" in lines[0], lines[0]
    return lines[0]


def _run_id(stdout: str) -> str:
    return [x for x in stdout.splitlines() if x.startswith("run_id=")][-1].split("=", 1)[1]


def _train(data: str = "digits") -> list[str]:
    return ["train", "--data", data, "--model", "simplecnn", "--epochs", "1", "--no-log-model"]


TRAIN = _train()


# ---------------------------------------------------------------- recorded hashes ----


def test_a_gan_run_records_the_hashes_of_its_training_images(gens):
    from augplat.data import load_dataset
    from augplat.generators import load_generator

    gan = load_generator(gens["small"])
    prov = gan.provenance
    train = load_dataset("digits-small").arrays("train")[0]
    assert prov.hashes == provenance.as_set(provenance.image_hashes(train))
    assert prov.dataset == "digits-small" and prov.meta["images"] == len(train)
    tags = _client().get_run(gens["small"]).data.tags
    assert tags[provenance.DIGEST_TAG] == prov.meta["digest"]
    stored = np.load(
        Path(_client().download_artifacts(gens["small"], "generator/train_hashes.npy"))
    )
    assert stored.shape == (len(train), 16) and stored.dtype == np.uint8


# ---------------------------------------------------------- leakage: always refused ----


def test_train_refuses_a_generator_that_learned_from_test_images(cli, gens):
    before = len(_runs("train"))
    for args in (
        ["--aug", "gan", "--generator", gens["leaky"]],
        ["--aug", "none", "--train-on", "synthetic", "--generator", gens["leaky"]],
        ["--aug", "gan", "--generator", gens["leaky"], "--allow-foreign-generator"],
    ):
        line = _refused(cli(*TRAIN, *args), "digits", "resplit")
        assert "test" in line and "leak" in line
    assert len(_runs("train")) == before


def test_expand_refuses_a_generator_that_learned_from_test_images(cli, gens):
    from augplat.data import dataset_dir

    proc = cli("expand", "--generator", gens["leaky"], "--data", "digits", "--per-class", "2")
    _refused(proc, "digits", "resplit")
    assert not dataset_dir("digits-expanded").exists() and not _runs("expand")


STUDY = """
train: {{data: digits, model: simplecnn, epochs: 1, batch_size: 64{extra}}}
space:
  aug: {{type: categorical, choices: [classic, gan]}}
trials: 2
sampler: {{name: grid, seed: 0}}
pruner: {{name: none}}
final: {{seeds: [0]}}
"""
GAN_SECTION = (
    "gan: {method: cgan, data: resplit, ngf: 8, ndf: 8, z_dim: 16, batch_size: 32, epochs: 1, "
    "max_steps: 2, eval: false, preview_images: 2}\n"
)


def test_study_refuses_a_leaky_gan_section_before_training_it(cli, gens, tmp_path):
    path = tmp_path / "leaky-gan.yaml"
    path.write_text(STUDY.format(extra="") + GAN_SECTION)
    gan_runs = len(_runs("gan"))
    _refused(cli("study", str(path)), "digits", "resplit")
    assert len(_runs("gan")) == gan_runs  # refused before anything was trained
    assert not _runs("study")


def test_study_refuses_a_leaky_train_generator(cli, gens, tmp_path):
    path = tmp_path / "leaky-named.yaml"
    path.write_text(STUDY.format(extra=f", generator: {gens['leaky']}"))
    _refused(cli("study", str(path)), "digits", "resplit")
    assert not _runs("study") and not _runs("train")


def test_gan_eval_refuses_a_dataset_whose_val_or_test_images_it_learned(cli, gens):
    _refused(cli("gan", "eval", gens["leaky"], "--data", "digits"), "digits", "resplit")


# ------------------------------------------------ foreign data: refused unless flagged ----


def test_a_gan_of_the_full_digits_is_refused_for_a_20_percent_subset(cli, gens):
    cli("data", "prepare", "digits", "--fraction", "0.2", "--name", "digits-20", check=True)
    args = [*_train("digits-20"), "--aug", "gan", "--generator", gens["full"]]
    line = _refused(cli(*args), "digits-20", "digits")
    assert "--allow-foreign-generator" in line
    assert not _runs("train")

    ok = cli(*args, "--allow-foreign-generator", check=True)
    tags = _client().get_run(_run_id(ok.stdout)).data.tags
    assert tags[provenance.FOREIGN_TAG] == "true"
    assert "not in the train split of dataset 'digits-20'" in tags[provenance.REASON_TAG]

    proc = cli("expand", "--generator", gens["full"], "--data", "digits-20", "--per-class", "1")
    _refused(proc, "digits-20", "digits")
    ok = cli(
        "expand", "--generator", gens["full"], "--data", "digits-20", "--per-class", "1",
        "--allow-foreign-generator", check=True,
    )  # fmt: skip
    from augplat.data import load_dataset

    lineage = load_dataset("digits-20-expanded").source
    assert (
        lineage["foreign_generator"] is True and "digits-20" in lineage["foreign_generator_reason"]
    )
    assert _client().get_run(_run_id(ok.stdout)).data.tags[provenance.FOREIGN_TAG] == "true"
    # a run trained on that expansion says so too
    done = cli(
        *_train("digits-20"), "--aug", "none", "--train-on", "expanded",
        "--expanded", "digits-20-expanded", check=True,
    )  # fmt: skip
    assert _client().get_run(_run_id(done.stdout)).data.tags[provenance.FOREIGN_TAG] == "true"


def test_a_gan_of_a_train_subset_is_accepted_and_tagged_not_foreign(cli, gens):
    done = cli(*TRAIN, "--aug", "gan", "--generator", gens["small"], check=True)
    assert _client().get_run(_run_id(done.stdout)).data.tags[provenance.FOREIGN_TAG] == "false"


def test_gan_eval_refuses_a_dataset_whose_train_split_lacks_its_images(cli, gens):
    line = _refused(cli("gan", "eval", gens["full"], "--data", "digits-small"), "digits-small")
    assert "--allow-foreign-generator" in line
    assert "augplat.eval_dataset" not in _client().get_run(gens["full"]).data.tags


# ---------------------------------------------------------------- the rule itself ----


def _dataset(train, val, test, name="d"):
    from augplat.data import ImageDataset

    images = np.concatenate([train, val, test])
    split = np.repeat([0, 1, 2], [len(train), len(val), len(test)]).astype(np.int8)
    return ImageDataset(images, np.zeros(len(images), np.int64), split, ["a"], name=name)


def _images(values) -> np.ndarray:
    return np.array(values, dtype=np.uint8).reshape(-1, 1, 1, 1) * np.ones((1, 1, 2, 2), np.uint8)


def test_the_rule_on_constructed_hashes():
    ds = _dataset(_images([1, 2, 3, 9]), _images([4]), _images([5, 9]))

    def prov(values):
        hashes = provenance.as_set(provenance.image_hashes(_images(values)))
        return provenance.Provenance("r", "cgan", False, "g", None, hashes)

    assert provenance.check(prov([1, 2]), ds) == provenance.Verdict(False)
    # an image the dataset holds in train AND test is no leak: the classifier trains on it
    assert not provenance.check(prov([9]), ds).foreign
    with pytest.raises(provenance.ConfigError, match=r"1 image\(s\).*\(1 test, 0 val\)"):
        provenance.check(prov([1, 5]), ds, allow_foreign=True)
    with pytest.raises(provenance.ConfigError, match="1 of its 2 training images"):
        provenance.check(prov([1, 7]), ds)
    verdict = provenance.check(prov([1, 7]), ds, allow_foreign=True)
    assert verdict.foreign and verdict.tags()[provenance.FOREIGN_TAG] == "true"
    imported = provenance.Provenance("m", "imported", True)
    assert provenance.check(imported, ds).foreign  # allowed, flagged
    unrecorded = provenance.Provenance("old", "cgan", False, "g")
    with pytest.raises(provenance.ConfigError, match="records no hashes"):
        provenance.check(unrecorded, ds)
    assert provenance.check(unrecorded, ds, allow_foreign=True).foreign
