"""A study ends in a verdict: arms × seeds × fractions cells, resumable, where users look.

End to end through the CLI on tiny data (digits at 16 px, simplecnn, one epoch, a two-step
cGAN): the cells and their tags, the verdict printed, the parent run's description, tags,
report.md and report.html, `augplat compare --study` giving the same numbers, nested fractions
with a generator each (reused by a second run), kill -9 in the final grid then --resume.
"""

from __future__ import annotations

import html.parser
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.study.test_study_cli import _children, _client, _parent_id

GRID_STUDY = """
train: {{data: digits, model: simplecnn, epochs: 1, batch_size: 64, eval_batch_size: 512,
        checkpoint_interval: 0, log_model: false}}
space:
  lr: {{type: float, low: 1.0e-3, high: 1.0e-2, log: true}}
  aug: {{type: categorical, choices: [gan]}}
  gan_prob: {{type: float, low: 0.2, high: 0.8}}
trials: 2
sampler: {{name: random, seed: 0}}
pruner: {{name: none}}
gan: {{method: cgan, ngf: 8, ndf: 8, z_dim: 16, batch_size: 32, epochs: 1, max_steps: 2,
      eval: false, preview_images: 2}}
final:
  seeds: 2
  fractions: [0.5, 1.0]
  tune: {tune}
  baseline: no_gan
  arms:
    tuned: {{}}
    no_gan: {{generative: off}}
{extra}"""
ENSEMBLE = "    vote: {ensemble: [tuned, no_gan], rule: vote}\n"


@pytest.fixture
def grid_study(cli, tmp_path):
    """Writes a grid study; ``prepare=True`` (the end-to-end tests) also prepares its data."""

    def write(
        tune: str = "shared", extra: str = ENSEMBLE, name: str = "grid", prepare: bool = True
    ) -> Path:
        if prepare:
            cli("data", "prepare", "digits", "--size", "16", "--fraction", "0.3", check=True)
        path = tmp_path / f"{name}.yaml"
        path.write_text(GRID_STUDY.format(tune=tune, extra=extra))
        return path

    return write


def _finals(client, parent_id: str):
    return [r for r in _children(client, parent_id) if r.data.tags.get("augplat.final") == "true"]


def _gan_runs(client):
    experiments = [e.experiment_id for e in client.search_experiments()]
    return client.search_runs(experiments, "tags.`augplat.kind` = 'gan'")


class _Tables(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.tables, self.images = 0, []

    def handle_starttag(self, tag, attrs):
        self.tables += tag == "table"
        if tag == "img":
            self.images.append(dict(attrs)["src"])


@pytest.mark.slow
def test_the_study_ends_in_a_verdict_users_find_everywhere(cli, grid_study):
    path = grid_study()
    proc = cli("study", str(path), "--set", "final.alpha=0.05", check=True)  # the default
    parent_id = _parent_id(proc.stdout)
    client = _client()
    parent = client.get_run(parent_id)
    assert parent.info.status == "FINISHED"
    assert "final.alpha=0.05" in parent.data.params["study_set"]  # what was set is recorded

    # every (arm, seed, fraction) cell: one finished nested run with its tags
    finals = _finals(client, parent_id)
    cells = sorted(
        (r.data.tags["augplat.arm"], r.data.tags["augplat.seed"], r.data.tags["augplat.fraction"])
        for r in finals
    )
    want = [
        (a, s, f) for a in ("no_gan", "tuned", "vote") for s in ("0", "1") for f in ("0.5", "1")
    ]
    assert cells == sorted(want)
    for run in finals:
        assert run.info.status == "FINISHED" and 0 <= run.data.metrics["test_top1"] <= 1
        assert run.data.tags["augplat.cell"].startswith(run.data.tags["augplat.arm"] + "|")
    by_arm = {
        a: [r for r in finals if r.data.tags["augplat.arm"] == a] for a in ("tuned", "no_gan")
    }
    assert {r.data.params["aug"] for r in by_arm["tuned"]} == {"gan"}
    assert {r.data.params["aug"] for r in by_arm["no_gan"]} == {"none"}  # generative off
    assert {r.data.params["generator"] for r in by_arm["no_gan"]} == {"None"}

    # fractions: a nested subset per fraction, each with its own generator trained on it
    data = {r.data.tags["augplat.fraction"]: r.data.params["data"] for r in by_arm["tuned"]}
    assert data == {"0.5": "digits.f0.5", "1": "digits"}
    gans = {r.info.run_id: r.data.params["data"] for r in _gan_runs(client)}
    for run in by_arm["tuned"]:
        assert gans[run.data.params["generator"]] == run.data.params["data"]
    from augplat.data import load_dataset

    full, half = load_dataset("digits"), load_dataset("digits.f0.5")
    rows = {img.tobytes() for img in full.arrays("train")[0]}
    assert {img.tobytes() for img in half.arrays("train")[0]} < rows  # nested, stratified
    assert np.array_equal(half.arrays("test")[0], full.arrays("test")[0])

    # the verdict: printed, in the description, as tags, in report.md and report.html
    assert "study grid: verdict on test_top1 (baseline arm: no_gan)" in proc.stdout
    assert "tuned vs no_gan: " in proc.stdout and "underpowered (n=2)" in proc.stdout
    note = parent.data.tags["mlflow.note.content"]
    assert "| tuned | 2 |" in note and "underpowered (n=2)" in note
    assert parent.data.tags["augplat.verdict.tuned"] == "underpowered (n=2)"
    assert parent.data.tags["augplat.verdict.vote.f0.5"] == "underpowered (n=2)"
    report_dir = Path(client.download_artifacts(parent_id, "report", "."))
    markdown = (report_dir / "report.md").read_text()
    sections = ["Answer", "Data", "Generators", "Protocol", "Verdict per arm"]
    sections += ["Paired differences", "Data-efficiency curve", "Reproduce"]
    for section in sections:
        assert f"## {section}" in markdown
    assert "Tuning: shared; one search of 2 finished trials (requested 2)" in markdown
    parser = _Tables()
    parser.feed((report_dir / "report.html").read_text())
    assert parser.tables >= 4 and parser.images
    assert all(src.startswith("data:image/png;base64,") for src in parser.images)
    experiment = client.get_experiment(parent.info.experiment_id)
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"

    # `augplat compare --study` reproduces the same numbers from the runs alone
    compared = cli("compare", "--study", "grid", check=True)
    for line in proc.stdout.splitlines():
        if line.startswith("- [") and " vs no_gan: " in line:
            assert line[2:] in compared.stdout
    assert "(baseline arm: no_gan)" in proc.stdout

    # a second study of the same data reuses the generators and the subsets
    n_gans = len(_gan_runs(client))
    again = cli("study", str(path), "--fresh", check=True)
    assert len(_gan_runs(client)) == n_gans
    assert "reusing finished cgan run" in again.stdout + again.stderr


@pytest.mark.slow
@pytest.mark.kill
def test_kill_during_the_final_grid_then_resume_runs_each_cell_once(grid_study, isolated_home):
    path = grid_study(extra="")
    marker = isolated_home / "paused"
    env = {**os.environ, "AUGPLAT_TEST_PAUSE_AT": "study.cell_started:3",
           "AUGPLAT_TEST_PAUSE_FILE": str(marker)}  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, "-m", "augplat", "study", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        start_new_session=True,
    )
    deadline = time.monotonic() + 300
    while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marker.exists(), proc.stderr.read().decode() if proc.poll() is not None else "timeout"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    resumed = subprocess.run(
        [sys.executable, "-m", "augplat", "study", str(path), "--resume"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert "2 of 8 cells already finished" in resumed.stderr + resumed.stdout
    parent_id = _parent_id(resumed.stdout)
    finals = _finals(_client(), parent_id)
    finished = [r for r in finals if r.info.status == "FINISHED"]
    keys = [r.data.tags["augplat.cell"] for r in finished]
    assert len(keys) == len(set(keys)) == 8  # every cell once
    (dead,) = [r for r in finals if r.info.status != "FINISHED"]  # the killed cell's run
    assert dead.info.status == "FAILED" and dead.data.tags["augplat.cell"] in keys

    again = subprocess.run(
        [sys.executable, "-m", "augplat", "study", str(path), "--resume"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert again.returncode == 0 and "8 of 8 cells already finished" in again.stderr
    assert len(_finals(_client(), parent_id)) == 9  # a finished study retrains nothing


@pytest.mark.slow
def test_per_arm_tuning_gives_every_arm_the_same_number_of_trials(cli, grid_study):
    path = grid_study(tune="per-arm", extra="", name="perarm")
    proc = cli("study", str(path), check=True)
    parent_id = _parent_id(proc.stdout)
    client = _client()
    trials = [r for r in _children(client, parent_id) if "augplat.trial" in r.data.tags]
    per_arm = {}
    for run in trials:
        per_arm.setdefault(run.data.tags["augplat.study"], []).append(run)
    assert {k: len(v) for k, v in per_arm.items()} == {"perarm.tuned": 2, "perarm.no_gan": 2}
    assert {r.data.params["aug"] for r in per_arm["perarm.no_gan"]} == {"none"}
    parent = client.get_run(parent_id)
    assert parent.data.tags["augplat.tune"] == "per-arm"
    assert "Tuning: per-arm; trials per arm: tuned: 2, no_gan: 2" in (
        Path(client.download_artifacts(parent_id, "report/report.md", ".")).read_text()
    )


BAD = [
    ("    nope: {lrr: 0.1}\n", "final: arms.nope: unknown key 'lrr'"),
    ("    vote: {ensemble: [tuned, ghost]}\n", "final: arms.vote.ensemble: unknown arm 'ghost'"),
]


@pytest.mark.parametrize(("extra", "fragment"), BAD)
def test_bad_arms_are_one_line_and_start_nothing(cli, grid_study, extra, fragment):
    path = grid_study(extra=extra, prepare=False)
    proc = cli("study", str(path))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and str(path) in lines[0] and fragment in lines[0], proc.stderr
    assert not Path("mlflow.db").exists()


@pytest.mark.parametrize(
    ("old", "new", "fragment"),
    [
        ("baseline: no_gan", "baseline: ghost", "final: baseline: 'ghost' is not among the arms"),
        ("fractions: [0.5, 1.0]", "fractions: [0.5, 1.5]", "final: fractions: 1.5 is outside"),
        ("fractions: [0.5, 1.0]", "fractions: [0, 1.0]", "final: fractions: 0.0 is outside"),
    ],
)
def test_bad_final_sections_are_one_line_naming_file_and_key(cli, grid_study, old, new, fragment):
    path = grid_study(prepare=False)
    path.write_text(path.read_text().replace(old, new))
    proc = cli("study", str(path))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and str(path) in lines[0] and fragment in lines[0], proc.stderr
    assert not Path("mlflow.db").exists()


@pytest.mark.parametrize(
    ("item", "fragment"),
    [
        ("final.seedz=3", "--set: unknown key 'final.seedz'"),
        ("final.alpha=2", "--set: final.alpha:"),
        ("final", "--set final: expected KEY=VALUE"),
        ("final.arms.tuned.lr=[", "--set final.arms.tuned.lr: invalid YAML value"),
    ],
)
def test_bad_study_sets_are_one_line_and_start_nothing(cli, grid_study, item, fragment):
    path = grid_study(prepare=False)
    proc = cli("study", str(path), "--set", item)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0], proc.stderr
    assert not Path("mlflow.db").exists()
