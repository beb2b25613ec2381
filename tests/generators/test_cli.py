"""`augplat gan ...` end to end in real subprocesses, against the default sqlite store."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from tests.generators import prepare_tiny_data

TINY_FLAGS = [
    "--data", "digits", "--ngf", "8", "--ndf", "8", "--n-blocks", "1", "--z-dim", "16",
    "--batch-size", "32", "--epochs", "1", "--decay-epochs", "1", "--log-every", "2",
    "--checkpoint-every", "3", "--preview-images", "4",
]  # fmt: skip


def _run_id(stdout: str) -> str:
    lines = [line for line in stdout.splitlines() if line.startswith("run_id=")]
    assert lines, stdout
    return lines[-1].split("=", 1)[1].strip()


def _client():
    from mlflow import MlflowClient

    return MlflowClient(f"sqlite:///{Path.cwd() / 'mlflow.db'}")


def _artifacts(client, run_id: str, path: str | None = None) -> set[str]:
    out = set()
    for item in client.list_artifacts(run_id, path):
        out |= _artifacts(client, run_id, item.path) if item.is_dir else {item.path}
    return out


def _printed(stdout: str) -> dict[str, float]:
    pairs = (line.split("=", 1) for line in stdout.splitlines() if "=" in line)
    return {k: float(v) for k, v in pairs if k != "run_id"}


def test_help_names_every_trainable_method(cli):
    from augplat.generators import trainable_methods

    text = " ".join(cli("gan", "train", "--help", check=True).stdout.split())
    assert all(name in text for name in trainable_methods()), text


def test_train_cgan_then_sample_and_eval(cli):
    from augplat.data import load_dataset
    from augplat.generators import GanConfig, find_finished_run, load_generator
    from augplat.runtime import checkpoints as checkpoint

    prepare_tiny_data()
    proc = cli("gan", "train", "cgan", *TINY_FLAGS, "--ema", "0.9", "--eval-samples", "64",
               check=True)  # fmt: skip
    run_id = _run_id(proc.stdout)
    client = _client()
    run = client.get_run(run_id)
    tags, params, metrics = run.data.tags, run.data.params, run.data.metrics
    assert run.info.status == "FINISHED"
    digest = load_dataset("digits").digest
    assert tags["augplat.kind"] == "gan" and tags["augplat.gan_method"] == "cgan"
    assert tags["augplat.dataset_digest"] == digest and tags["augplat.gan_complete"] == "true"
    assert params["gan_loss"] == "hinge" and params["condition_semantics.kind"] == "noise"
    assert [(i.dataset.name, i.dataset.digest) for i in run.inputs.dataset_inputs] == [
        ("digits", digest)
    ]
    for key in ("loss_d", "loss_g", "images_per_s", "lr_g", "lr_d", "wall_time_s"):
        assert key in metrics, key
    for key in ("fid_clf", "kid_clf", "label_fidelity", "cas_val_acc", "clf_val_acc"):
        assert key in metrics and metrics[key] == metrics[key], key  # present and not NaN
    lr = client.get_metric_history(run_id, "lr_g")
    assert lr[-1].value < lr[0].value  # the decay epoch ran
    files = _artifacts(client, run_id)
    expected = {
        "config.yaml", "condition_semantics.json", "data/a/manifest.json",
        "samples/epoch_0001.png", "samples/epoch_0002.png", "generator/gan.json",
        "generator/weights.pt", "checkpoints/last.pt", "evaluation/quality.json",
    }  # fmt: skip
    assert expected <= files, expected - files

    sampled = cli("gan", "sample", run_id, "--out", "grid.png", "-n", "3", check=True)
    assert "grid.png" in sampled.stdout
    assert Path("grid.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # The logged generator is the trained (EMA) generator and generates reproducibly.
    gan = load_generator(run_id)
    state = checkpoint.load(checkpoint.run_dir(run_id) / checkpoint.LAST)["method_state"]
    for name, tensor in gan.generators["g"].state_dict().items():
        assert torch.equal(tensor, state["ema"]["g"][name]), name
    labels = torch.arange(10)
    first = gan.generate(10, labels, generator=torch.Generator().manual_seed(7))
    cached = checkpoint.run_dir(run_id) / "generator"
    for item in cached.iterdir():
        item.unlink()
    again = load_generator(run_id).generate(10, labels, generator=torch.Generator().manual_seed(7))
    assert torch.equal(first, again)

    evaluated = cli("gan", "eval", run_id, "--data", "digits", check=True)
    printed = _printed(evaluated.stdout)
    assert printed["fid_clf"] == pytest.approx(metrics["fid_clf"], abs=1e-4)  # same judge, seed
    tags = client.get_run(run_id).data.tags  # which data the metrics came from
    assert tags["augplat.eval_dataset"] == "digits"
    assert tags["augplat.eval_dataset_digest"] == digest
    assert tags["augplat.eval_foreign_generator"] == "false"

    cfg = GanConfig(method="cgan", data="digits", ngf=8, ndf=8, n_blocks=1, z_dim=16,
                    batch_size=32, epochs=1, decay_epochs=1, ema=0.9)  # fmt: skip
    assert find_finished_run(cfg) == run_id
    assert find_finished_run(cfg.model_copy(update={"lr": 1e-3})) is None


def test_resume_after_sigkill_equals_an_uninterrupted_run(cli, isolated_home):
    from augplat.classify.config import build_config
    from augplat.generators import GanConfig, train_gan
    from augplat.runtime import checkpoints as checkpoint

    prepare_tiny_data()
    flags = [*TINY_FLAGS, "--epochs", "2", "--checkpoint-every", "1", "--no-eval", "--seed", "3"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "augplat", "gan", "train", "cgan", *flags],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    found: list[Path] = []
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            found = list((isolated_home / "runs").glob("*/last.pt"))
            if found and checkpoint.load(found[0])["step"] >= 3:
                break
            time.sleep(0.02)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, "training finished before it could be killed"
    run_id = found[0].parent.name
    killed_at = checkpoint.load(found[0])["step"]
    resumed = cli("gan", "train", "--resume", run_id, check=True)
    assert _run_id(resumed.stdout) == run_id and "finished" in resumed.stdout

    pairs = [f for f in flags if f != "--no-eval"]
    values = {
        k.lstrip("-").replace("-", "_"): v for k, v in zip(pairs[::2], pairs[1::2], strict=True)
    }
    cfg = build_config(GanConfig, overrides={"method": "cgan", **values, "eval": False})
    assert cfg.seed == 3 and cfg.epochs == 2 and cfg.checkpoint_every == 1
    reference = train_gan(cfg)
    got = checkpoint.load(checkpoint.run_dir(run_id) / checkpoint.LAST)
    want = checkpoint.load(checkpoint.run_dir(reference.run_id) / checkpoint.LAST)
    assert got["step"] == want["step"] > killed_at
    for group in ("generators", "discriminators"):
        for net, weights in want["method_state"][group].items():
            for name, tensor in weights.items():
                assert torch.equal(got["method_state"][group][net][name], tensor), (net, name)


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["nosuch"], "cgan, cyclegan"),
        (["stargan", "--data", "oneclass"], "at least 2 classes"),
        (["cyclegan", "--data-b", "digits_rgb"], "--channels"),
        (["cyclegan", "--data-b", "digits8"], "--size"),
        (["cgan", "--data", "nosuch"], "nosuch"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_no_run(cli, isolated_home, args, fragment):
    prepare_tiny_data()
    flags = [f for f in TINY_FLAGS if f != "digits"] if "--data" in args else TINY_FLAGS
    if "--data" in args:
        flags = [f for f in flags if f != "--data"]
    proc = cli("gan", "train", *args, *flags)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert fragment in lines[0]
    assert not list(isolated_home.glob("runs/*")), "a run directory was left behind"
    if Path("mlflow.db").exists():
        client = _client()
        experiments = [e.experiment_id for e in client.search_experiments()]
        assert client.search_runs(experiments) == [], "a run was created for bad input"
