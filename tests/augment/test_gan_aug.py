"""GAN augmentation: per-sample replacement, bank mode, and its plumbing through `augplat train`."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from augplat.augment import ChainAugment, GanAugment
from augplat.classify.config import TrainConfig, build_config
from augplat.errors import ConfigError
from augplat.generators.roles import Role, RolePlayer, Roles
from tests.expand import MARKER, client, generator_runs, runs_of_kind, train_tiny

# The augment role of each kind of generator (StarGAN, CycleGAN, cGAN).
ROLES = {
    "class-code": Roles(augment=Role.VARIATION),
    "domain": Roles(augment=Role.STYLE),
    "noise": Roles(augment=Role.SAMPLE),
}


class FakeGan(RolePlayer):
    """A generator playing its augment role: counts what it makes; outputs come from the noise."""

    name = "fake"

    def __init__(self, kind: str = "class-code"):
        self.roles = ROLES[kind]
        self.made = 0
        self.labels: list[torch.Tensor] = []

    def _noise(self, n, like, generator):
        self.made += n
        return torch.rand(n, 1, 1, 1, generator=generator).expand(n, *like.shape[1:]).clone()

    def variations(self, x, labels, strength, *, generator, batch_size):
        self.labels.append(labels)
        return 0.5 + 0.5 * self._noise(len(x), x, generator)

    def translate(self, x, *, generator, batch_size):
        self.made += len(x)
        return 1 - x

    def generate(self, n, labels, *, generator, batch_size):
        self.labels.append(labels)
        return self._noise(n, torch.zeros(1, 1, 4, 4), generator)


def _batch(n: int = 64):
    g = torch.Generator().manual_seed(123)
    return torch.rand(n, 1, 4, 4, generator=g) * 0.4, torch.randint(0, 3, (n,), generator=g)


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_prob_zero_is_the_identity_and_draws_nothing():
    gan, (x, y) = FakeGan(), _batch()
    gen = _gen()
    state = gen.get_state()
    aug = GanAugment(gan, prob=0.0)
    assert aug(x, gen, labels=y) is x
    assert torch.equal(gen.get_state(), state) and gan.made == 0
    assert aug.pop_stats() == {"gan_replaced_frac": 0.0}


@pytest.mark.parametrize("kind", ["class-code", "domain", "noise"])
def test_replacement_is_per_sample_seeded_and_counted(kind):
    x, y = _batch()
    gan = FakeGan(kind)
    aug = GanAugment(gan, prob=0.5)
    assert (
        aug.mode == {"class-code": "variations", "domain": "translate", "noise": "generate"}[kind]
    )
    out = aug(x, _gen(1), labels=y)
    replaced = (out != x).flatten(1).any(1)
    assert 0 < replaced.sum() < len(x) and gan.made == replaced.sum()
    assert torch.equal(out[~replaced], x[~replaced])  # the others are untouched, bit for bit
    assert aug.pop_stats()["gan_replaced_frac"] == replaced.float().mean().item()
    if kind != "domain":  # variations and samples are made for the chosen samples' labels
        assert torch.equal(gan.labels[0], y[replaced])
    again = GanAugment(FakeGan(kind), prob=0.5)
    assert torch.equal(again(x, _gen(1), labels=y), out)
    assert not torch.equal(again(x, _gen(2), labels=y), out)
    assert (GanAugment(FakeGan(kind), prob=1.0)(x, _gen(1), labels=y) != x).flatten(1).all()


def test_bank_generates_once_and_draws_a_variant_per_epoch():
    n, k = 10, 3
    images = (torch.rand(n, 1, 4, 4, generator=_gen(5)) * 100).to(torch.uint8)
    labels = torch.arange(n) % 3
    gan = FakeGan()
    aug = GanAugment(gan, prob=1.0)
    bank = aug.build_bank(images, labels, k=k, seed=0, chunk=4)
    assert bank.shape == (n, k, 1, 4, 4) and bank.dtype == torch.uint8
    assert gan.made == n * k == aug.bank_calls  # once per image and variant
    index = torch.tensor([7, 2, 2, 9])
    x = images[index].float() / 255
    used = set()
    for epoch in range(6):
        out = aug(x, _gen(epoch), labels=labels[index], index=index)
        assert torch.equal(out, aug(x, _gen(epoch), labels=labels[index], index=index))
        for row, i in zip(out, index.tolist(), strict=True):
            matches = [v for v in range(k) if torch.equal(row, bank[i, v].float() / 255)]
            assert matches
            used.add((i, matches[0]))
    assert gan.made == n * k  # epochs draw from the bank, never from the generator
    assert len({v for _, v in used}) > 1
    translator = GanAugment(FakeGan("domain"), prob=1.0)
    assert translator.build_bank(images, labels, k=4, seed=0).shape[1] == 1  # deterministic


def test_chain_runs_gan_then_classic():
    x, y = _batch(8)
    calls = []

    def classic(batch, generator):
        calls.append(batch.clone())
        return batch * 0

    out = ChainAugment(GanAugment(FakeGan("domain"), prob=1.0), classic)(x, _gen(), labels=y)
    assert torch.equal(calls[0], 1 - x) and torch.equal(out, torch.zeros_like(x))


def test_aug_gan_needs_a_generator_and_a_file_may_leave_it_to_the_flag(tmp_path):
    with pytest.raises(ConfigError, match="--generator"):
        build_config(TrainConfig, None, {"aug": "gan"})
    path = tmp_path / "run.yaml"
    path.write_text("aug: both\n")
    assert build_config(TrainConfig, path, {"generator": "abc"}).generator == "abc"
    with pytest.raises(ConfigError, match=f"{path}.*--generator"):
        build_config(TrainConfig, path)
    with pytest.raises(ConfigError, match="--gan-prob"):
        build_config(TrainConfig, None, {"gan_prob": 1.5})


# ------------------------------------------------------------ through `augplat train` ----


def _train(**changes):
    return train_tiny(**changes)


def _weights(run_id: str) -> dict[str, torch.Tensor]:
    from augplat.runtime import checkpoints as checkpoint

    return checkpoint.load(checkpoint.run_dir(run_id) / checkpoint.LAST)["model"]


def test_gan_prob_zero_trains_exactly_like_no_gan_augmentation(model_inputs):
    runs = generator_runs()
    plain = _train(aug="none")
    plain_batches = list(model_inputs)
    model_inputs.clear()
    # StarGAN's networks draw initial weights when loaded: the classifier must not notice.
    gan = _train(aug="gan", generator=runs["stargan"], gan_prob=0.0)
    assert len(model_inputs) == len(plain_batches) > 0
    assert all(torch.equal(a, b) for a, b in zip(model_inputs, plain_batches, strict=True))
    a, b = _weights(plain.run_id), _weights(gan.run_id)
    assert all(torch.equal(a[key], b[key]) for key in a)
    assert client().get_run(gan.run_id).data.metrics["gan_replaced_frac"] == 0.0


@pytest.mark.parametrize("bank", [0, 3])
def test_gan_prob_one_never_shows_an_original(model_inputs, bank):
    runs = generator_runs()
    result = _train(aug="gan", generator="marker", gan_prob=1.0, gan_bank=bank)
    # The bank stores uint8, so there the marker is quantised to 64/255.
    marker = torch.tensor(round(MARKER * 255), dtype=torch.float32) / 255 if bank else MARKER
    assert model_inputs and all((x == marker).all() for x in model_inputs)
    run = client().get_run(result.run_id)
    assert run.data.metrics["gan_replaced_frac"] == 1.0
    assert run.data.params["generator"] == runs["marker"]  # the name resolved to the run id
    assert run.data.params["gan_bank_variants"] == ("1" if bank else "0")  # a translator: 1
    if bank:  # the bank was checked against val/test (flat marker images copy none)
        assert run.data.params["gan_bank_near_val_test"] == "0"
    else:  # online: a probe of generated images was checked the same way
        assert run.data.params["gan_near_val_test"] == "0"
        assert int(run.data.params["gan_near_val_test_probe"]) > 0


def test_a_generator_that_does_not_fit_fails_before_a_run():
    runs = generator_runs()
    with pytest.raises(ConfigError, match="1×8×8"):
        _train(data="digits8", aug="gan", generator=runs["cgan"])
    with pytest.raises(Exception, match="no GAN run"):
        _train(aug="both", generator="nope")
    assert runs_of_kind("train") == []


def test_cli_train_with_gan_augmentation_logs_the_generator(cli):
    runs = generator_runs()
    proc = cli(
        "train", "--data", "digits", "--model", "simplecnn", "--batch-size", "32",
        "--epochs", "1", "--no-log-model", "--aug", "gan", "--generator", runs["stargan"],
        "--gan-prob", "0.5", check=True,
    )  # fmt: skip
    (run_id,) = [line[7:] for line in proc.stdout.splitlines() if line.startswith("run_id=")]
    run = client().get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params["generator"] == runs["stargan"] and run.data.params["aug"] == "gan"
    assert run.data.tags["augplat.generator"] == runs["stargan"]
    assert run.data.tags["augplat.gan_method"] == "stargan"
    assert 0.0 < run.data.metrics["gan_replaced_frac"] < 1.0
    assert Path("mlflow.db").is_file()
