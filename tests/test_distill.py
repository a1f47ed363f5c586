"""distillation_loss and distill_student against independent oracles; the classic KD mistakes."""

import functools

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

import kdlab.distill as kd
from kdlab.data import jitter
from kdlab.distill import distill_student, distillation_loss, teacher_logits
from kdlab.models import MLP
from kdlab.train import fit


def _logits(n=8, c=10, seed=0, scale=3.0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(n, c, generator=g, dtype=torch.float64) * scale,
            torch.randn(n, c, generator=g, dtype=torch.float64) * scale)


@settings(max_examples=40, deadline=None)
@given(T=st.floats(0.5, 50), n=st.integers(1, 16), c=st.integers(2, 12), seed=st.integers(0, 99))
def test_soft_term_equals_kl_div_batchmean_times_T_squared(T, n, c, seed):
    s, t = _logits(n, c, seed)
    oracle = F.kl_div(F.log_softmax(s / T, -1), F.softmax(t / T, -1), reduction="batchmean") * T**2
    torch.testing.assert_close(distillation_loss(s, t, T=T), oracle)


@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides")
def test_reduction_is_batchmean_not_elementwise_mean():
    s, t = _logits(8, 10)
    wrong = F.kl_div(F.log_softmax(s / 4, -1), F.softmax(t / 4, -1), reduction="mean") * 16
    assert not torch.isclose(distillation_loss(s, t, T=4.0), wrong)  # off by a factor C


@settings(max_examples=30, deadline=None)
@given(T=st.floats(1, 20), alpha=st.floats(0, 1), seed=st.integers(0, 99))
def test_with_targets_is_alpha_soft_plus_one_minus_alpha_hard(T, alpha, seed):
    s, t = _logits(seed=seed)
    y = torch.randint(0, 10, (8,), generator=torch.Generator().manual_seed(seed))
    soft = F.kl_div(F.log_softmax(s / T, -1), F.softmax(t / T, -1), reduction="batchmean") * T**2
    oracle = alpha * soft + (1 - alpha) * F.cross_entropy(s, y)
    torch.testing.assert_close(distillation_loss(s, t, y, T=T, alpha=alpha), oracle)


def test_gradient_equals_soft_cross_entropy_gradient():
    """∂(T²·KL)/∂z = T² · (q − p)/T / N: the paper's (q_i − p_i)/T, scaled and batch-averaged."""
    s, t = _logits(6, 10)
    T = 5.0
    s.requires_grad_(True)
    distillation_loss(s, t, T=T).backward()
    q, p = torch.softmax(s.detach() / T, -1), torch.softmax(t / T, -1)
    torch.testing.assert_close(s.grad, T**2 * (q - p) / T / len(s))
    # and the same through an independent soft cross-entropy written out by hand
    s2 = s.detach().clone().requires_grad_(True)
    (-(p * F.log_softmax(s2 / T, -1)).sum(-1).mean() * T**2).backward()
    torch.testing.assert_close(s.grad, s2.grad)


def _grad_norm(T, scaled):
    s, t = _logits(32, 10, seed=1)
    s, t = s - s.mean(-1, keepdim=True), t - t.mean(-1, keepdim=True)
    s.requires_grad_(True)
    loss = distillation_loss(s, t, T=T)
    (loss if scaled else loss / T**2).backward()
    return float(s.grad.norm())


def test_T_squared_keeps_gradient_size_roughly_constant_across_T():
    with_factor = [_grad_norm(T, True) for T in (4, 8, 16, 32)]
    without = [_grad_norm(T, False) for T in (4, 8, 16, 32)]
    assert max(with_factor) / min(with_factor) < 1.5
    # without T² the gradient shrinks like 1/T²: 4× the temperature, ~16× smaller
    assert 12 < without[0] / without[2] < 20
    assert 12 < without[1] / without[3] < 20


def test_teacher_receives_no_gradient_and_student_parameters_do():
    student, teacher = MLP(20, (16,), 5, seed=0), MLP(20, (16,), 5, seed=1)
    x = torch.randn(12, 20, generator=torch.Generator().manual_seed(0))
    y = torch.randint(0, 5, (12,))
    distillation_loss(student(x), teacher(x), y, T=3.0).backward()
    assert all(p.grad is None for p in teacher.parameters())
    grads = [p.grad for p in student.parameters()]
    assert all(g is not None and torch.count_nonzero(g) > 0 for g in grads)


@pytest.mark.parametrize("kwargs,match", [
    (dict(T=0.0), "T must be a positive"),
    (dict(T=float("nan")), "T must be a positive"),
    (dict(alpha=1.5), "alpha"),
    (dict(alpha=-0.1), "alpha"),
])
def test_bad_hyperparameters(kwargs, match):
    s, t = _logits()
    with pytest.raises(ValueError, match=match):
        distillation_loss(s, t, **kwargs)


def test_bad_shapes_and_types():
    s, t = _logits()
    with pytest.raises(ValueError, match="teacher_logits"):
        distillation_loss(s, t[:, :5])
    with pytest.raises(ValueError, match="student_logits"):
        distillation_loss(s[0], t[0])
    with pytest.raises(TypeError, match="student_logits"):
        distillation_loss(s.numpy(), t)
    with pytest.raises(TypeError, match="targets"):
        distillation_loss(s, t, targets=torch.zeros(8))
    with pytest.raises(ValueError, match="targets"):
        distillation_loss(s, t, targets=torch.zeros(3, dtype=torch.long))


# --- distill_student(): the recipe ------------------------------------------------------------

@pytest.fixture
def tiny():
    g = torch.Generator().manual_seed(0)
    X = torch.rand(96, 16, generator=g).numpy()
    y = (X[:, :4].argmax(1)).astype(np.int64)
    teacher = MLP(16, (32,), 4, dropout=0.5, seed=0)
    fit(teacher, X, y, epochs=20, progress=False)
    return X, y, teacher


def test_cached_teacher_logits_are_aligned_with_their_inputs(tiny):
    X, _, teacher = tiny
    perm = np.random.default_rng(0).permutation(len(X))
    np.testing.assert_allclose(teacher_logits(teacher, X[perm]), teacher_logits(teacher, X)[perm],
                               rtol=1e-5, atol=1e-6)


def test_every_shuffled_batch_gets_the_logits_of_its_own_examples(tiny, monkeypatch):
    X, y, teacher = tiny
    seen = []
    original = kd._cached_targets

    def spy(logits, labels, xb, idx):
        out = original(logits, labels, xb, idx)
        torch.testing.assert_close(out[0], teacher(xb).detach(), rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(out[1], torch.as_tensor(y)[idx])
        seen.append(idx.clone())
        return out

    monkeypatch.setattr(kd, "_cached_targets", spy)
    distill_student(MLP(16, (8,), 4, seed=1), X, teacher=teacher, y=y, epochs=2, batch_size=10,
            cache=False, progress=False)
    assert len(seen) == 2 * 10
    assert not torch.equal(seen[0], torch.arange(10)), "batches must be shuffled"


def test_teacher_is_frozen_in_eval_mode_and_untouched(tiny):
    X, y, teacher = tiny
    teacher.train()
    teacher.zero_grad(set_to_none=True)  # forget the grads of its own training
    before = {k: v.clone() for k, v in teacher.state_dict().items()}
    student = MLP(16, (8,), 4, seed=1)
    start = {k: v.clone() for k, v in student.state_dict().items()}
    distill_student(student, X, teacher=teacher, y=y, T=4.0, epochs=3, cache=False, progress=False)
    assert not teacher.training, "the teacher must predict in eval mode (dropout off)"
    assert all(torch.equal(before[k], v) for k, v in teacher.state_dict().items())
    assert all(p.grad is None for p in teacher.parameters())
    assert any(not torch.equal(start[k], v) for k, v in student.state_dict().items())


def test_soft_targets_are_recomputed_for_jittered_inputs(monkeypatch):
    g = torch.Generator().manual_seed(0)
    X = torch.rand(40, 36, generator=g).numpy()
    teacher = MLP(36, (8,), 3, seed=0)
    calls = []
    original = kd._teacher_targets

    def spy(model, labels, xb, idx):
        out = original(model, labels, xb, idx)
        calls.append(not torch.allclose(xb, torch.as_tensor(X)[idx]))
        torch.testing.assert_close(out[0], model(xb).detach())
        return out

    monkeypatch.setattr(kd, "_teacher_targets", spy)
    distill_student(MLP(36, (8,), 3, seed=1), X, teacher=teacher, augment=jitter((6, 6), 1),
                    epochs=1, batch_size=10, cache=False, progress=False)
    assert len(calls) == 4 and any(calls), "the teacher must see the jittered batch"


def test_augment_with_cached_logits_is_refused(tiny):
    X, _, teacher = tiny
    with pytest.raises(ValueError, match="augment"):
        distill_student(MLP(16, (8,), 4), X, logits=teacher_logits(teacher, X),
                        augment=jitter((4, 4)), epochs=1, cache=False)


def test_distill_argument_errors(tiny):
    X, y, teacher = tiny
    with pytest.raises(ValueError, match="exactly one of teacher"):
        distill_student(MLP(16, (8,), 4), X, epochs=1)
    with pytest.raises(ValueError, match="logits"):
        distill_student(MLP(16, (8,), 4), X, logits=np.zeros((5, 4)), epochs=1, cache=False)
    with pytest.raises(ValueError, match="y"):
        distill_student(MLP(16, (8,), 4), X, teacher=teacher, y=y[:5], epochs=1, cache=False)
    with pytest.raises(ValueError, match="alpha"):
        distill_student(MLP(16, (8,), 4), X, teacher=teacher, alpha=2, epochs=1, cache=False)


def test_distilled_student_is_cached_and_reloaded(tiny, tmp_path, monkeypatch):
    monkeypatch.setenv("KDLAB_CACHE", str(tmp_path))
    X, y, teacher = tiny
    make = functools.partial(distill_student, X=X, teacher=teacher, y=y, T=2.0, epochs=2,
                             verbose=False)
    first = make(MLP(16, (8,), 4, seed=1))
    assert len(list(tmp_path.rglob("*.pt"))) == 1
    monkeypatch.setattr("kdlab.train.fit", lambda *a, **k: pytest.fail("retrained"))
    second = make(MLP(16, (8,), 4, seed=1))
    for a, b in zip(first.state_dict().values(), second.state_dict().values(), strict=True):
        assert torch.equal(a, b)
