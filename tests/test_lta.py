"""Latent transition analysis (issue 8): ``bm.lta``, ``structure.ChainClasses``, ``results_lta``.

- oracle: the model's forward-algorithm log-likelihood, smoothed / pairwise /
  path posteriors and Viterbi paths equal brute-force enumeration of the K^T
  paths of a joint density written from eq. 1, 8, 9 in numpy (T = 3, K = 3,
  binary + ordinal items, missing cells, a missing middle occasion, a unit
  seen only at time 1, a covariate on initial and transition logits); also
  markov=False and the two-level conditional log-likelihood with eq. 15's
  random intercepts at given z;
- ML on the bundled ``sai_lta`` equals an independent numpy EM (K = 2, 3);
  K = 2 has 13 parameters;
- nesting by ML: time-specific >= invariant measurement; LTA with free
  measurement >= the two single-occasion LCAs added; non-Markov >= Markov (T = 3);
- label alignment: a relabeled copy of a solution (the same model) is mapped
  back by ``inference/labels.py``, transition logits included;
- recovery on data simulated from the section 4 design (Table 1 profiles,
  P(C_1 = 1) = 0.46, switching 7% / 18%): single-level ML and NUTS, and
  two-level ML (40 classrooms of 25: enough to estimate Var(alpha_1)
  within its SE, small enough for CI) with a short NUTS run.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from marginal_oracle import check_marginal, enumerate_expectation, enumerate_mode
from scipy.special import expit, log_softmax, logsumexp

import bayesmix as bm
from bayesmix import _compile
from bayesmix.datasets.simulate_lta import TABLE1_PROFILES, simulate_lta
from bayesmix.families.lta import long_to_wide, wide_to_long
from bayesmix.results import draw_function
from bayesmix.structure import ChainClasses
from bayesmix.structure.chain import paths

ATOL = 1e-9
SAI_ITEMS = ["tense", "worrying", "anxious", "nervous", "jittery"]
SAI_BY_TIME = {"t1": [f"{i}_t1" for i in SAI_ITEMS], "t2": [f"{i}_t2" for i in SAI_ITEMS]}


def evaluate_at(m, outputs, values: dict, key: str):
    """Graphs of the model's free RVs evaluated at constrained ``values`` (by name)."""
    fn = draw_function(m, key, outputs)
    return fn(*[np.asarray(values[rv.name], dtype=float) for rv in m.model.free_RVs])


def random_values(m, seed: int) -> dict:
    """Parameter values away from any symmetry: random starts plus noise (slopes non-zero)."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, v in m.random_start(rng).items():
        v = np.asarray(v, dtype=float)
        if name == "random_sd":
            out[name] = rng.uniform(0.5, 1.5, size=v.shape)
        else:
            out[name] = v + rng.normal(0.0, 0.6, size=v.shape)
    if m.latent is not None:  # the standardized effects are inputs of the compiled graphs too
        out[m.latent.z_name] = np.zeros((m.latent.n_levels, m.latent.n_dims))
    return out


# ======================================================================== oracle (T = 3, K = 3)

TIMES = ["t1", "t2", "t3"]


def tiny_frame(seed: int = 0) -> tuple[pd.DataFrame, dict]:
    """8 units, 3 times: binary a, b and ordinal o (codes 1-3) per time; x a covariate; 2 clusters.

    Unit 0 misses the middle occasion entirely, unit 1 is seen only at time 1,
    a few other cells are missing.
    """
    rng = np.random.default_rng(seed)
    n = 8
    frame = {}
    for t in TIMES:
        frame[f"a_{t}"] = rng.permutation([0, 1] * (n // 2)).astype(float)
        frame[f"b_{t}"] = rng.permutation([0, 1] * (n // 2)).astype(float)
        frame[f"o_{t}"] = rng.permutation([1, 2, 3, 3, 2, 1, 2, 3][:n]).astype(float)
    frame = pd.DataFrame(frame)
    frame.loc[0, ["a_t2", "b_t2", "o_t2"]] = np.nan  # missing occasion in the middle
    frame.loc[1, ["a_t2", "b_t2", "o_t2", "a_t3", "b_t3", "o_t3"]] = np.nan  # seen only at time 1
    frame.loc[3, "b_t1"] = np.nan
    frame.loc[5, "o_t3"] = np.nan
    frame["x"] = rng.normal(size=n)
    frame["room"] = ["r1", "r2"] * (n // 2)
    by_time = {t: [f"a_{t}", f"b_{t}", f"o_{t}"] for t in TIMES}
    return frame, by_time


class NumpyLTA:
    """The joint log p(y_i, C_1..C_T) of one unit, written from eq. 1, 8, 9 (and 15) in numpy."""

    def __init__(self, frame, by_time, values, k, invariant=True, lag=False):
        self.frame, self.by_time, self.v, self.k = frame, by_time, values, k
        self.invariant, self.lag = invariant, lag

    def _free_to_log_probs(self, free):
        return log_softmax(np.append(free, 0.0))

    def emission(self, i, t, c):
        cols = self.by_time[TIMES[t]]
        col_index = 0 if self.invariant else t  # time-specific: each time's own parameter columns
        out = 0.0
        for p, name in enumerate(cols[:2]):  # binary a, b: P(y = 1 | c) = expit(beta_cp)
            y = self.frame.loc[i, name]
            if np.isnan(y):
                continue
            beta = self.v["binary_logit"][c, (2 * col_index + p) if not self.invariant else p]
            out += np.log(expit(beta)) if y == 1 else np.log(expit(-beta))
        y = self.frame.loc[i, cols[2]]
        if not np.isnan(y):  # ordinal o: P(y <= j | c) = expit(tau_cj), tau_c2 = tau_c1 + exp(gap)
            item = 0 if self.invariant else t
            first = self.v["ordinal_first_threshold"][c, item]
            tau = np.array([first, first + np.exp(self.v["ordinal_log_gap"][c, item])])
            cdf = np.concatenate([[0.0], expit(tau), [1.0]])
            j = int(y) - 1
            out += np.log(cdf[j + 1] - cdf[j])
        return out

    def joint(self, i, alpha=None):
        x = self.frame.loc[i, "x"]
        a = self.v["class_intercept"] + x * self.v["class_slope"][0]
        if alpha is not None:
            a = a + alpha[0]

        def logp(c):
            total = self._free_to_log_probs(a)[c[0]] + self.emission(i, 0, c[0])
            for t in range(1, len(TIMES)):
                free = self.v["transition_logit"][t - 1, c[t - 1]] + x * self.v["transition_slope"][t - 1, 0]
                if self.lag and t == 2:  # effect of C_1 on C_3, last class of C_1 the reference
                    if c[0] < self.k - 1:
                        free = free + self.v["transition_lag_effect"][0, c[0]]
                if alpha is not None:
                    free = free + alpha[t]
                total += self._free_to_log_probs(free)[c[t]] + self.emission(i, t, c[t])
            return total

        return logp


def _transitions_statistic(k):
    def statistic(c):
        out = np.zeros((len(TIMES) - 1, k, k))
        for t in range(len(TIMES) - 1):
            out[t, c[t], c[t + 1]] = 1.0
        return out
    return statistic


@pytest.fixture(scope="module")
def tiny():
    return tiny_frame()


@pytest.mark.parametrize("invariant", [True, False])
def test_forward_algorithm_matches_enumeration(tiny, invariant):
    frame, by_time = tiny
    k = 3
    m = bm.lta(frame, by_time, n_classes=k, covariates=["x"], invariant_measurement=invariant,
               item_types={c: "ordinal" for t in TIMES for c in by_time[t] if c.startswith("o")})
    assert isinstance(m.structure, ChainClasses) and m.structure.markov
    values = random_values(m, seed=3)
    s = m.structure
    ll, post, pairs, path_post, li, lt, em = evaluate_at(
        m, [s.unit_loglik(), s.time_posterior(), s.pairwise_posterior(), s.path_posterior(),
            s.log_initial_at(None), s.log_transition_at(None), s.emission_at(None)], values, f"oracle{invariant}")
    oracle = NumpyLTA(frame, by_time, values, k, invariant=invariant)
    space = {"c": ((len(TIMES),), k)}
    all_paths = paths(k, len(TIMES))
    from bayesmix.marginal import chain
    viterbi = chain.viterbi(li, lt, em)
    for i in range(len(frame)):
        joint = lambda c, i=i: oracle.joint(i)(c)  # noqa: E731
        check_marginal(ll[i], joint, space, posteriors={"c": post[i]}, atol=ATOL)
        np.testing.assert_allclose(pairs[i], enumerate_expectation(joint, space, _transitions_statistic(k)), atol=ATOL)
        exact_paths = [np.exp(joint(c) - logsumexp([joint(q) for q in all_paths])) for c in all_paths]
        np.testing.assert_allclose(path_post[i], exact_paths, atol=ATOL)
        np.testing.assert_array_equal(viterbi[i], enumerate_mode(joint, space)["c"])
    # the unit seen only at time 1 contributes its time-1 latent class marginal, nothing else
    first = np.array([oracle._free_to_log_probs(values["class_intercept"] + frame.loc[1, "x"]
                                                * values["class_slope"][0])[c] + oracle.emission(1, 0, c)
                      for c in range(k)])
    np.testing.assert_allclose(ll[1], logsumexp(first), atol=ATOL)
    # the model's potential is the sum of these per-unit values
    total = evaluate_at(m, [m.model.potentials[0]], values, f"potential{invariant}")[0]
    np.testing.assert_allclose(total, ll.sum(), atol=1e-8)


def test_non_markov_chain_matches_enumeration(tiny):
    frame, by_time = tiny
    k = 3
    m = bm.lta(frame, by_time, n_classes=k, covariates=["x"], markov=False,
               item_types={c: "ordinal" for t in TIMES for c in by_time[t] if c.startswith("o")})
    assert not m.structure.markov
    assert list(m.model.coords["lag"]) == ["t1->t3"]
    values = random_values(m, seed=5)
    s = m.structure
    ll, post, pairs = evaluate_at(m, [s.unit_loglik(), s.time_posterior(), s.pairwise_posterior()], values, "lag")
    oracle = NumpyLTA(frame, by_time, values, k, lag=True)
    space = {"c": ((len(TIMES),), k)}
    for i in range(len(frame)):
        joint = lambda c, i=i: oracle.joint(i)(c)  # noqa: E731
        check_marginal(ll[i], joint, space, posteriors={"c": post[i]}, atol=ATOL)
        np.testing.assert_allclose(pairs[i], enumerate_expectation(joint, space, _transitions_statistic(k)), atol=ATOL)


def test_two_level_conditional_loglik_matches_enumeration(tiny, monkeypatch):
    """Cluster log-likelihood at given z = sum of its units' enumerated marginals with eq. 15's alpha_tj.

    Evaluated once, with Python thunks (``BAYESMIX_COMPILE_MODE=PY``): the value is what is checked, and on an
    empty compile cache the C build of this graph was 77 modules, ~57 CPU-s of g++ for one evaluation
    (benchmarks/README.md, "night" round; benchmarks/results/suite_fast_ab_20261207.csv).
    """
    monkeypatch.setattr(_compile, "_SETTING", "PY")
    frame, by_time = tiny
    k = 3
    m = bm.lta(frame, by_time, n_classes=k, covariates=["x"], cluster="room", random_intercepts=True,
               random_form="structural",
               item_types={c: "ordinal" for t in TIMES for c in by_time[t] if c.startswith("o")})
    labels = list(m.model.coords["class_time"])
    assert labels == [f"{t}:class{c}" for t in TIMES for c in (1, 2)]
    values = random_values(m, seed=7)
    z = np.random.default_rng(8).normal(size=(2, len(labels)))
    (cluster_ll,) = evaluate_at(m, [m.structure.conditional_loglik(z)], values, "two-level")
    sd, beta = values["random_sd"], values["random_regression"]
    oracle = NumpyLTA(frame, by_time, values, k)
    space = {"c": ((len(TIMES),), k)}
    clusters = list(m.data.clusters)
    expected = np.zeros(len(clusters))
    for j, room in enumerate(clusters):
        e = (sd * z[j]).reshape(len(TIMES), k - 1)
        alpha = [e[0]]
        for t in range(1, len(TIMES)):  # eq. 15: alpha_tk = beta_tk alpha_(t-1)k + e_tk
            alpha.append(beta[(t - 1) * (k - 1):t * (k - 1)] * alpha[-1] + e[t])
        for i in np.flatnonzero(frame["room"].to_numpy() == room):
            joint = lambda c, i=i: oracle.joint(i, alpha)(c)  # noqa: E731
            expected[j] += logsumexp([joint(c) for c in paths(k, len(TIMES))])
    np.testing.assert_allclose(cluster_ll, expected, atol=1e-8)


# ======================================================================== sai_lta: ML vs numpy EM

def numpy_em(y1, y2, k, starts=30, seed=0, tol=1e-11, max_iter=20000):
    """Independent EM for an invariant binary LTA with two occasions (no missing data).

    Returns the best (loglik, pi, A, rho) over random starts and how many starts reached it.
    """
    rng = np.random.default_rng(seed)
    best, values = None, []
    for _ in range(starts):
        pi = rng.dirichlet(np.ones(k))
        a = rng.dirichlet(np.ones(k), size=k)
        rho = rng.uniform(0.15, 0.85, size=(k, y1.shape[1]))
        old = -np.inf
        for _ in range(max_iter):
            lr, l1r = np.log(rho), np.log1p(-rho)
            e1 = y1 @ lr.T + (1 - y1) @ l1r.T
            e2 = y2 @ lr.T + (1 - y2) @ l1r.T
            log_joint = np.log(pi)[None, :, None] + e1[:, :, None] + np.log(a)[None] + e2[:, None, :]
            unit = logsumexp(log_joint, axis=(1, 2))
            ll = unit.sum()
            pair = np.exp(log_joint - unit[:, None, None])
            p1, p2 = pair.sum(2), pair.sum(1)
            pi = p1.mean(0)
            a = pair.sum(0) / pair.sum(0).sum(1, keepdims=True)
            rho = (p1.T @ y1 + p2.T @ y2) / (p1.sum(0) + p2.sum(0))[:, None]
            rho = np.clip(rho, 1e-10, 1 - 1e-10)
            if ll - old < tol:
                break
            old = ll
        values.append(ll)
        if best is None or ll > best[0]:
            best = (ll, pi, a, rho)
    values = np.array(values)
    return best, int(np.sum(values > best[0] - 1e-4))


def _match(reference: np.ndarray, other: np.ndarray) -> np.ndarray:
    """Permutation of other's classes (rows) closest to reference's."""
    import itertools
    k = reference.shape[0]
    return np.array(min(itertools.permutations(range(k)),
                        key=lambda p: np.abs(reference - other[list(p)]).sum()))


@pytest.fixture(scope="module")
def sai():
    return bm.datasets.load("sai_lta")


@pytest.mark.parametrize("k, starts", [(2, (10, 3)), (3, (30, 8))])
def test_ml_equals_numpy_em_on_sai_lta(sai, k, starts):
    y1 = sai[SAI_BY_TIME["t1"]].to_numpy(float)
    y2 = sai[SAI_BY_TIME["t2"]].to_numpy(float)
    (ll_em, pi, a, rho), _ = numpy_em(y1, y2, k, starts=30, seed=k)
    m = bm.lta(sai, SAI_BY_TIME, n_classes=k)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # boundary / replication messages are not what this test checks
        ml = m.fit_ml(starts=starts, seed=1)
    assert ml.starts.n_final == starts[1] and "reached by" in str(ml)  # the random-start report is shown
    if k == 2:
        assert ml.n_params == 13  # 10 item logits + 1 initial logit + 2 transition logits
    assert ml.n_params == k * 5 + (k - 1) + k * (k - 1)
    np.testing.assert_allclose(ml.loglik, ll_em, atol=2e-3)
    profile = ml.profiles.xs("estimate", axis=1, level="statistic").to_numpy().T  # (K, items)
    perm = _match(profile, rho)
    np.testing.assert_allclose(profile, rho[perm], atol=5e-3)
    props = m.class_proportions_by_time(ml)["estimate"].to_numpy().reshape(2, k)
    np.testing.assert_allclose(props[0], pi[perm], atol=5e-3)
    matrix = m.transition_matrices(ml)["estimate"].to_numpy().reshape(k, k)
    np.testing.assert_allclose(matrix, a[np.ix_(perm, perm)], atol=5e-3)


# ======================================================================== nesting by ML

def _ml(m, starts=(12, 4), seed=1):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return m.fit_ml(starts=starts, seed=seed)


def test_nesting_on_sai_lta(sai):
    invariant = _ml(bm.lta(sai, SAI_BY_TIME, n_classes=2))
    specific = _ml(bm.lta(sai, SAI_BY_TIME, n_classes=2, invariant_measurement=False))
    lca1 = _ml(bm.lca(sai, SAI_BY_TIME["t1"], n_classes=2))
    lca2 = _ml(bm.lca(sai, SAI_BY_TIME["t2"], n_classes=2))
    assert specific.n_params == invariant.n_params + 10
    assert specific.loglik >= invariant.loglik - 1e-6
    # independence of C_1 and C_2 (equal transition rows) is a special case of the free LTA
    assert specific.loglik >= lca1.loglik + lca2.loglik - 1e-6
    assert specific.loglik > lca1.loglik + lca2.loglik + 100  # the occasions are strongly related


def test_non_markov_nests_markov_with_three_times():
    sim = simulate_lta(600, n_times=3, seed=4)
    markov = _ml(bm.lta(sim.data, sim.items_by_time, n_classes=2))
    general = bm.lta(sim.data, sim.items_by_time, n_classes=2, markov=False)
    assert "transition_lag_effect" in general.model.named_vars
    general_ml = _ml(general)
    assert general_ml.n_params == markov.n_params + 1  # effect of C_1 on C_3 (K = 2)
    assert general_ml.loglik >= markov.loglik - 1e-6
    stationary = _ml(bm.lta(sim.data, sim.items_by_time, n_classes=2, stationary_transitions=True))
    assert stationary.n_params == markov.n_params - 2
    assert markov.loglik >= stationary.loglik - 1e-6


# ======================================================================== label alignment

def _relabeled(values: dict, perm: np.ndarray) -> dict:
    """The same solution with classes renamed: new class c is old class perm[c]."""
    k = len(perm)
    out = dict(values)
    out["binary_logit"] = values["binary_logit"][perm]
    full = np.append(values["class_intercept"], 0.0)[perm]
    out["class_intercept"] = (full - full[-1])[:-1]
    tau = np.concatenate([values["transition_logit"], np.zeros((*values["transition_logit"].shape[:-1], 1))], -1)
    tau = tau[:, perm][:, :, perm]
    out["transition_logit"] = (tau - tau[..., -1:])[..., : k - 1]
    return out


def test_label_alignment_maps_a_relabeled_solution_back(sai):
    import xarray as xr

    from bayesmix.inference.labels import align_labels
    m = bm.lta(sai, SAI_BY_TIME, n_classes=3)
    values = random_values(m, seed=11)
    perm = np.array([2, 0, 1])
    swapped = _relabeled(values, perm)
    s = m.structure
    same = [evaluate_at(m, [s.unit_loglik().sum()], v, "relabel")[0] for v in (values, swapped)]
    np.testing.assert_allclose(same[0], same[1], rtol=1e-12)  # truly the same model
    coords = {n: list(v) for n, v in m.model.coords.items()}
    posterior = xr.Dataset({name: (["chain", "draw", *m.model.named_vars_to_dims[name]],
                                   np.stack([values[name], swapped[name]])[None])
                            for name in values}, coords={**{d: coords[d] for d in
                                                            ("class", "class_free", "transition", "binary_item")},
                                                         "chain": [0], "draw": [0, 1]})
    aligned, changed = align_labels(m, posterior, values)
    assert changed == 1
    for name in values:
        np.testing.assert_allclose(aligned[name].to_numpy()[0, 1], values[name], atol=1e-12, err_msg=name)


# ======================================================================== recovery, section 4 design

@pytest.fixture(scope="module")
def section4():
    return simulate_lta(1500, missing_occasion_rate=0.1, missing_rate=0.02, seed=2024)


@pytest.fixture(scope="module")
def section4_model(section4):
    return bm.lta(section4.data, section4.items_by_time, n_classes=2)


@pytest.fixture(scope="module")
def section4_ml(section4_model):
    return _ml(section4_model, starts=(10, 3))


class Labels:
    """The fitted labeling vs the simulated one (classes found by the profiles of Table 1)."""

    def __init__(self, m, profiles: np.ndarray):
        self.perm = _match(profiles, TABLE1_PROFILES)  # fitted class c is simulated class perm[c]
        self.labels = np.array(m.class_labels)

    def fitted(self, true_class: int) -> str:
        return str(self.labels[int(np.flatnonzero(self.perm == true_class)[0])])

    def truth(self, truth: dict) -> dict:
        """The simulated parameters expressed in the fitted labeling."""
        return _relabeled(truth, self.perm)

    def classes(self, true_classes: np.ndarray) -> np.ndarray:
        """Simulated classes (0-based) as fitted labels."""
        inverse = np.argsort(self.perm)
        return self.labels[inverse[true_classes]]


def test_single_level_ml_recovers_section4(section4, section4_model, section4_ml):
    m, ml = section4_model, section4_ml
    relabel = Labels(m, ml.profiles.xs("estimate", axis=1, level="statistic").to_numpy().T)
    truth = relabel.truth(section4.truth)
    one, two = relabel.fitted(0), relabel.fitted(1)  # the disruptive class and the other
    params = ml.params
    z = []
    for name in ("class_intercept", "transition_logit", "binary_logit"):
        rows = params.loc[[i for i in params.index if i.startswith(name + "[")]]
        z.extend((rows["estimate"].to_numpy() - np.ravel(truth[name])) / rows["se"].to_numpy())
    assert np.max(np.abs(z)) < 3.5, np.round(z, 2)
    table = m.transition_matrices(ml)
    switching = table.loc[("fall->spring", one, two)], table.loc[("fall->spring", two, one)]
    assert switching[0]["lower"] < 0.07 < switching[0]["upper"]
    assert switching[1]["lower"] < 0.18 < switching[1]["upper"]
    props = m.class_proportions_by_time(ml)
    assert abs(props.loc[("fall", one), "estimate"] - 0.46) < 3 * props.loc[("fall", one), "se"]
    assert abs(props.loc[("spring", one), "estimate"] - 0.5242) < 3 * props.loc[("spring", one), "se"]
    # eq. 14: R-squared from gamma and P(C_1 = 1) (for K = 2 both are the same in either labeling)
    effects = m.transition_effects(ml)
    gamma = effects.loc[("fall->spring", "gamma[class1 <- class1]"), "estimate"]
    p = props.loc[("fall", "class1"), "estimate"]
    expected = gamma**2 * p * (1 - p) / (gamma**2 * p * (1 - p) + np.pi**2 / 3)
    np.testing.assert_allclose(effects.loc[("fall->spring", "r_squared"), "estimate"], expected, rtol=1e-10)
    # paths: Viterbi = argmax of the path probabilities; the modal path is the true one for most units
    best = m.most_likely_paths(ml)
    probs = m.path_probabilities(ml)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-10)
    np.testing.assert_allclose(best["probability"], probs.max(axis=1), atol=1e-10)
    true_paths = relabel.classes(section4.classes[m.data.units.to_numpy()])
    assert np.mean((best[["fall", "spring"]].to_numpy() == true_paths).all(1)) > 0.85
    marg = m.time_class_probabilities(ml)
    np.testing.assert_allclose(marg["fall"].to_numpy(), ml.posterior_probabilities.to_numpy(), atol=1e-10)
    # units whose spring occasion is missing still count (N = all rows)
    assert ml.n_obs == len(section4.data)


@pytest.fixture(scope="module")
def section4_nuts(section4_model, section4_ml):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return section4_model.sample(draws=300, tune=300, chains=2, sampler="pymc", random_seed=5,
                                     init=section4_ml, progressbar=False)


def test_single_level_nuts_recovers_section4(section4, section4_model, section4_ml, section4_nuts):
    m, idata = section4_model, section4_nuts
    relabel = Labels(m, section4_ml.profiles.xs("estimate", axis=1, level="statistic").to_numpy().T)
    truth = relabel.truth(section4.truth)
    one, two = relabel.fitted(0), relabel.fitted(1)
    assert int(idata.sample_stats["diverging"].sum()) == 0
    # every truth within 3.5 posterior SDs of the posterior mean (as the ML test's z), for 24 parameters at
    # once: a 99.5% interval per parameter failed by chance (one truth at the 0.17% quantile, z = 2.9) when
    # the start moved by 1e-6 between two paths to the same ML optimum
    for name in ("class_intercept", "transition_logit", "binary_logit"):
        draws = idata.posterior[name].stack(sample=("chain", "draw")).transpose("sample", ...).to_numpy()
        z = (draws.mean(axis=0) - truth[name]) / draws.std(axis=0)
        assert np.max(np.abs(z)) < 3.5, (name, np.round(z, 2))
    # one value per person for LOO
    assert idata.log_likelihood["y"].sizes["unit"] == m.data.n_units
    table = m.transition_matrices(idata)
    assert {"mean", "sd", "lower", "upper"} <= set(table.columns)
    assert table.loc[("fall->spring", one, two), "lower"] < 0.07 < table.loc[("fall->spring", one, two), "upper"]
    rows = table["mean"].groupby(level=["transition", "from"]).sum()
    np.testing.assert_allclose(rows, 1.0, atol=1e-12)
    props = m.class_proportions_by_time(idata, hdi_prob=0.995)
    assert props.loc[("fall", one), "lower"] < 0.46 < props.loc[("fall", one), "upper"]
    sample_share = m.class_proportions_by_time(idata, kind="posterior")
    assert abs(sample_share.loc[("spring", one), "mean"] - np.mean(section4.classes[:, 1] == 0)) < 0.03
    best = m.most_likely_paths(idata)
    assert np.mean((best[["fall", "spring"]].to_numpy() == relabel.classes(section4.classes)).all(1)) > 0.85


# ======================================================================== two-level recovery

@pytest.fixture(scope="module")
def classrooms():
    """40 classrooms x 25 students (section 4 design with eq. 15 random intercepts)."""
    return simulate_lta(1000, n_clusters=40, seed=3)


@pytest.fixture(scope="module")
def classroom_model(classrooms):
    return bm.lta(classrooms.data, classrooms.items_by_time, n_classes=2, cluster=classrooms.cluster,
                  random_intercepts=True, random_form="structural", integration={"points": 10})


def _ml_python(m, starts=(4, 2), seed=1):
    """ML with bayesmix's functions as Python thunks (``BAYESMIX_COMPILE_MODE=PY`` for this fit only).

    At 1,000 units x 10 x 2 x 100 nodes ``auto`` compiles these functions to C: with an empty compile cache (CI)
    g++ took 160 of the 190 CPU s of this fixture and test_two_level_ml_recovers_section4 (issue 26 item 5,
    benchmarks/results/suite_cpu_ab_20261208.csv); the same optimum and standard errors either way.
    """
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_compile, "_SETTING", "PY")
        return _ml(m, starts=starts, seed=seed)


@pytest.fixture(scope="module")
def classroom_ml(classroom_model):
    return _ml_python(classroom_model, starts=(4, 2), seed=1)


def test_two_level_ml_recovers_section4(classrooms, classroom_model, classroom_ml, monkeypatch):
    monkeypatch.setattr(_compile, "_SETTING", "PY")  # the tables below evaluate functions of the fit: no C build
    m, ml = classroom_model, classroom_ml
    relabel = Labels(m, ml.profiles.xs("estimate", axis=1, level="statistic").to_numpy().T)
    truth = relabel.truth(classrooms.truth)  # K = 2: relabeling flips alpha's sign, not its sd or beta
    one, two = relabel.fitted(0), relabel.fitted(1)
    params = ml.params
    checks = {"class_intercept": truth["class_intercept"], "transition_logit": truth["transition_logit"],
              "binary_logit": truth["binary_logit"], "random_sd": truth["random_sd_structural"],
              "random_regression": truth["random_regression"]}
    z = []
    for name, value in checks.items():
        rows = params.loc[[i for i in params.index if i.startswith(name + "[")]]
        z.extend((rows["estimate"].to_numpy() - np.ravel(value)) / rows["se"].to_numpy())
    assert np.max(np.abs(z)) < 3.5, np.round(z, 2)
    assert m.loglik_dim == "cluster"
    table = m.transition_matrices(ml)  # population switching, integrated over the random intercepts
    assert table.loc[("fall->spring", one, two), "lower"] < 0.07 < table.loc[("fall->spring", one, two), "upper"]
    assert table.loc[("fall->spring", two, one), "lower"] < 0.18 < table.loc[("fall->spring", two, one), "upper"]
    shares = m.variance_explained(ml)
    parts = shares.loc[["C2: alpha1", "C2: C1 residual", "C2: alpha2 residual"], "estimate"].sum()
    np.testing.assert_allclose(parts, shares.loc["C2: total", "estimate"], rtol=1e-10)
    assert abs(shares.loc["C1: alpha1", "estimate"] - 0.39) < 3 * shares.loc["C1: alpha1", "se"]
    # the structural (eq. 15) and Cholesky forms are one model for T = 2
    chol = bm.lta(classrooms.data, classrooms.items_by_time, n_classes=2, cluster=classrooms.cluster,
                  random_intercepts=True, integration={"points": 10})
    chol_ml = _ml_python(chol, starts=(4, 2), seed=1)
    np.testing.assert_allclose(chol_ml.loglik, ml.loglik, atol=2e-3)


def test_two_level_nuts_runs_and_keeps_clusters(classroom_model, classroom_ml):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        idata = classroom_model.sample(draws=150, tune=200, chains=2, sampler="pymc", random_seed=1,
                                       init=classroom_ml, progressbar=False)
    assert idata.posterior["random_z"].sizes["cluster"] == 40
    assert idata.log_likelihood["y"].sizes["cluster"] == 40
    regression = idata.posterior["random_regression"].to_numpy().ravel()
    assert np.quantile(regression, 0.0025) < 0.52 < np.quantile(regression, 0.9975)
    props = classroom_model.class_proportions_by_time(idata)["mean"].xs("fall")
    assert abs(min(props) - 0.46) < 0.08  # the class nearest 46% (the disruptive one), either labeling


# ======================================================================== layout helpers and validation

def test_long_wide_round_trip():
    long = pd.DataFrame({"id": [1, 1, 2, 3, 3], "wave": ["w1", "w2", "w1", "w1", "w2"],
                         "a": [0, 1, 1, 0, 0], "b": [1.0, np.nan, 0.0, 1.0, 1.0], "g": [1, 1, 0, 1, 1]})
    wide, by_time = long_to_wide(long, unit="id", time="wave", items=["a", "b"], keep=["g"])
    assert by_time == {"w1": ["a_w1", "b_w1"], "w2": ["a_w2", "b_w2"]}
    assert wide.loc[2, ["a_w2", "b_w2"]].isna().all()  # unit 2 missed wave 2
    back = wide_to_long(wide, by_time, unit="id", keep=["g"], time="wave")
    expected = long.sort_values(["id", "wave"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(back[["id", "wave", "a", "b", "g"]], expected, check_dtype=False)
    with pytest.raises(ValueError, match="more than one row"):
        long_to_wide(pd.concat([long, long.iloc[:1]]), unit="id", time="wave", items=["a"])


@pytest.mark.parametrize("kwargs, message", [
    ({"items_by_time": {"t1": ["tense_t1"]}}, "at least 2"),
    ({"items_by_time": {"t1": ["tense_t1", "anxious_t1"], "t2": ["tense_t2"]}}, "numbers of items differ"),
    ({"items_by_time": {"t1": ["tense_t1"], "t2": ["tense_t1"]}}, "more than one time point"),
    ({"items_by_time": {"t1": ["tense_t1"], "t2": ["nope"]}}, "not in the DataFrame"),
    ({"random_intercepts": True}, "cluster="),
    ({"cluster": "study", "cluster_covariates": ["id"]}, "random_intercepts=True"),
    ({"cluster": "study", "random_intercepts": True, "random_form": "ar1"}, "random_form"),
    ({"markov": "no"}, "markov must be True or False"),
    ({"items_by_time": "tense_t1"}, "dict"),
    ({"ordered": "tense_t2"}, "time-1 items"),
])
def test_bad_input_fails_before_any_model(sai, no_model_building, kwargs, message):
    arguments = {"items_by_time": SAI_BY_TIME, "n_classes": 2, **kwargs}
    with pytest.raises(ValueError, match=message):
        bm.lta(sai, **arguments)


def test_invariant_measurement_needs_the_same_codes(sai, no_model_building):
    data = sai.copy()
    data["tense_t2"] = data["tense_t2"] + 1  # codes 1/2 at time 2, 0/1 at time 1
    with pytest.raises(ValueError, match="same codes"):
        bm.lta(data, SAI_BY_TIME, n_classes=2)


def test_results_refuse_other_models(sai):
    m = bm.lca(sai, SAI_BY_TIME["t1"], n_classes=2)
    from bayesmix.families.lta.results import transition_matrices
    with pytest.raises(ValueError, match="bm.lta"):
        transition_matrices(m, None)


def test_map_laplace_and_one_class(sai):
    m = bm.lta(sai, SAI_BY_TIME, n_classes=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = m.fit_map(starts=4, seed=1)
        laplace = m.fit_laplace(draws=200, starts=4, seed=1)
    point = m.transition_matrices(fit)
    assert list(point.columns) == ["estimate"]
    np.testing.assert_allclose(point["estimate"].groupby(level=["transition", "from"]).sum(), 1.0, atol=1e-12)
    draws = m.transition_matrices(laplace)
    assert {"mean", "sd", "lower", "upper"} <= set(draws.columns)
    # the Laplace posterior is centred at the mode (labels: MAP and Laplace share the model's labeling)
    np.testing.assert_allclose(draws["mean"], point["estimate"], atol=0.03)
    one = bm.lta(sai, SAI_BY_TIME, n_classes=1)
    ml = _ml(one, starts=(2, 1))
    assert ml.n_params == 5
    lca = _ml(bm.lca(sai, SAI_BY_TIME["t1"] + SAI_BY_TIME["t2"], n_classes=1), starts=(2, 1))
    assert ml.loglik < lca.loglik  # one class with invariant items: each item's rate pooled over both times
    np.testing.assert_allclose(one.transition_matrices(ml)["estimate"], 1.0)


def test_population_quantities_from_representative_rows(tiny):
    """Without covariates one unit per cluster stands for its cluster: same proportions and transitions."""
    frame, by_time = tiny
    m = bm.lta(frame, by_time, n_classes=3, cluster="room", random_intercepts=True,
               item_types={c: "ordinal" for t in TIMES for c in by_time[t] if c.startswith("o")})
    s = m.structure
    assert s.population_rows is not None
    values = random_values(m, seed=13)
    z = np.random.default_rng(14).normal(size=(4, 1, m.latent.n_dims))  # 4 "nodes"
    n = m.data.n_units
    every_unit = [(s.prior_marginals(z) + np.zeros((n, 1, 1))).mean(axis=-3),
                  (s.prior_pairs(z) + np.zeros((n, 1, 1, 1))).mean(axis=-4)]
    fast = evaluate_at(m, [s.time_proportions(z), s.transition_joint(z)], values, "population-rows")
    slow = evaluate_at(m, every_unit, values, "population-all")
    for a, b in zip(fast, slow):
        np.testing.assert_allclose(a, b, atol=1e-12)
    np.testing.assert_allclose(fast[1].sum(axis=-1), fast[0][..., :-1, :], atol=1e-12)  # joint margins


# ======================================================================== predict (issue 12 item 3)

def test_predict_proba_is_the_time1_class_posterior(sai):
    """Training rows: predict_proba equals the fit's class probabilities (C_1); new rows: Bayes' rule
    P(C_1 = c | y) ~ P(C_1 = c) f_1(y_1 | c) sum_k P(C_2 = k | C_1 = c) f_2(y_2 | k), from the estimates."""
    m = bm.lta(sai, SAI_BY_TIME, n_classes=2)
    ml = _ml(m, starts=(4, 1))
    np.testing.assert_allclose(m.predict_proba(sai, ml).to_numpy(), ml.posterior_probabilities.to_numpy(),
                               atol=1e-10)
    items = SAI_BY_TIME["t1"] + SAI_BY_TIME["t2"]
    new = pd.DataFrame([[1, 0, 1, 0, 0, 1, 1, 1, np.nan, 0],                 # a missing cell at time 2
                        [0, 0, 0, 0, 0] + [np.nan] * 5,                     # time 2 missing entirely
                        [1, 1, 1, 1, 1, 0, 0, 0, 0, 0]], columns=items)
    got = m.predict_proba(new, ml)
    p1 = ml.profiles.xs("estimate", axis=1, level="statistic").xs("1", level="category").to_numpy().T  # (K, I)
    initial = m.class_proportions_by_time(ml)["estimate"].loc["t1"].to_numpy()
    transition = m.transition_matrices(ml)["estimate"].to_numpy().reshape(2, 2)

    def emission(y):  # (rows, K): f_t(y_t | class), missing cells left out
        obs = ~np.isnan(y)
        y0 = np.nan_to_num(y)
        return np.exp((obs[:, None] * (y0[:, None] * np.log(p1) + (1 - y0[:, None]) * np.log1p(-p1))).sum(-1))

    y = new.to_numpy(dtype=float)
    joint = initial * emission(y[:, :5]) * (emission(y[:, 5:]) @ transition.T)
    np.testing.assert_allclose(got.to_numpy(), joint / joint.sum(axis=1, keepdims=True), atol=1e-8)
    assert list(m.predict(new, ml)) == list(got.idxmax(axis=1))


@pytest.mark.parametrize("factory", ["lca", "lta", "lta_stationary"])
def test_split_class_start_reproduces_the_smaller_loglik(factory):
    """A K-class start from a K-1 ML solution with one class divided in two equal halves is a valid start at
    which the K-class LL equals the K-1 LL (the K-class model lumps back to the smaller one): for LTA every
    class axis of transition_logit is split (previous class copied, next class's probability halved)."""
    from bayesmix.inference.objective import flat_model
    from bayesmix.inference.optimize import split_class_start
    from bayesmix.inference.starts import user_starts
    sim = bm.datasets.simulate_lta(300, n_times=3, seed=3)
    if factory == "lca":
        build = lambda k: bm.lca(sim.data, items=sim.items_by_time["t1"], n_classes=k)  # noqa: E731
    else:
        build = lambda k: bm.lta(sim.data, sim.items_by_time, n_classes=k,  # noqa: E731
                                 stationary_transitions=factory == "lta_stationary")
    k = 3  # K-1 = 3 -> K = 4: splitting the first, a middle and the last class
    smaller, larger = build(k), build(k + 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ml = smaller.fit_ml(starts=(4, 2), seed=1, progressbar=False)
    flat = flat_model(larger)
    value = flat.value_and_grad("loglik")
    for split in range(k):
        start = split_class_start(larger, ml.point, split, np.random.default_rng(split), jitter=0.0)
        theta = flat.to_theta(start)
        assert np.all(np.isfinite(theta))
        assert -value(theta)[0] == pytest.approx(ml.loglik, abs=1e-6), (k, split)
    # the user-start path (default jitter) gives K-1 valid starts, each near the smaller LL
    starts = user_starts(larger, ml, seed=1)
    assert len(starts) == k
    for start in starts:
        ll = -value(flat.to_theta(start))[0]
        assert np.isfinite(ll) and ll > ml.loglik - 15
