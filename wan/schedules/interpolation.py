"""Filling the frames between keyframes: Deforum's Linear, Quadratic and Cubic in-betweens.

Deforum fills the gaps of a pandas Series with `Series.interpolate(method=...)`, which for
`quadratic` / `cubic` fits scipy's interpolating B-spline of that degree through every known
value. This module computes the same curves with numpy alone (the core package does not
depend on pandas or scipy): the same knot vectors as scipy's `make_interp_spline` (not-a-knot
for cubic, midpoint knots for quadratic), a banded collocation solve, and de Boor evaluation.
"""

from __future__ import annotations

import numpy as np

INTERPOLATIONS = ("Linear", "Quadratic", "Cubic")
_DEGREE = {"Linear": 1, "Quadratic": 2, "Cubic": 3}


def normalize_interpolation(name: str) -> str:
    """Return the canonical spelling of an interpolation name, or raise ValueError."""
    for option in INTERPOLATIONS:
        if isinstance(name, str) and name.strip().lower() == option.lower():
            return option
    raise ValueError(f"interpolation must be one of {', '.join(INTERPOLATIONS)} (got {name!r})")


def effective_interpolation(name: str, keyframe_count: int, known_points: int) -> str:
    """Deforum's fallback: Cubic needs more than 3 keyframes, Quadratic more than 2.

    A spline also needs degree + 1 known points; where keyframes outside the animation leave
    fewer (Deforum would crash inside scipy), the degree drops further.
    """
    if name == "Cubic" and keyframe_count <= 3:
        name = "Quadratic"
    if name == "Quadratic" and keyframe_count <= 2:
        name = "Linear"
    while name != "Linear" and known_points < _DEGREE[name] + 1:
        name = INTERPOLATIONS[_DEGREE[name] - 2]
    return name


def fill_gaps(values: np.ndarray, method: str) -> np.ndarray:
    """Replace the NaNs of `values` by interpolating the known points; both ends must be known."""
    known = ~np.isnan(values)
    if known.all():
        return values
    x = np.flatnonzero(known).astype(np.float64)
    y = values[known]
    frames = np.arange(len(values), dtype=np.float64)
    if method == "Linear" or len(x) < 2:
        filled = np.interp(frames, x, y)
    else:
        filled = _spline(x, y, _DEGREE[method], frames)
    filled[known] = y  # keep known values bit-exact
    return filled


def _knots(x: np.ndarray, k: int) -> np.ndarray:
    # quadratic: midpoints without the 2nd and 2nd-to-last (scipy's choice); cubic: not-a-knot
    midpoints = ((x[1:] + x[:-1]) / 2.0)[1:-1]
    interior = midpoints if k == 2 else x[(k - 1) // 2 + 1 : -((k - 1) // 2) - 1]
    return np.concatenate([np.repeat(x[0], k + 1), interior, np.repeat(x[-1], k + 1)])


def _spans(t: np.ndarray, k: int, n_basis: int, xs: np.ndarray) -> np.ndarray:
    span = np.searchsorted(t, xs, side="right") - 1
    return np.clip(span, k, n_basis - 1)


def _basis(t: np.ndarray, k: int, xs: np.ndarray, span: np.ndarray) -> np.ndarray:
    """Values of the k+1 B-splines that are non-zero at each x (Cox-de Boor, vectorised)."""
    n = len(xs)
    out = np.zeros((n, k + 1))
    out[:, 0] = 1.0
    left = np.zeros((n, k + 1))
    right = np.zeros((n, k + 1))
    for j in range(1, k + 1):
        left[:, j] = xs - t[span + 1 - j]
        right[:, j] = t[span + j] - xs
        saved = np.zeros(n)
        for r in range(j):
            temp = out[:, r] / (right[:, r + 1] + left[:, j - r])
            out[:, r] = saved + right[:, r + 1] * temp
            saved = left[:, j - r] * temp
        out[:, j] = saved
    return out


def _solve_banded(band: list[list[float]], rhs: list[float], k: int) -> list[float]:
    """Solve a system whose row i is stored as band[i][k + (j - i)] for |j - i| <= k.

    B-spline collocation matrices are totally positive, so elimination needs no pivoting.
    """
    n = len(rhs)
    for i in range(n):
        pivot_row = band[i]
        pivot = pivot_row[k]
        for r in range(1, min(k, n - 1 - i) + 1):
            row = band[i + r]
            factor = row[k - r] / pivot
            if factor == 0.0:
                continue
            for c in range(k + 1):
                row[k - r + c] -= factor * pivot_row[k + c]
            rhs[i + r] -= factor * rhs[i]
    solution = [0.0] * n
    for i in range(n - 1, -1, -1):
        acc = rhs[i]
        row = band[i]
        for c in range(1, min(k, n - 1 - i) + 1):
            acc -= row[k + c] * solution[i + c]
        solution[i] = acc / row[k]
    return solution


def _spline(x: np.ndarray, y: np.ndarray, k: int, xs: np.ndarray) -> np.ndarray:
    t = _knots(x, k)
    n = len(x)
    span = _spans(t, k, n, x)
    rows = _basis(t, k, x, span)
    band = [[0.0] * (2 * k + 1) for _ in range(n)]
    for i in range(n):
        first = int(span[i]) - k
        for c in range(k + 1):
            band[i][k + first + c - i] = float(rows[i, c])
    coefficients = np.asarray(_solve_banded(band, [float(v) for v in y], k))
    query_span = _spans(t, k, n, xs)
    weights = _basis(t, k, xs, query_span)
    index = query_span[:, None] - k + np.arange(k + 1)[None, :]
    return np.einsum("ij,ij->i", weights, coefficients[index])
