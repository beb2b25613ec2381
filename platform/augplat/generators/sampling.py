"""``augplat gan sample``: a grid of a generator run's images, written as a PNG."""

from __future__ import annotations

from augplat.generators.lookup import load_generator


def sample_grid(
    run: str,
    *,
    n: int = 8,
    out=None,
    data: str | None = None,
    strength: float | None = None,
    seed: int = 0,
    device: str = "auto",
    tracking_uri: str | None = None,
):
    """Write a PNG grid of a run's generator: its preview, or variations with ``strength``.

    Source images come from the run's dataset (or ``data``, required for imported translators);
    with ``strength`` each row is a source image followed by 4 variations of it.

    Returns:
        The written path (default ``samples_<run-id>.png`` in the working directory).
    """
    from pathlib import Path

    import torch

    from augplat.errors import ConfigError
    from augplat.generators.data import prepare_data
    from augplat.runtime import plots
    from augplat.runtime.device import resolve_device

    dev = resolve_device(device)
    method = load_generator(run, tracking_uri, dev)
    gen = torch.Generator().manual_seed(seed)
    if not method.trainable and not data:
        raise ConfigError("--data is required to sample an imported translator")
    cfg = method.cfg.model_copy(update={"data": data or method.cfg.data})
    images, labels, images_b = prepare_data(cfg, type(method), dev).fixed_inputs(n, seed)
    if strength is not None:
        rows = [method.variations(images, labels, strength, generator=gen) for _ in range(4)]
        grid, nrow = torch.stack([images, *rows], dim=1).flatten(0, 1), 5
    else:
        grid, nrow = method.preview(images, labels, images_b, gen, columns=n)
    stem = method.provenance.run_id if run.startswith("models:/") else run  # no '/' in names
    path = Path(out) if out else Path(f"samples_{stem}.png")
    plots.image_grid((grid.float() * 255).round().to(torch.uint8).cpu().numpy(), path, nrow=nrow)
    return path
