"""Batched nearest-neighbour primitives in JAX (pairwise distances, k-NN radii, ball counts).

The query set is cut into row blocks and mapped with ``lax.map`` inside one jitted program, so only
a ``(block_rows, N_ref)`` slice of the distance matrix exists at a time: 50k × 50k features fit on
one accelerator (and on a CPU) without materialising the 10 GB matrix. Squared distances come from
``‖a‖² + ‖b‖² − 2 a·b`` on features centred at the reference mean (distances do not change, the
cancellation does), with the matrix product at ``Precision.HIGHEST`` so GPUs do not drop to TF32.
Every public function takes and returns NumPy-compatible arrays and works in float32.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from jaxgan.metrics._checks import as_float32, feature_matrix, same_feature_dim

__all__ = [
    "DEFAULT_BLOCK_ELEMENTS",
    "count_within_radii",
    "kth_neighbour_distances",
    "nearest_neighbours",
    "pairwise_distances",
]

#: Distances held at once per block (2**25 float32 = 128 MiB, plus top-k scratch).
DEFAULT_BLOCK_ELEMENTS = 2**25


def _features(x: np.ndarray | jax.Array, name: str) -> jax.Array:
    return as_float32(feature_matrix(x, name))


def _block_rows(num_reference: int, num_queries: int, max_block_elements: int) -> int:
    rows = max(8, (max_block_elements // max(num_reference, 1)) // 8 * 8)
    return int(min(rows, -(-num_queries // 8) * 8))


def _sq_dists(queries: jax.Array, reference: jax.Array, reference_sq: jax.Array) -> jax.Array:
    cross = jnp.dot(queries, reference.T, precision=jax.lax.Precision.HIGHEST)
    query_sq = jnp.sum(queries * queries, axis=1, keepdims=True)
    return jnp.maximum(query_sq + reference_sq[None, :] - 2.0 * cross, 0.0)


def _centred(reference: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Return the reference mean, the reference minus it, and its rows' squared norms."""
    centre = jnp.mean(reference, axis=0, keepdims=True)
    reference = reference - centre
    return centre, reference, jnp.sum(reference * reference, axis=1)


def _map_blocks(fn, queries: jax.Array, block_rows: int):
    """Apply ``fn`` to row blocks of ``queries`` (padded with zeros) and drop the padding."""
    n = queries.shape[0]
    num_blocks = -(-n // block_rows)
    padded = jnp.pad(queries, ((0, num_blocks * block_rows - n), (0, 0)))
    out = jax.lax.map(fn, padded.reshape(num_blocks, block_rows, queries.shape[1]))
    return jax.tree.map(lambda y: y.reshape((num_blocks * block_rows, *y.shape[2:]))[:n], out)


@partial(jax.jit, static_argnames=("k", "block_rows"))
def _knn_sq(queries: jax.Array, reference: jax.Array, k: int, block_rows: int):
    centre, reference, reference_sq = _centred(reference)

    def block(q):
        neg, idx = jax.lax.top_k(-_sq_dists(q - centre, reference, reference_sq), k)
        return -neg, idx

    return _map_blocks(block, queries, block_rows)


@partial(jax.jit, static_argnames=("strict", "block_rows"))
def _count_sq(queries, reference, radii_sq, strict: bool, block_rows: int):
    centre, reference, reference_sq = _centred(reference)

    def block(q):
        d = _sq_dists(q - centre, reference, reference_sq)
        inside = d < radii_sq[None, :] if strict else d <= radii_sq[None, :]
        return jnp.sum(inside, axis=1, dtype=jnp.int32)

    return _map_blocks(block, queries, block_rows)


def pairwise_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Full Euclidean distance matrix between two small feature sets.

    Args:
        a: array ``(N, d)``.
        b: array ``(M, d)``.

    Returns:
        float32 array ``(N, M)`` with ``‖a_i − b_j‖``. Holds N·M floats: for large sets use the
        blocked functions below.

    Example:
        >>> pairwise_distances(np.zeros((1, 2)), np.array([[3.0, 4.0]])).tolist()
        [[5.0]]

    """
    a, b = _features(a, "a"), _features(b, "b")
    same_feature_dim(a, b)
    centre, b, b_sq = _centred(b)
    return np.sqrt(np.asarray(_sq_dists(a - centre, b, b_sq)))


def nearest_neighbours(
    queries: np.ndarray,
    reference: np.ndarray,
    k: int = 1,
    *,
    max_block_elements: int = DEFAULT_BLOCK_ELEMENTS,
) -> tuple[np.ndarray, np.ndarray]:
    """Find the k nearest reference points of every query, in row blocks.

    Args:
        queries: array ``(N, d)``.
        reference: array ``(M, d)``, M ≥ k.
        k: number of neighbours.
        max_block_elements: distances held at once (sets the block height ``≈ this / M``).

    Returns:
        ``(distances, indices)``, each ``(N, k)``, sorted nearest first; distances are Euclidean
        (float32), indices point into ``reference``.

    Example:
        >>> d, i = nearest_neighbours(np.array([[0.9]]), np.array([[0.0], [1.0], [3.0]]), k=2)
        >>> i.tolist()
        [[1, 0]]

    """
    queries, reference = _features(queries, "queries"), _features(reference, "reference")
    same_feature_dim(queries, reference)
    if not 1 <= k <= reference.shape[0]:
        raise ValueError(f"k must be in [1, {reference.shape[0]}] (the reference size), got {k}")
    rows = _block_rows(reference.shape[0], queries.shape[0], max_block_elements)
    sq, idx = _knn_sq(queries, reference, k=k, block_rows=rows)
    return np.sqrt(np.asarray(sq)), np.asarray(idx)


def kth_neighbour_distances(
    features: np.ndarray, k: int, *, max_block_elements: int = DEFAULT_BLOCK_ELEMENTS
) -> np.ndarray:
    """Distance from every point to its k-th nearest *other* point of the same set.

    The point itself is the 0-th neighbour (distance 0), so this is entry ``k`` of the sorted
    distances, the radius used by improved precision/recall (k=3) and density/coverage (k=5).

    Args:
        features: array ``(N, d)``, N > k.
        k: which neighbour, ≥ 1.
        max_block_elements: distances held at once.

    Returns:
        float32 array ``(N,)`` of radii.

    Example:
        >>> kth_neighbour_distances(np.array([[0.0], [1.0], [3.0]]), k=1).tolist()
        [1.0, 1.0, 2.0]

    """
    features = _features(features, "features")
    if not 1 <= k < features.shape[0]:
        raise ValueError(
            f"k must be in [1, N-1] = [1, {features.shape[0] - 1}], got {k}; "
            "use more samples or a smaller k"
        )
    rows = _block_rows(features.shape[0], features.shape[0], max_block_elements)
    sq, _ = _knn_sq(features, features, k=k + 1, block_rows=rows)
    return np.sqrt(np.asarray(sq)[:, k])


def count_within_radii(
    queries: np.ndarray,
    reference: np.ndarray,
    radii: np.ndarray,
    *,
    strict: bool = False,
    max_block_elements: int = DEFAULT_BLOCK_ELEMENTS,
) -> np.ndarray:
    """How many reference balls ``B(reference_j, radii_j)`` contain each query.

    Args:
        queries: array ``(N, d)``.
        reference: array ``(M, d)``, the ball centres.
        radii: array ``(M,)``, the ball radii.
        strict: count ``distance < radius`` instead of ``distance ≤ radius``.
        max_block_elements: distances held at once.

    Returns:
        int32 array ``(N,)``.

    Example:
        >>> count_within_radii(np.array([[0.5], [5.0]]), np.array([[0.0], [1.0]]),
        ...                    np.array([1.0, 0.5])).tolist()
        [2, 0]

    """
    queries, reference = _features(queries, "queries"), _features(reference, "reference")
    same_feature_dim(queries, reference)
    radii = np.asarray(radii, np.float32)
    if radii.shape != (reference.shape[0],):
        raise ValueError(
            f"radii must have shape ({reference.shape[0]},) (one per reference "
            f"point), got {radii.shape}"
        )
    rows = _block_rows(reference.shape[0], queries.shape[0], max_block_elements)
    return np.asarray(_count_sq(queries, reference, radii * radii, strict=strict, block_rows=rows))
