"""The mean/variance rule: hand-written gradients against finite differences, sampling statistics, Adam and
early stopping."""

from __future__ import annotations

import numpy as np
import pytest

from cosim.devices.dw_synapse import model as dw
from cosim.training import meanvar as mv

PARAMS = dw.load_preset("ellis2023")


def _layer(rng, n_in=7, n_out=4, n_reads=4, gain=1.0):
    devices = dw.draw_instances(PARAMS, dw.Variation(x0_std=0.2, dx_rel_std=0.1, a_std=0.01), (n_in, n_out), 1)
    w = PARAMS.x0 + rng.normal(0, 0.6, (n_in, n_out))  # p spread over (0.1, 0.9)
    return mv.StochasticSynapseLayer(devices, n_reads, w=w, b=rng.normal(0, 0.3, n_out), gain=gain)


@pytest.mark.parametrize("binary_inputs", [True, False])
def test_gradients_of_mean_and_std_match_finite_differences(binary_inputs):
    rng = np.random.default_rng(0)
    layer = _layer(rng)
    x = (rng.random((5, 7)) > 0.4).astype(float) if binary_inputs else rng.random((5, 7))
    c_mu, c_s = rng.normal(size=(5, 4)), rng.normal(size=(5, 4))
    d = layer.devices

    def objective(w):
        mu, s = mv.output_stats(x, dw.probability(w, d.x0, d.dx, d.a), layer.n_reads)
        return float((c_mu * mu).sum()), float((c_s * s).sum())

    p = layer.probabilities()
    _, s = mv.output_stats(x, p, layer.n_reads)
    slope = dw.probability_slope(layer.w, d.x0, d.dx, d.a)
    zero = np.zeros_like(c_mu)
    analytic_mu = mv.output_stats_backward(x, p, layer.n_reads, s, c_mu, zero) * slope
    analytic_s = mv.output_stats_backward(x, p, layer.n_reads, s, zero, c_s) * slope
    h = 1e-6
    numeric_mu, numeric_s = np.zeros_like(layer.w), np.zeros_like(layer.w)
    for idx in np.ndindex(layer.w.shape):
        up, down = layer.w.copy(), layer.w.copy()
        up[idx] += h
        down[idx] -= h
        (mu_up, s_up), (mu_down, s_down) = objective(up), objective(down)
        numeric_mu[idx] = (mu_up - mu_down) / (2 * h)
        numeric_s[idx] = (s_up - s_down) / (2 * h)
    # central differences at h = 1e-6 are good to ~1e-8 here; allow 1e-6 relative
    np.testing.assert_allclose(analytic_mu, numeric_mu, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(analytic_s, numeric_s, rtol=1e-6, atol=1e-9)
    assert np.abs(analytic_s).max() > 1e-3  # the check is not vacuous


@pytest.mark.parametrize("gain", [1.0, 3.0])
def test_loss_gradient_with_epsilon_held_matches_finite_differences(gain):
    rng = np.random.default_rng(1)
    layer = _layer(rng, gain=gain)
    x = (rng.random((6, 7)) > 0.4).astype(float)
    y = rng.integers(0, 4, 6)
    z, cache = layer.forward(x, np.random.default_rng(2))
    _, g_z = mv.softmax_cross_entropy(z, y)
    grads = layer.backward(cache, g_z)
    eps = cache[3]
    d = layer.devices

    def loss(w, b):
        mu, s = mv.output_stats(x, dw.probability(w, d.x0, d.dx, d.a), layer.n_reads)
        return mv.softmax_cross_entropy(gain * (mu + eps * s) + b, y)[0]

    h = 1e-6
    for idx in [(0, 0), (3, 1), (6, 3), (2, 2)]:
        up, down = layer.w.copy(), layer.w.copy()
        up[idx] += h
        down[idx] -= h
        assert grads["w"][idx] == pytest.approx((loss(up, layer.b) - loss(down, layer.b)) / (2 * h), rel=1e-5, abs=1e-9)
    for k in range(4):
        up, down = layer.b.copy(), layer.b.copy()
        up[k] += h
        down[k] -= h
        assert grads["b"][k] == pytest.approx((loss(layer.w, up) - loss(layer.w, down)) / (2 * h), rel=1e-5, abs=1e-9)
    # the forward value is the hardware's sample: z = gain·Y + b with Y a multiple of 1/N
    counts = (z - layer.b) / gain * layer.n_reads
    np.testing.assert_allclose(counts, np.round(counts), atol=1e-9)


def test_real_layer_gradient_matches_finite_differences():
    rng = np.random.default_rng(3)
    layer = mv.RealLayer(5, 3, w=rng.normal(size=(5, 3)), b=rng.normal(size=3))
    x, y = rng.random((4, 5)), rng.integers(0, 3, 4)
    z, cache = layer.forward(x, rng)
    grads = layer.backward(cache, mv.softmax_cross_entropy(z, y)[1])
    h = 1e-6
    up, down = layer.w.copy(), layer.w.copy()
    up[2, 1] += h
    down[2, 1] -= h
    numeric = (mv.softmax_cross_entropy(x @ up + layer.b, y)[0] - mv.softmax_cross_entropy(x @ down + layer.b, y)[0]) / (2 * h)
    assert grads["w"][2, 1] == pytest.approx(numeric, rel=1e-6)


@pytest.mark.parametrize("n_reads", [1, 8])
def test_sampled_output_has_the_rule_s_mean_and_variance(n_reads):
    rng = np.random.default_rng(4)
    p = rng.uniform(0.05, 0.95, (12, 3))
    x = np.tile((rng.random(12) > 0.3).astype(float), (20000, 1))
    y = mv.sample_output(x, p, n_reads, rng)
    mu, s = mv.output_stats(x[:1], p, n_reads)
    var = s ** 2 - mv.VARIANCE_FLOOR
    # 20000 samples: the mean's standard error is s/141, the variance's about var/100 (4σ bounds)
    np.testing.assert_allclose(y.mean(axis=0), mu[0], atol=float(4 * s.max() / 141))
    np.testing.assert_allclose(y.var(axis=0), var[0], rtol=0.04)


def test_adam_first_step_moves_each_parameter_by_the_learning_rate():
    params = {"w": np.array([1.0, -2.0, 0.5])}
    opt = mv.Adam(params, 0.02)
    opt.step(params, {"w": np.array([3.0, -0.1, 1e-3])})
    # bias-corrected first step: -lr·g/|g| (up to eps)
    np.testing.assert_allclose(params["w"], [0.98, -1.98, 0.48], atol=5e-7)  # lr·eps/|g| = 2e-7


def test_fit_stops_early_and_restores_the_best_epoch():
    rng = np.random.default_rng(5)
    x = (rng.random((300, 10)) > 0.5).astype(float)
    y = (x[:, 0] + x[:, 1] > 1).astype(int)  # learnable from two inputs
    flip = rng.random(300) < 0.3  # noisy labels: validation loss bottoms out, then over-fitting sets in
    y = np.where(flip, 1 - y, y)
    split = mv.Split(x[:60], y[:60], x[60:120], y[60:120], x[120:], y[120:])
    layer = mv.RealLayer(10, 2)
    result = mv.fit(layer, split, learning_rate=0.2, batch_size=16, max_epochs=300, patience=5,
                    rng=np.random.default_rng(6))
    assert result.stopped_early and len(result.history) == result.best_epoch + 5
    best = min(r["validation_loss"] for r in result.history)
    assert result.best_validation_loss == best
    _, _, restored = mv.evaluate(layer, split.x_val, split.y_val, 1, rng)
    assert restored == pytest.approx(best, rel=1e-12)

