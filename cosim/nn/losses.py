"""Loss functions: value and gradient with respect to the network output."""

from __future__ import annotations

import numpy as np

from cosim.errors import ConfigError


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax ``exp(z_k - max z) / sum_j exp(z_j - max z)``; (N, K) -> (N, K)."""
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def softmax_cross_entropy(logits: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean softmax cross-entropy and its gradient.

    ``L = -(1/N) sum_n log softmax(z_n)[y_n]``, ``dL/dz = (softmax(z) - onehot(y)) / N``
    (Goodfellow et al., *Deep Learning*, 2016, Sec. 6.2.2.3).

    Parameters
    ----------
    logits : ndarray, shape (N, K)
        Network outputs (dimensionless).
    labels : ndarray of int, shape (N,)
        Class indices in ``[0, K)``.

    Returns
    -------
    loss : float
        Mean loss, nats.
    dlogits : ndarray, shape (N, K)
    """
    logits = np.asarray(logits)
    labels = np.asarray(labels)
    if logits.ndim != 2 or labels.shape != (logits.shape[0],):
        raise ConfigError(f"softmax_cross_entropy needs logits (N, K) and labels (N,), got "
                          f"{logits.shape} and {labels.shape}")
    if not np.issubdtype(labels.dtype, np.integer):
        raise ConfigError(f"labels must be integers, got dtype {labels.dtype}")
    k = logits.shape[1]
    if labels.size and (labels.min() < 0 or labels.max() >= k):
        raise ConfigError(f"labels must lie in [0, {k}) for {k} outputs, got range "
                          f"[{labels.min()}, {labels.max()}]")
    n = logits.shape[0]
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    s = e.sum(axis=1, keepdims=True)
    rows = np.arange(n)
    loss = float(np.mean(np.log(s[:, 0]) - z[rows, labels]))
    dlogits = e / s
    dlogits[rows, labels] -= 1.0
    return loss, dlogits / n


LOSSES = {"softmax_cross_entropy": softmax_cross_entropy}
"""Loss functions by name: ``f(outputs, labels) -> (loss, d loss / d outputs)``."""
