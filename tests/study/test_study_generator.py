"""A study whose space includes GAN augmentation trains (or reuses) its generator first."""

from __future__ import annotations

from pathlib import Path

from tests.study.test_study_cli import _children, _client, _parent_id

GAN_STUDY = """
train: {data: digits, model: simplecnn, epochs: 1, batch_size: 64, gan_prob: 0.5}
space:
  aug: {type: categorical, choices: [classic, gan]}
trials: 2
sampler: {name: grid, seed: 0}
pruner: {name: none}
final: {seeds: [0]}
"""
TINY_GAN = (
    "gan: {method: cgan, ngf: 8, ndf: 8, z_dim: 16, batch_size: 32, epochs: 1, max_steps: 2, "
    "eval: false, preview_images: 2}\n"
)


def _gan_runs(client):
    experiments = [e.experiment_id for e in client.search_experiments()]
    return client.search_runs(experiments, "tags.`augplat.kind` = 'gan'")


def test_gan_space_trains_the_generator_once_then_reuses_it(cli, tmp_path):
    cli("data", "prepare", "digits", "--size", "16", "--fraction", "0.2", check=True)
    path = tmp_path / "gan-study.yaml"
    path.write_text(GAN_STUDY + TINY_GAN)
    first = cli("study", str(path), check=True)
    client = _client()
    (gan_run,) = _gan_runs(client)
    assert gan_run.info.status == "FINISHED" and gan_run.data.tags["augplat.study"] == "gan-study"
    assert "training cgan" in first.stdout + first.stderr
    # default arms: the winner, and the winner with generative augmentation off (baseline);
    # a single seed is a quick look, never a finding
    assert "(baseline arm: no_gan)" in first.stdout
    assert "tuned vs no_gan: " in first.stdout and "underpowered (n=1)" in first.stdout
    trials = [
        r for r in _children(client, _parent_id(first.stdout)) if "augplat.trial" in r.data.tags
    ]
    assert {r.data.params["aug"] for r in trials} == {"classic", "gan"}
    for run in trials:  # every trial names the study's generator
        assert run.data.params["generator"] == gan_run.info.run_id

    second = cli("study", str(path), "--fresh", check=True)
    assert len(_gan_runs(client)) == 1  # the finished run with the same fingerprint is reused
    assert f"reusing finished cgan run {gan_run.info.run_id}" in second.stdout + second.stderr


def test_gan_space_without_generator_or_gan_section_is_exit_2(cli, tmp_path):
    cli("data", "prepare", "digits", "--size", "16", "--fraction", "0.2", check=True)
    path = tmp_path / "no-gan.yaml"
    path.write_text(GAN_STUDY)
    proc = cli("study", str(path))
    assert proc.returncode == 2
    assert "names no generator" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert not Path("mlflow.db").exists() or not _gan_runs(_client())
