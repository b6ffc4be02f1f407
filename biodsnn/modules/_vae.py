"""The data-driven stream: a VAE over the control cell's expression that regenerates only its non-zero entries."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


class ControlVAE(nn.Module):
    """Encoder G → intermediate → (μ, log σ²) of the latent; decoder latent → intermediate → G.

    The output keeps the input's zeros: ``x̂ = decoder(z) · 1[x ≠ 0]`` (the paper's "regenerate only the non-zero
    entries"). In training mode ``z = μ + σ·ε``; in evaluation mode ``z = μ`` (deterministic predictions).

    ``init_output`` (per gene, typically the mean of the control's non-zero entries, see :meth:`nonzero_mean`) sets
    the decoder's last bias, and its last weight starts at zero: an untrained VAE then regenerates every non-zero
    entry as that value, so the mean regenerated control equals the control mean exactly, instead of a random
    decoder's ≈ 0 (which the effect would otherwise have to learn back, condition by condition).

    Example:
        >>> vae = ControlVAE(5, intermediate=4, latent=2)
        >>> x = torch.tensor([[0.0, 1.0, 0.0, 2.0, 3.0]])
        >>> out = vae.eval()(x)
        >>> bool((out.recon[x == 0] == 0).all())
        True
    """

    @dataclass
    class Output:
        """The regenerated expression with the latent statistics the loss needs."""

        recon: torch.Tensor
        mu: torch.Tensor
        logvar: torch.Tensor

    def __init__(self, n_genes: int, *, intermediate: int = 32, latent: int = 16,
                 init_output: torch.Tensor | None = None) -> None:
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(n_genes, intermediate), nn.ReLU(), nn.Linear(intermediate, 2 * latent))
        self.decoder = nn.Sequential(nn.Linear(latent, intermediate), nn.ReLU(), nn.Linear(intermediate, n_genes))
        if init_output is not None:
            last = self.decoder[-1]
            with torch.no_grad():
                last.weight.zero_()
                last.bias.copy_(torch.as_tensor(init_output, dtype=last.bias.dtype).reshape(n_genes))

    @staticmethod
    def nonzero_mean(x: torch.Tensor) -> torch.Tensor:
        """Per-gene mean of the non-zero entries of ``x`` ``[cells, G]`` (0 for a gene that is always zero).

        ``nonzero_mean(x) · 1[x ≠ 0]`` averages over the cells to exactly ``x.mean(0)``.

        Example:
            >>> ControlVAE.nonzero_mean(torch.tensor([[0.0, 2.0], [4.0, 0.0], [2.0, 0.0]])).tolist()
            [3.0, 2.0]
        """
        count = (x != 0).sum(0).to(x.dtype)
        return x.sum(0) / count.clamp(min=1)

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> ControlVAE.Output:
        mu, logvar = self.encoder(x).chunk(2, dim=-1)
        logvar = logvar.clamp(-10.0, 10.0)
        if self.training:
            eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
            z = mu + eps * (0.5 * logvar).exp()
        else:
            z = mu
        recon = self.decoder(z) * (x != 0)
        return ControlVAE.Output(recon, mu, logvar)

    @staticmethod
    def loss(x: torch.Tensor, out: ControlVAE.Output, *, kl_weight: float = 1.0) -> torch.Tensor:
        """Reconstruction (mean squared error per entry) + ``kl_weight`` · KL(q(z|x) ‖ N(0, I)) per latent dim.

        Both terms are means, so their scale does not depend on the number of genes or latent dimensions.

        Example:
            >>> vae = ControlVAE(3, intermediate=2, latent=2)
            >>> x = torch.ones(4, 3)
            >>> float(ControlVAE.loss(x, vae(x))) >= 0
            True
        """
        recon = (out.recon - x).pow(2).mean()
        kl = -0.5 * (1 + out.logvar - out.mu.pow(2) - out.logvar.exp()).mean()
        return recon + kl_weight * kl
