"""The epoch loop's pieces: batching, batch preparation, determinism, optimizers, schedulers."""

from __future__ import annotations

import pytest
import torch

from augplat.classify import engine
from augplat.classify.config import TrainConfig
from augplat.errors import ConfigError
from augplat.runtime import device


class TinyNet(torch.nn.Module):
    def __init__(self, classes: int = 3):
        super().__init__()
        self.body = torch.nn.Sequential(
            torch.nn.Conv2d(1, 4, 3, padding=1),
            torch.nn.BatchNorm2d(4),
            torch.nn.ReLU(),
            torch.nn.AdaptiveAvgPool2d(1),
            torch.nn.Flatten(),
            torch.nn.Dropout(0.2),
        )
        self.head = torch.nn.Linear(4, classes)

    def embed(self, x):
        return self.body(x)

    def forward(self, x):
        return self.head(self.body(x))


def _data(n=37):
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (n, 1, 8, 8), generator=g, dtype=torch.uint8)
    return images, torch.randint(0, 3, (n,), generator=g)


def test_batch_indices_cover_everything_once_in_order():
    batches = list(device.batch_indices(10, 4))
    assert [b.tolist() for b in batches] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


def test_shuffled_batches_are_seeded_and_drop_a_trailing_singleton():
    a = torch.cat(list(device.batch_indices(9, 4, torch.Generator().manual_seed(1))))
    b = torch.cat(list(device.batch_indices(9, 4, torch.Generator().manual_seed(1))))
    assert torch.equal(a, b)
    assert len(a) == 8 and len(set(a.tolist())) == 8  # 9 = 4 + 4 + 1: the singleton is dropped


def test_prepare_batch_scales_resizes_and_augments():
    images, _ = _data(4)
    x = engine.prepare_batch(images, None, None, None)
    assert x.dtype == torch.float32 and torch.allclose(x * 255, images.float())
    assert engine.prepare_batch(images, image_size=16).shape == (4, 1, 16, 16)
    calls = []

    def mark(batch, generator):
        calls.append(generator)
        return batch * 0

    g = torch.Generator()
    assert engine.prepare_batch(images, mark, g).abs().sum() == 0 and calls == [g]


def _one_epoch(seed: int, epoch: int = 1):
    torch.manual_seed(seed)
    model = TinyNet()
    images, labels = _data()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    stats = engine.train_epoch(
        model,
        images,
        labels,
        optimizer=opt,
        loss_fn=torch.nn.CrossEntropyLoss(),
        batch_size=8,
        generator=device.epoch_generator(seed, epoch),
    )
    return model, stats


def test_train_epoch_is_deterministic_for_a_seed():
    m1, s1 = _one_epoch(3)
    m2, s2 = _one_epoch(3)
    m3, _ = _one_epoch(4)
    assert s1 == s2
    assert all(
        torch.equal(a, b)
        for a, b in zip(m1.state_dict().values(), m2.state_dict().values(), strict=True)
    )
    assert not torch.equal(m1.head.weight, m3.head.weight)
    assert 0 <= s1["train_acc"] <= 1 and s1["train_loss"] > 0


def test_predict_logits_and_embeddings():
    model = TinyNet()
    images, _ = _data(10)
    assert engine.predict(model, images, batch_size=4).shape == (10, 3)
    assert engine.predict(model, images, batch_size=4, embed=True).shape == (10, 4)


@pytest.mark.parametrize(
    ("overrides", "cls"),
    [
        ({"optimizer": "adam"}, torch.optim.Adam),
        ({"optimizer": "adamw"}, torch.optim.AdamW),
        ({"optimizer": "sgd", "nesterov": True, "momentum": 0.8}, torch.optim.SGD),
    ],
)
def test_build_optimizer(overrides, cls):
    cfg = TrainConfig(lr=0.05, weight_decay=0.01, **overrides)
    model = TinyNet()
    model.body.requires_grad_(False)  # frozen params must not reach the optimizer
    opt = engine.build_optimizer(cfg, model.parameters())
    assert type(opt) is cls
    group = opt.param_groups[0]
    assert group["lr"] == 0.05 and group["weight_decay"] == 0.01
    assert len(group["params"]) == 2
    if cls is torch.optim.SGD:
        assert group["nesterov"] and group["momentum"] == 0.8


def test_schedulers_follow_the_config():
    def lrs(**kw):
        cfg = TrainConfig(lr=1.0, epochs=4, **kw)
        opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=cfg.lr)
        sched = engine.build_scheduler(cfg, opt)
        out = []
        for value in (0.5, 0.5, 0.5, 0.5):
            opt.step()
            engine.step_scheduler(sched, value)
            out.append(opt.param_groups[0]["lr"])
        return out

    assert lrs(scheduler="none") == [1.0] * 4
    assert lrs(scheduler="step", step_size=2, gamma=0.5) == [1.0, 0.5, 0.5, 0.25]
    cosine = lrs(scheduler="cosine")
    assert cosine[-1] == pytest.approx(0.0, abs=1e-9) and cosine == sorted(cosine, reverse=True)
    assert lrs(scheduler="plateau", plateau_patience=0, gamma=0.1)[-1] < 1.0


def test_cuda_request_without_cuda_is_a_user_error():
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    with pytest.raises(ConfigError, match="no CUDA device"):
        device.resolve_device("cuda")
    assert device.resolve_device("auto").type == "cpu"
