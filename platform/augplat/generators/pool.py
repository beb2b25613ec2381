"""The image pool (Shrivastava et al., 2017; used by CycleGAN): show the discriminator a history.

Feeding the discriminator some older fakes instead of only the latest ones damps the oscillation
where D overfits to G's current mode. Per image: while the pool is filling, store it and return
it; afterwards, with probability 1/2 return a random stored image and put the new one in its
place, else return the new one. Decisions come from an explicit generator and the contents are in
:meth:`state_dict`, so a resumed run sees the same pool as an uninterrupted one.
"""

from __future__ import annotations

import torch


class ImagePool:
    """A buffer of up to ``size`` generated images.

    Args:
        size: Capacity; 0 disables the pool (``query`` returns its input).
    """

    def __init__(self, size: int = 50):
        self.size = size
        self.images: list[torch.Tensor] = []

    def query(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Return a batch of the same shape, mixing ``images`` with stored ones.

        Args:
            images: Newly generated batch (stored detached).
            generator: CPU generator for the keep/swap decisions.
        """
        if self.size == 0:
            return images
        images = images.detach()
        coins = torch.rand(len(images), generator=generator).tolist()
        picks = torch.randint(0, max(self.size, 1), (len(images),), generator=generator).tolist()
        out = []
        for image, coin, pick in zip(images, coins, picks, strict=True):
            if len(self.images) < self.size:
                self.images.append(image.clone())
                out.append(image)
            elif coin > 0.5:
                out.append(self.images[pick].clone())
                self.images[pick] = image.clone()
            else:
                out.append(image)
        return torch.stack(out)

    def state_dict(self) -> dict[str, torch.Tensor | int]:
        """Capacity and stored images (CPU), for checkpoints."""
        stacked = torch.stack(self.images).cpu() if self.images else torch.zeros(0)
        return {"size": self.size, "images": stacked}

    def load_state_dict(self, state: dict, device: torch.device | str = "cpu") -> None:
        """Restore what :meth:`state_dict` returned."""
        self.size = int(state["size"])
        self.images = [img.to(device) for img in state["images"]] if state["images"].numel() else []
