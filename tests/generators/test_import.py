"""`augplat gan import`: a TorchScript translator becomes a generator run, or one clear error."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from tests.generators import prepare_tiny_data


class _Toy(nn.Module):
    """A tiny RGB image-to-image net, like a CartoonGAN port (here: [0, 1] in and out)."""

    def __init__(self, stride: int = 1):
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 3, stride=stride, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.conv(x))


def _script(path: Path, stride: int = 1) -> _Toy:
    torch.manual_seed(0)
    model = _Toy(stride).eval()
    torch.jit.script(model).save(str(path))
    return model


def _luma(x: torch.Tensor) -> torch.Tensor:
    return (x * torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True)


def test_import_round_trip_translates_like_the_model(cli, tmp_path):
    from mlflow import MlflowClient

    from augplat.generators import load_generator
    from augplat.generators.sampling import sample_grid

    prepare_tiny_data()
    model = _script(tmp_path / "toy.pt")
    proc = cli("gan", "import", str(tmp_path / "toy.pt"), "--name", "toy", check=True)
    run_id = proc.stdout.strip().splitlines()[-1].split("=", 1)[1]
    run = MlflowClient(f"sqlite:///{Path.cwd() / 'mlflow.db'}").get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.data.tags["augplat.kind"] == "gan"
    assert run.data.tags["augplat.gan_method"] == "imported"

    gan = load_generator(run_id)
    assert gan.capabilities == {"translate", "variations"}
    assert gan.condition_semantics["kind"] == "domain"
    rgb = torch.rand(4, 3, 20, 20, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = model(rgb)
    assert torch.allclose(gan.translate(rgb), expected, atol=1e-6)
    gray = rgb[:, :1]
    with torch.no_grad():
        expected_gray = _luma(model(gray.repeat(1, 3, 1, 1)))
    assert torch.allclose(gan.translate(gray), expected_gray, atol=1e-6)
    assert torch.equal(gan.variations(gray, torch.zeros(4), 0.0), gray)
    with pytest.raises(Exception, match="generate"):
        gan.generate(2)

    by_name = load_generator("toy")  # the --name finds the run too
    assert torch.equal(by_name.translate(rgb), gan.translate(rgb))
    path = sample_grid("toy", data="digits", n=3, out=tmp_path / "grid.png")
    assert path.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    ("make", "fragment"),
    [
        (lambda p: p.write_text("not a model"), "not a TorchScript model"),
        (lambda p: _script(p, stride=2), "same shape"),
        (lambda p: None, "file not found"),
    ],
)
def test_bad_translator_is_one_line_exit_2(cli, tmp_path, make, fragment):
    path = tmp_path / "model.pt"
    make(path)
    proc = cli("gan", "import", str(path), "--name", "bad")
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0], proc.stderr
    assert not Path("mlflow.db").exists() or _no_runs()


def _no_runs() -> bool:
    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{Path.cwd() / 'mlflow.db'}")
    return client.search_runs([e.experiment_id for e in client.search_experiments()]) == []
