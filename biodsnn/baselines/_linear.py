"""The linear baseline of Ahlmann-Eltze, Huber & Anders (Nature Methods 2025), ``lpm_selftrained``.

Let ``Y`` be the genes × training-perturbations matrix of pseudobulk changes from control and ``b`` its row means
(the centre). ``G`` (genes × K) holds the gene embeddings: the top-K principal components of ``Y − b`` with genes
as observations (the K leading left singular vectors scaled by their singular values). A perturbation's embedding
``p`` (K) is the row of ``G`` of its perturbed gene, summed over the genes of a combination; a perturbed gene that
is not measured contributes zero. So seen and unseen perturbations are embedded the same way. ``W`` (K × K)
solves the paper's two-sided ridge problem ``min ||Y − b − G W P||² + λ||W||²`` with the paper's closed form
``W = (GᵀG + λI)⁻¹ Gᵀ (Y − b) Pᵀ (P Pᵀ + λI)⁻¹`` (``solve_y_axb`` in their code). Prediction:
``ŷ = G W p + b + control``.
"""

from __future__ import annotations

import numpy as np

from biodsnn.baselines._registry import Baseline, register_baseline
from reactomenet.errors import InputError


@register_baseline("linear")
class LinearBaseline(Baseline):
    """Bilinear model ``Y ≈ G W P`` from a PCA of the training pseudobulk (K = 10, ridge λ = 0.1).

    Args:
        data: the PerturbData.
        split: the Split (training conditions only are used).
        n_components: K, the embedding dimension (capped by the training rank).
        ridge: λ.

    Example:
        get_baseline("linear")(data, split, n_components=10, ridge=0.1).fit()
    """

    def __init__(self, data: object, split: object, *, n_components: int = 10, ridge: float = 0.1) -> None:
        super().__init__(data, split)
        if n_components < 1 or ridge < 0:
            raise InputError(f"linear baseline needs n_components ≥ 1 and ridge ≥ 0, got {n_components}, {ridge}")
        self.n_components = n_components
        self.ridge = ridge

    def embed(self, condition: str) -> np.ndarray:
        """The K-vector embedding of a condition (sum of its genes' rows of G)."""
        p = np.zeros(self.gene_embedding.shape[1])
        for g in self.genes_of(condition):
            i = self._gene_pos.get(g)
            if i is not None:
                p += self.gene_embedding[i]
        return p

    def _fit(self) -> None:
        y = self.train_deltas().T  # genes × perts
        self.centre = y.mean(axis=1)
        yc = y - self.centre[:, None]
        u, s, _ = np.linalg.svd(yc, full_matrices=False)
        k = int(min(self.n_components, max(1, int(np.sum(s > 1e-10 * max(s.max(initial=0.0), 1e-300))))))
        self.gene_embedding = u[:, :k] * s[:k]  # G, genes × K
        pmat = np.stack([self.embed(c) for c in self.train_conditions], axis=1)  # K × perts
        eye = np.eye(k)
        left = np.linalg.solve(self.gene_embedding.T @ self.gene_embedding + self.ridge * eye,
                               self.gene_embedding.T @ yc @ pmat.T)
        self.weights = np.linalg.solve((pmat @ pmat.T + self.ridge * eye).T, left.T).T  # W, K × K

    def _predict_delta(self, condition: str) -> np.ndarray:
        return self.gene_embedding @ (self.weights @ self.embed(condition)) + self.centre
