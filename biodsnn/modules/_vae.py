"""The data-driven stream: a VAE over the control cell's expression that regenerates only its non-zero entries."""

from __future__ import annotations

import torch
from torch import nn


class ControlVAE(nn.Module):
    """Encoder G → intermediate → (μ, log σ²) of the latent; decoder latent → intermediate → G.

    The output keeps the input's zeros: ``x̂ = decoder(z) · 1[x ≠ 0]`` (the paper's "regenerate only the non-zero
    entries"). In training mode ``z = μ + σ·ε``; in evaluation mode ``z = μ`` (deterministic predictions).

    Example:
        >>> vae = ControlVAE(5, intermediate=4, latent=2)
        >>> x = torch.tensor([[0.0, 1.0, 0.0, 2.0, 3.0]])
        >>> out = vae.eval()(x)
        >>> bool((out.recon[x == 0] == 0).all())
        True
    """

    class Output:
        """The regenerated expression with the latent statistics the loss needs."""

        def __init__(self, recon: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> None:
            self.recon, self.mu, self.logvar = recon, mu, logvar

    def __init__(self, n_genes: int, *, intermediate: int = 32, latent: int = 16) -> None:
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(n_genes, intermediate), nn.ReLU(), nn.Linear(intermediate, 2 * latent))
        self.decoder = nn.Sequential(nn.Linear(latent, intermediate), nn.ReLU(), nn.Linear(intermediate, n_genes))

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
