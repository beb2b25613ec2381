"""Checkpoint writing: the interval policy, best/last agreement, snapshots, Ctrl-C mid-epoch."""

from __future__ import annotations

import pytest
import torch

from augplat.runtime import checkpoints as checkpoint
from augplat.runtime.checkpoints import BackgroundSaver
from augplat.runtime.progress import Reporter


def _state(epoch: int) -> dict:
    return {"model": {"w": torch.full((3,), float(epoch))}, "epoch": epoch}


def _epoch_on_disk(path) -> int | None:
    return checkpoint.load(path)["epoch"] if path.exists() else None


def test_every_epoch_is_written_with_interval_zero(tmp_path):
    last, best = tmp_path / "last.pt", tmp_path / "best.pt"
    saver = BackgroundSaver(0.0)
    try:
        for epoch in (1, 2, 3):
            saver.submit(_state(epoch), last, best if epoch != 3 else None)
            saver.wait()
            assert _epoch_on_disk(last) == epoch
        assert _epoch_on_disk(best) == 2
    finally:
        saver.close()


def test_the_first_epoch_is_written_at_once_then_nothing_before_the_interval(tmp_path):
    last, best = tmp_path / "last.pt", tmp_path / "best.pt"
    saver = BackgroundSaver(3600.0)
    saver.submit(_state(1), last, best)
    # The first finished epoch is on disk before submit returns: a kill in the first
    # interval still finds a checkpoint to resume from.
    assert _epoch_on_disk(last) == 1 and _epoch_on_disk(best) == 1
    saver.submit(_state(2), last, best)  # improved again
    saver.submit(_state(3), last, None)  # not improved
    saver.wait()
    assert _epoch_on_disk(last) == 1 and _epoch_on_disk(best) == 1
    saver.close()
    assert _epoch_on_disk(last) == 3
    assert _epoch_on_disk(best) == 2  # the best epoch, though it never was written as last
    assert torch.equal(checkpoint.load(best)["model"]["w"], torch.full((3,), 2.0))


def test_best_of_the_newest_epoch_is_a_link_to_last(tmp_path):
    last, best = tmp_path / "last.pt", tmp_path / "best.pt"
    saver = BackgroundSaver(3600.0)
    saver.submit(_state(1), last, None)
    saver.submit(_state(2), last, best)
    saver.close()
    assert _epoch_on_disk(best) == 2
    assert best.stat().st_ino == last.stat().st_ino or best.read_bytes() == last.read_bytes()


def test_the_written_state_is_the_snapshot_not_the_live_tensors(tmp_path):
    last = tmp_path / "last.pt"
    state = _state(1)
    saver = BackgroundSaver(3600.0)
    saver.submit(state, last, None)
    state["model"]["w"].fill_(99.0)  # training goes on mutating the weights in place
    saver.close()
    assert torch.equal(checkpoint.load(last)["model"]["w"], torch.full((3,), 1.0))


def test_interval_elapses_between_epochs(tmp_path, monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(checkpoint.time, "monotonic", lambda: clock[0])
    last = tmp_path / "last.pt"
    saver = BackgroundSaver(30.0)
    try:
        saver.submit(_state(1), last, None)
        saver.wait()
        assert _epoch_on_disk(last) == 1  # the first epoch: always
        clock[0] += 10.0
        saver.submit(_state(2), last, None)
        saver.wait()
        assert _epoch_on_disk(last) == 1  # 10 s after the first write: not due
        clock[0] += 21.0
        saver.submit(_state(3), last, None)
        saver.wait()
        assert _epoch_on_disk(last) == 3
        clock[0] += 5.0
        saver.submit(_state(4), last, None)
        saver.wait()
        assert _epoch_on_disk(last) == 3  # 5 s after the last write: not due
    finally:
        saver.close()
    assert _epoch_on_disk(last) == 4


class _InterruptAt(Reporter):
    """Presses Ctrl-C in the middle of an epoch."""

    def __init__(self, epoch: int):
        self.epoch, self.current, self.batches = epoch, 0, 0

    def start_epoch(self, epoch: int, total_batches: int) -> None:
        self.current, self.batches = epoch, 0

    def advance(self, n: int = 1) -> None:
        self.batches += n
        if self.current == self.epoch and self.batches == 2:
            raise KeyboardInterrupt


def test_ctrl_c_mid_epoch_leaves_the_last_finished_epoch_on_disk():
    from augplat.classify.config import TrainConfig
    from augplat.classify.finetune import train_classifier
    from augplat.data import prepare_digits

    prepare_digits(fraction=0.2)
    cfg = TrainConfig(
        data="digits", model="simplecnn", epochs=5, batch_size=32, device="cpu",
        log_model=False, log_checkpoints=False, test_eval=False, checkpoint_interval=3600,
    )  # fmt: skip
    runs = []
    with pytest.raises(KeyboardInterrupt):
        train_classifier(cfg, reporter=_InterruptAt(3), on_start=runs.append)
    state = checkpoint.load(checkpoint.run_dir(runs[0]) / checkpoint.LAST)
    assert state["epoch"] == 2 and len(state["history"]) == 2
    best = checkpoint.load(checkpoint.run_dir(runs[0]) / checkpoint.BEST)
    assert best["epoch"] == state["best_epoch"] <= 2
