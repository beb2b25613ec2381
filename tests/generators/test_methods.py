"""Every trainable method in the registry: trains, generates, saves/reloads, resumes exactly."""

from __future__ import annotations

import pytest
import torch

from augplat.errors import DataError, UserError
from augplat.generators import GAN_METHODS, GanMethod, load_generator, train_gan, trainable_methods
from augplat.generators.data import prepare_data
from augplat.generators.registry import load_saved
from augplat.generators.train import build, step_generator
from augplat.runtime import checkpoints as checkpoint
from tests.generators import prepare_tiny_data, tiny_config

METHODS = trainable_methods()


def test_registry_has_the_three_methods_and_the_plugin():
    assert {"cgan", "cyclegan", "stargan"} <= set(METHODS)
    assert "imported" in GAN_METHODS and "imported" not in METHODS
    with pytest.raises(UserError, match="cgan, cyclegan"):
        GAN_METHODS.get("biggan")


def _trained(method: str, steps: int = 3):
    cfg, data, gan = build(tiny_config(method))
    order = torch.randperm(len(data.images), generator=torch.Generator().manual_seed(0))
    for step in range(steps):
        g = step_generator(cfg.seed, step)
        gan.train_step(data.batch(order[step * 32 : (step + 1) * 32], g), step, g)
    return cfg, data, gan


def _outputs(gan: GanMethod, images: torch.Tensor, labels: torch.Tensor) -> list[torch.Tensor]:
    """Every supported generation call, each with its own seeded generator."""
    out = []
    if "translate" in gan.capabilities:
        targets = (labels + 1) % len(gan.spec.classes) if gan.condition_kind != "domain" else None
        out.append(gan.translate(images, targets, generator=torch.Generator().manual_seed(1)))
    out.append(gan.variations(images, labels, 0.3, generator=torch.Generator().manual_seed(2)))
    if "generate" in gan.capabilities:
        out.append(gan.generate(len(labels), labels, generator=torch.Generator().manual_seed(3)))
    return out


@pytest.mark.parametrize("method", METHODS)
def test_generation_api_shapes_ranges_and_conditions(method):
    prepare_tiny_data()
    _, data, gan = _trained(method)
    images, labels, _ = data.fixed_inputs(6, seed=0)
    semantics = gan.condition_semantics
    assert semantics["kind"] in ("class-code", "domain", "noise")
    assert semantics["classes"] == [str(d) for d in range(10)]
    for out in _outputs(gan, images, labels):
        assert out.shape == images.shape and out.dtype == torch.float32
        assert out.min() >= 0 and out.max() <= 1
    assert all(
        torch.equal(a, b)
        for a, b in zip(_outputs(gan, images, labels), _outputs(gan, images, labels), strict=True)
    )
    for missing in {"translate", "variations", "generate"} - gan.capabilities:
        with pytest.raises(UserError, match=f"cannot {missing}"):
            getattr(gan, missing)(
                *((len(labels), labels) if missing == "generate" else (images, labels))
            )
    grid, nrow = gan.preview(images, labels, images, torch.Generator().manual_seed(0))
    assert grid.dim() == 4 and grid.shape[1:] == images.shape[1:] and len(grid) % nrow == 0


@pytest.mark.parametrize("method", METHODS)
def test_class_conditions_are_continuous(method):
    prepare_tiny_data()
    _, data, gan = _trained(method)
    if gan.condition_kind == "domain":
        pytest.skip("domain translation has no class conditions")
    images, labels, _ = data.fixed_inputs(4, seed=0)
    k = len(gan.spec.classes)
    one_hot = torch.nn.functional.one_hot(labels, k).float()
    mixed = 0.5 * one_hot + 0.5 * torch.nn.functional.one_hot((labels + 1) % k, k).float()
    call = gan.generate if gan.condition_kind == "noise" else gan.translate
    first = (len(labels),) if gan.condition_kind == "noise" else (images,)

    def run(cond):
        return call(*first, cond, generator=torch.Generator().manual_seed(0))

    assert torch.equal(run(labels), run(one_hot))  # int labels are one-hot codes
    assert not torch.equal(run(labels), run(mixed))  # a point between codes is its own condition
    with pytest.raises(UserError, match="shape"):
        run(torch.rand(len(labels), k + 1))


@pytest.mark.parametrize("method", METHODS)
def test_save_and_load_give_identical_outputs(method, tmp_path):
    prepare_tiny_data()
    _, data, gan = _trained(method)
    images, labels, _ = data.fixed_inputs(5, seed=1)
    gan.save(tmp_path / "gen")
    loaded = load_saved(tmp_path / "gen")
    assert type(loaded) is type(gan) and loaded.condition_semantics == gan.condition_semantics
    for a, b in zip(_outputs(gan, images, labels), _outputs(loaded, images, labels), strict=True):
        assert torch.equal(a, b)


def _final_state(run_id: str) -> dict:
    return checkpoint.load(checkpoint.run_dir(run_id) / checkpoint.LAST)


def _assert_same_tree(a, b, path="state"):
    if isinstance(a, torch.Tensor):
        assert torch.equal(a, b), path
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for key in a:
            _assert_same_tree(a[key], b[key], f"{path}.{key}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _assert_same_tree(x, y, f"{path}[{i}]")
    else:
        assert a == b, path


@pytest.mark.parametrize("method", METHODS)
def test_resume_after_a_pause_equals_an_uninterrupted_run(method):
    from mlflow import MlflowClient

    prepare_tiny_data()
    cfg = tiny_config(method)
    paused = train_gan(cfg, stop_after=5)  # mid-epoch, between two checkpoints
    assert not paused.completed and paused.steps == 5
    client = MlflowClient(f"sqlite:///{__import__('pathlib').Path.cwd() / 'mlflow.db'}")
    assert client.get_run(paused.run_id).info.status == "KILLED"
    resumed = train_gan(cfg, resume=paused.run_id)
    reference = train_gan(cfg)
    assert resumed.run_id == paused.run_id and resumed.completed
    assert resumed.steps == reference.steps == reference.total_steps
    got, want = _final_state(resumed.run_id), _final_state(reference.run_id)
    assert got["step"] == want["step"]
    _assert_same_tree(got["method_state"], want["method_state"])
    run = client.get_run(resumed.run_id)
    assert run.info.status == "FINISHED" and run.data.tags["augplat.gan_complete"] == "true"
    a, b = load_generator(resumed.run_id), load_generator(reference.run_id)
    images, labels, _ = prepare_data(a.cfg, type(a), "cpu").fixed_inputs(4, seed=2)
    for x, y in zip(_outputs(a, images, labels), _outputs(b, images, labels), strict=True):
        assert torch.equal(x, y)


def test_domain_options_resize_and_convert_explicitly():
    from augplat.generators.registry import method_class

    prepare_tiny_data()
    cyclegan = method_class("cyclegan")
    for other, fix in (("digits_rgb", {"channels": 1}), ("digits8", {"size": 16})):
        with pytest.raises(DataError, match="domains differ"):
            prepare_data(tiny_config("cyclegan", data_b=other), cyclegan, "cpu")
        data = prepare_data(tiny_config("cyclegan", data_b=other, **fix), cyclegan, "cpu")
        assert data.images.shape[1:] == data.images_b.shape[1:] == (1, 16, 16)
    data = prepare_data(
        tiny_config("cyclegan", data_b=None, classes=["0", "1"], classes_b=["7"]), cyclegan, "cpu"
    )
    assert data.spec.domains == ("digits[0,1]", "digits[7]")
    assert set(data.labels.tolist()) == {0, 1}


@pytest.mark.parametrize(
    ("method", "changes", "fragment"),
    [
        ("imported", {}, "not trainable"),
        ("cyclegan", {"data_b": None}, "--data-b"),
        ("cgan", {"data_b": "digits_inv"}, "only apply to cyclegan"),
        ("cgan", {"classes": ["0", "eleven"]}, "eleven"),
        ("cgan", {"eval": True, "classifier": "0123456789abcdef" * 2}, "no such MLflow run"),
    ],
)
def test_user_errors_come_before_any_run(method, changes, fragment):
    from pathlib import Path

    from augplat.generators import GanConfig
    from augplat.quality import train_generator

    prepare_tiny_data()
    cfg = tiny_config("cgan").model_copy(update={"method": method})
    cfg = GanConfig.model_validate({**cfg.model_dump(), **changes})
    if method == "cyclegan" and "data_b" not in changes:
        cfg = cfg.model_copy(update={"data_b": "digits_inv"})
    with pytest.raises(UserError, match=fragment):
        train_generator(cfg)  # the job as the CLI runs it: quality judged when eval asks
    assert not list(checkpoint.run_dir("x").parent.glob("*")), "a run directory was left behind"
    if Path("mlflow.db").exists():
        from mlflow import MlflowClient

        client = MlflowClient(f"sqlite:///{Path.cwd() / 'mlflow.db'}")
        assert client.search_runs([e.experiment_id for e in client.search_experiments()]) == []
