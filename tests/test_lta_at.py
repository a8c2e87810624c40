"""LTA results at chosen covariate values (issue 25 item 6): ``transition_matrices(fit, at=...)``,
``class_proportions_by_time(fit, at=...)``.

- oracle: at the ML estimates, eq. 8-9 written in numpy (softmax of the initial
  and transition logits at x, the chain propagated) equal the tables exactly
  (T = 3, per-step transitions, two covariates);
- identity: the model-implied population quantities (``kind="model"``) are the
  average over the units of the quantities at their own covariates -- the
  proportions directly, the transitions weighted by P(C_{t-1} = j | x_i) --
  with and without classroom random intercepts (also with cluster covariates),
  and for a non-Markov chain;
- ML SEs are positive and the Wald interval holds the estimate; a Laplace
  posterior's intervals hold its mean, which is near the ML estimate;
- bad ``at`` fails with a ValueError naming the covariates.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit, softmax

import bayesmix as bm
from bayesmix.families.lta.results import covariate_rows

PROFILES = np.array([[0.85, 0.8, 0.9, 0.7, 0.75], [0.15, 0.2, 0.1, 0.3, 0.25]])


def simulate(n: int, n_times: int, seed: int, n_clusters: int | None = None) -> tuple[pd.DataFrame, dict]:
    """Binary-item LTA data (K = 2) with a smoker indicator and a standardized age on every logit."""
    rng = np.random.default_rng(seed)
    smoker = rng.integers(0, 2, n).astype(float)
    age = rng.normal(0.0, 1.0, n)
    room = rng.integers(0, n_clusters, n) if n_clusters else np.zeros(n, int)
    shift = rng.normal(0.0, 0.8, n_clusters or 1)[room]
    first = rng.random(n) < expit(0.3 + 0.8 * smoker + shift)
    classes = [np.where(first, 0, 1)]
    for _ in range(1, n_times):
        logit = np.where(classes[-1] == 0, 2.5, -1.5) - 1.0 * smoker + 0.3 * age + shift
        classes.append(np.where(rng.random(n) < expit(logit), 0, 1))
    data = {"smoker": smoker, "age": age, "room": room, "room_x": (np.arange(n_clusters or 1) % 2)[room]}
    for t in range(n_times):
        for i in range(PROFILES.shape[1]):
            data[f"y{i}_t{t + 1}"] = (rng.random(n) < PROFILES[classes[t], i]).astype(float)
    by_time = {f"t{t + 1}": [f"y{i}_t{t + 1}" for i in range(PROFILES.shape[1])] for t in range(n_times)}
    return pd.DataFrame(data), by_time


def numpy_chain(point: dict, x: np.ndarray, alpha: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Eq. 8-9 at covariate rows x (R, P): P(C_t = k | x) (R, T, K) and P(C_t = k | C_t-1 = j, x) (R, T-1, K, K).

    ``alpha``: random intercepts (T, K-1) added to the free logits of time t (eq. 12-13).
    """
    a, b = np.asarray(point["class_intercept"]), np.asarray(point["class_slope"])
    tau, g = np.asarray(point["transition_logit"]), np.asarray(point["transition_slope"])
    alpha = np.zeros((tau.shape[0] + 1, len(a))) if alpha is None else alpha
    out_m, out_t = [], []
    for row in np.atleast_2d(x):
        initial = softmax(np.append(a + row @ b + alpha[0], 0.0))
        marg, trans = [initial], []
        for s in range(tau.shape[0]):
            free = tau[s] + (row @ g[s] + alpha[s + 1])[None, :]  # (K, K-1)
            matrix = softmax(np.concatenate([free, np.zeros((free.shape[0], 1))], axis=1), axis=1)
            trans.append(matrix)
            marg.append(marg[-1] @ matrix)
        out_m.append(marg)
        out_t.append(trans)
    return np.array(out_m), np.array(out_t)


@pytest.fixture(scope="module")
def three_times():
    data, by_time = simulate(300, 3, seed=3)
    m = bm.lta(data, by_time, n_classes=2, covariates=["smoker", "age"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ml = m.fit_ml(starts=(4, 2), seed=1)
    return data, m, ml


def test_at_equals_numpy_eq8_eq9_at_the_ml_estimates(three_times):
    data, m, ml = three_times
    at = {"smoker": [0, 1], "age": [-1.0, 0.5]}
    trans = m.transition_matrices(ml, at=at)
    props = m.class_proportions_by_time(ml, at=at)
    rows = covariate_rows(m, at)
    assert rows.to_numpy().tolist() == [[0, -1.0], [0, 0.5], [1, -1.0], [1, 0.5]]  # product, covariate order
    assert trans.index.names == ["smoker", "age", "transition", "from", "to"]
    assert props.index.names == ["smoker", "age", "time", "class"]
    marg, matrices = numpy_chain(ml.point, rows.to_numpy(float))
    np.testing.assert_allclose(trans["estimate"].to_numpy().reshape(matrices.shape), matrices, rtol=0, atol=1e-10)
    np.testing.assert_allclose(props["estimate"].to_numpy().reshape(marg.shape), marg, rtol=0, atol=1e-10)
    # the smokers' matrix differs from the non-smokers' (slope estimated away from 0)
    assert not np.allclose(trans.xs(0.0, level="smoker")["estimate"], trans.xs(1.0, level="smoker")["estimate"])
    for table in (trans, props):
        assert (table["se"] > 0).all() and np.isfinite(table["se"]).all() and (table["se_robust"] > 0).all()
        assert ((table["lower"] < table["estimate"]) & (table["estimate"] < table["upper"])).all()
    # a DataFrame of rows gives the same numbers; a dict of scalars is one row
    frame = m.transition_matrices(ml, at=rows.iloc[[2]])
    np.testing.assert_allclose(frame["estimate"], trans.xs((1.0, -1.0), level=["smoker", "age"])["estimate"],
                               atol=1e-12)
    single = m.class_proportions_by_time(ml.point, at={"smoker": 1, "age": 0.5})
    np.testing.assert_allclose(single["estimate"], marg[3].ravel(), atol=1e-10)


def _model_identity(m, fit):
    """kind='model' vs the units' own covariates given as ``at``: proportions averaged, transitions weighted."""
    rows = m.data.frame[m.class_model.covariate_names]
    k, n_times = m.n_classes, m.n_times
    props_at = m.class_proportions_by_time(fit, at=rows)["estimate"].to_numpy().reshape(len(rows), n_times, k)
    trans_at = m.transition_matrices(fit, at=rows)["estimate"].to_numpy().reshape(len(rows), n_times - 1, k, k)
    props = m.class_proportions_by_time(fit)["estimate"].to_numpy().reshape(n_times, k)
    trans = m.transition_matrices(fit)["estimate"].to_numpy().reshape(n_times - 1, k, k)
    np.testing.assert_allclose(props_at.mean(axis=0), props, rtol=0, atol=1e-10)
    joint = props_at[:, :-1, :, None] * trans_at  # E[P(C_t-1 = j, C_t = k | x, alpha)] per row
    np.testing.assert_allclose(joint.sum(axis=0) / props_at[:, :-1].sum(axis=0)[..., None], trans, rtol=0,
                               atol=1e-10)


def test_at_the_sample_covariates_averages_to_the_population_quantities(three_times):
    data, m, ml = three_times
    _model_identity(m, ml.point)


def _random_point(m, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    out = {}
    for name, v in m.random_start(rng).items():
        v = np.asarray(v, dtype=float)
        out[name] = rng.uniform(0.5, 1.5, size=v.shape) if name == "random_sd" else v + rng.normal(0, 0.6, v.shape)
    return out


def numpy_expected(m, point: dict, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """E over the random intercepts (the model's nodes; every cluster's w weighted by its units) of eq. 8-9 at x."""
    from bayesmix.results import draw_function
    nodes, logw = m.rule()
    graph = m.latent.values(np.asarray(nodes)[:, None, :])  # (Q, J, D): the model's alpha at the nodes
    fn = draw_function(m, "test:alpha-at-nodes", [graph])
    values = {**point, m.latent.z_name: np.zeros((m.latent.n_levels, m.latent.n_dims))}
    (u,) = fn(*[np.asarray(values[rv.name], dtype=float) for rv in m.model.free_RVs])
    u = np.asarray(u).reshape(len(nodes), m.latent.n_levels, m.n_times, m.n_classes - 1)
    cluster_w = np.bincount(m.structure.cluster_index) / m.data.n_units
    marg, joint = 0.0, 0.0
    for q, wq in enumerate(np.exp(logw)):
        for j, wj in enumerate(cluster_w):
            mq, tq = numpy_chain(point, x, u[q, j])
            marg = marg + wq * wj * mq
            joint = joint + wq * wj * mq[:, :-1, :, None] * tq
    return marg, joint / joint.sum(axis=-1, keepdims=True)


@pytest.mark.parametrize("options", [
    {"random_form": "cholesky"},
    {"random_form": "structural"},
    {"random_form": "diagonal", "cluster_covariates": ["room_x"]},
], ids=["cholesky", "structural", "diagonal+cluster_covariates"])
def test_random_intercepts_average_over_their_distribution(options):
    """With random intercepts, E over alpha at x: equal to a numpy sum over the quadrature nodes (and clusters,
    with cluster covariates); without cluster covariates, averaged over the units it is kind='model'."""
    data, by_time = simulate(60, 2, seed=5, n_clusters=6)
    m = bm.lta(data, by_time, n_classes=2, covariates=["smoker", "age"], cluster="room", random_intercepts=True,
               integration={"method": "gauss-hermite", "points": 5}, **options)
    point = _random_point(m, seed=2)
    at = {"smoker": [0.0, 1.0], "age": [0.0]}
    x = covariate_rows(m, at).to_numpy(float)
    marg, matrices = numpy_expected(m, point, x)
    trans = m.transition_matrices(point, at=at)["estimate"].to_numpy()
    np.testing.assert_allclose(trans.reshape(matrices.shape), matrices, rtol=0, atol=1e-10)
    props = m.class_proportions_by_time(point, at=at)["estimate"].to_numpy()
    np.testing.assert_allclose(props.reshape(marg.shape), marg, rtol=0, atol=1e-10)
    # not the fixed-effects softmax at alpha = 0: the random intercepts are averaged over
    assert not np.allclose(trans, numpy_chain(point, x)[1].ravel(), atol=1e-3)
    if "cluster_covariates" not in options:
        # (with cluster covariates the units' x and their clusters' w go together in kind='model', while at=
        # averages every cluster's alpha at each x)
        _model_identity(m, point)


def test_non_markov_chain_at_covariates():
    data, by_time = simulate(80, 3, seed=7)
    m = bm.lta(data, by_time, n_classes=2, covariates=["smoker"], markov=False)
    point = _random_point(m, seed=4)
    _model_identity(m, point)


def test_laplace_intervals_at_covariates(three_times):
    data, m, ml = three_times
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        laplace = m.fit_laplace(draws=300, starts=(4, 2), seed=1)
    at = {"smoker": [0, 1], "age": 0.0}
    draws = m.transition_matrices(laplace, at=at, ci_prob=0.9)
    assert list(draws.columns) == ["estimate", "sd", "lower", "upper", "mean"]   # "mean": the old name, one release
    np.testing.assert_array_equal(draws["mean"], draws["estimate"])
    assert (draws["sd"] > 0).all()
    assert ((draws["lower"] < draws["mean"]) & (draws["mean"] < draws["upper"])).all()
    point = m.transition_matrices(ml, at=at)
    # the Laplace posterior is centred near the mode; its sd near the delta-method SE
    assert (np.abs(draws["mean"] - point["estimate"]) < 2 * point["se"]).all()
    np.testing.assert_allclose(draws["sd"], point["se"], rtol=0.5)
    props = m.class_proportions_by_time(laplace, at=at)
    np.testing.assert_allclose(props["mean"].groupby(level=["smoker", "age", "time"]).sum(), 1.0, atol=1e-12)


def test_bad_at_fails_with_a_message(three_times):
    data, m, ml = three_times
    cases = [
        ({"smoker": [0, 1]}, r"no value for the covariate\(s\) \['age'\]"),
        ({"smoker": 0, "age": 0, "weight": 1}, r"\['weight'\], which are not covariates"),
        (pd.DataFrame({"smoker": [0.0]}), r"\['age'\]"),
        (pd.DataFrame({"smoker": [0.0], "age": [0.0], "id": [1]}), r"\['id'\], which are not covariates"),
        ({"smoker": [], "age": 0}, r"at\['smoker'\] is empty"),
        ({"smoker": ["yes"], "age": 0}, "non-numeric"),
        ({"smoker": [np.nan], "age": 0}, "finite"),
        ([0, 1], "at must be a dict"),
    ]
    for at, message in cases:
        with pytest.raises(ValueError, match=message):
            m.transition_matrices(ml, at=at)
    with pytest.raises(ValueError, match="kind='model'"):
        m.class_proportions_by_time(ml, at={"smoker": 0, "age": 0}, kind="posterior")
    plain = bm.lta(data, {t: v for t, v in m.items_by_time.items()}, n_classes=2)
    with pytest.raises(ValueError, match="has none"):
        plain.transition_matrices(ml.point, at={"smoker": 0})
