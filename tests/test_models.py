"""kdlab.models.MLP: shapes, the paper's parameter counts, seeding, dropout, bad arguments.

Oracle: a forward pass written out in numpy from the network's own weights.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _bad import error_for
from torch import nn

from kdlab.models import MLP


def _linears(net):
    return [m for m in net.modules() if isinstance(m, nn.Linear)]


def _numpy_forward(net, x):
    """ReLU between the linear layers, nothing after the last: what eval mode must compute."""
    h = x.numpy().astype(np.float64)
    layers = _linears(net)
    for i, layer in enumerate(layers):
        h = h @ layer.weight.detach().double().numpy().T + layer.bias.detach().double().numpy()
        if i < len(layers) - 1:
            h = np.maximum(h, 0)
    return h


@pytest.mark.parametrize("in_features, hidden, n_classes, batch", [
    (784, (30, 30), 10, 5), (64, (7,), 3, 1), (20, (), 4, 6), (10, (5, 6, 7), 2, 0),
])
def test_output_shape(in_features, hidden, n_classes, batch):
    net = MLP(in_features, hidden, n_classes, seed=0)
    out = net(torch.rand(batch, in_features))
    assert out.shape == (batch, n_classes) and out.dtype == torch.float32
    widths = [in_features, *hidden, n_classes]
    assert [(m.in_features, m.out_features) for m in _linears(net)] == list(
        zip(widths[:-1], widths[1:], strict=True))


@pytest.mark.parametrize("hidden, by_hand", [
    ((1200, 1200), 784 * 1200 + 1200 + 1200 * 1200 + 1200 + 1200 * 10 + 10),
    ((800, 800), 784 * 800 + 800 + 800 * 800 + 800 + 800 * 10 + 10),
    ((30, 30), 784 * 30 + 30 + 30 * 30 + 30 + 30 * 10 + 10),
])
def test_the_papers_networks_have_the_right_number_of_parameters(hidden, by_hand):
    assert by_hand in (2_395_210, 1_276_810, 24_790)
    for dropout in (0.0, 0.5):  # dropout has no parameters
        net = MLP(784, hidden, 10, dropout=dropout, input_dropout=dropout / 2)
        assert sum(p.numel() for p in net.parameters()) == by_hand


def test_eval_mode_computes_the_plain_relu_network():
    net = MLP(12, (9, 8), 5, dropout=0.5, input_dropout=0.2, seed=1).eval()
    x = torch.rand(7, 12)
    np.testing.assert_allclose(net(x).detach().numpy(), _numpy_forward(net, x),
                               rtol=1e-5, atol=1e-6)


def test_same_seed_same_weights_and_other_seed_other_weights():
    a, b, c = MLP(30, (20, 10), 4, seed=7), MLP(30, (20, 10), 4, seed=7), MLP(30, (20, 10), 4,
                                                                              seed=8)
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert sa.keys() == sb.keys() == sc.keys()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert all(not torch.equal(sa[k], sc[k]) for k in sa)


def test_a_seed_leaves_the_global_random_state_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    MLP(30, (20,), 4, seed=5)
    assert torch.equal(torch.rand(3), expected)


def test_without_a_seed_the_global_generator_decides():
    torch.manual_seed(11)
    a = MLP(30, (20,), 4)
    torch.manual_seed(11)
    b = MLP(30, (20,), 4)
    assert torch.equal(a.head.weight, b.head.weight)


def test_unseeded_networks_differ():
    a, b = MLP(30, (20,), 4), MLP(30, (20,), 4)
    assert not torch.equal(a.head.weight, b.head.weight)


@pytest.mark.parametrize("dropout, input_dropout", [(0.5, 0.0), (0.0, 0.5), (0.3, 0.2)])
def test_dropout_acts_in_train_mode_only(dropout, input_dropout):
    net = MLP(50, (40, 40), 6, dropout=dropout, input_dropout=input_dropout, seed=0)
    x = torch.rand(16, 50) + 0.1
    net.train()
    torch.manual_seed(0)
    first, second = net(x), net(x)
    assert not torch.allclose(first, second)
    net.eval()
    a, b = net(x), net(x)
    assert torch.equal(a, b)
    np.testing.assert_allclose(a.detach().numpy(), _numpy_forward(net, x), rtol=1e-5, atol=1e-6)


def test_without_dropout_train_mode_is_deterministic():
    net = MLP(50, (40,), 6, seed=0).train()
    x = torch.rand(8, 50)
    assert torch.equal(net(x), net(x))
    assert not any(isinstance(m, nn.Dropout) for m in net.modules())


def test_hidden_dropout_zeroes_hidden_units():
    net = MLP(20, (200,), 3, dropout=0.5, seed=0).train()
    hidden = net.body(torch.rand(4, 20) + 0.5)
    assert (hidden == 0).float().mean() > 0.3  # about half of the units are dropped


def test_config_and_repr():
    net = MLP(784, (800, 800), 10, dropout=0.5, seed=3)
    assert net.config == dict(in_features=784, hidden=[800, 800], n_classes=10, dropout=0.5,
                              input_dropout=0.0, seed=3)
    assert "784-800-800-10" in repr(net)


@pytest.mark.parametrize("kwargs, match", [
    (dict(in_features=0), "in_features"),
    (dict(in_features=-784), "in_features"),
    (dict(in_features=784.0), "in_features"),
    (dict(in_features="784"), "in_features"),
    (dict(in_features=True), "in_features"),
    (dict(n_classes=0), "n_classes"),
    (dict(n_classes=2.5), "n_classes"),
    (dict(hidden=(800, 0)), "hidden"),
    (dict(hidden=(800.0,)), "hidden"),
    (dict(hidden=(-1,)), "hidden"),
    (dict(dropout=1.0), "dropout"),
    (dict(dropout=-0.1), "dropout"),
    (dict(dropout="0.5"), "dropout"),
    (dict(input_dropout=1), "input_dropout"),
])
def test_bad_arguments(kwargs, match):
    (name, bad), = kwargs.items()
    if name == "hidden":
        bad = next(h for h in bad if isinstance(h, float) or h < 1)
    error = error_for(bad, integer=name not in ("dropout", "input_dropout"))
    args = dict(in_features=784, hidden=(30, 30), n_classes=10) | kwargs
    with pytest.raises(error, match=match):
        MLP(**args)


def test_hidden_must_be_a_sequence():
    with pytest.raises((TypeError, ValueError), match="hidden"):
        MLP(784, 800, 10)
