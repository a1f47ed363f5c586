"""Finding confusable classes (section 5.3): the covariance of predicted probabilities, then
online K-means on its C columns, vs scikit-learn's MiniBatchKMeans on the same columns.

Synthetic predictions: ``make_hierarchical`` with superclasses of 25–250 classes (one cluster per
superclass, about the paper's 61 clusters for JFT's 15,000 classes), N = 10·C examples, scored by
a Gibbs "generalist" at T = 4 (``gibbs_probabilities``). Times are the best of the rounds, in one
run: ``prediction_covariance`` over the N×C probabilities, then ``OnlineKMeans`` and
``MiniBatchKMeans`` (its defaults, same k, same seed) on the C columns; ARI is the agreement with
the true superclasses. With a CUDA device, more rows: C up to 15,000 (JFT's size) with the
probabilities on the GPU, the covariance accumulated there in float64 and left there
(``covariance(as_numpy=False)``), and ``OnlineKMeans`` fitted on that tensor; MiniBatchKMeans
runs on the CPU on a numpy copy. Goal: JFT-sized clustering (K-means on 15,000 columns) in under
a second on one GPU; the covariance of N = 150,000 predictions is a float64 GEMM of 2·N·C² flops,
about 1.1 s at an H100's FP64 peak, and is accumulated during the generalist's inference anyway.
"""

from __future__ import annotations

import time

import torch
from sklearn.cluster import MiniBatchKMeans
from sklearn.metrics import adjusted_rand_score

from kdlab.clustering import OnlineKMeans
from kdlab.covariance import CovarianceAccumulator, prediction_covariance
from kdlab.hierarchy import gibbs_probabilities, make_hierarchical

CPU_SIZES = (100, 500, 1000, 2000)
GPU_SIZES = (2000, 5000, 15000)


def _problem(n_classes: int):
    """Superclass count, the (n_examples, n_features) inputs, labels and class centres."""
    k = max(4, n_classes // 250)
    X, _, superclass, centers = make_hierarchical(k, n_classes // k, n_per_class=10,
                                                  random_state=0, return_centers=True)
    return k, X, superclass, centers


def _best(fn, rounds: int, sync=lambda: None):
    best, out = float("inf"), None
    for _ in range(rounds):
        start = time.perf_counter()
        out = fn()
        sync()
        best = min(best, time.perf_counter() - start)
    return best, out


def _row(where, n_classes, n, k, t_cov, t_online, t_mb, ari_online, ari_mb):
    return (f"| {where} | {n_classes:,} | {n:,} | {k} | {t_cov:.3f} | {t_online:.3f} | "
            f"{t_mb:.3f} | {t_online / t_mb:.2f}× | {t_cov + t_online:.3f} | "
            f"{ari_online:.2f} | {ari_mb:.2f} |")


def _kmeans_rows(cov, k, superclass, rounds, device=None):
    on_gpu = isinstance(cov, torch.Tensor)  # then OnlineKMeans works on the tensor's device
    t_online, online = _best(
        lambda: OnlineKMeans(k, device=device, random_state=0).fit(cov), rounds,
        torch.cuda.synchronize if on_gpu else lambda: None)
    if on_gpu:
        return t_online, float("nan"), adjusted_rand_score(superclass, online.labels_), 0.0
    t_mb, mb = _best(lambda: MiniBatchKMeans(k, random_state=0).fit(cov), rounds)
    return (t_online, t_mb, adjusted_rand_score(superclass, online.labels_),
            adjusted_rand_score(superclass, mb.labels_))


def run(rounds: int = 2, cpu_sizes=CPU_SIZES, gpu_sizes=GPU_SIZES) -> str:
    rows = ["| device | classes C | predictions N | k | covariance s | OnlineKMeans s | "
            "MiniBatchKMeans s | online / minibatch | covariance + online s | ARI online | "
            "ARI minibatch |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for n_classes in cpu_sizes:
        k, X, superclass, centers = _problem(n_classes)
        probs = gibbs_probabilities(X, centers, T=4.0)
        t_cov, cov = _best(lambda p=probs: prediction_covariance(p), rounds)
        rows.append(_row("CPU", n_classes, len(X), k, t_cov,
                         *_kmeans_rows(cov, k, superclass, rounds)))
    if torch.cuda.is_available():
        for n_classes in gpu_sizes:
            k, X, superclass, centers = _problem(n_classes)
            probs = _gibbs_cuda(X, centers, T=4.0)
            t_cov, cov = _best(lambda p=probs, c=n_classes: CovarianceAccumulator(c).update(p)
                               .covariance(as_numpy=False), rounds, torch.cuda.synchronize)
            del probs
            t_online, _, ari_online, _ = _kmeans_rows(cov, k, superclass, rounds, None)
            _, t_mb, _, ari_mb = _kmeans_rows(cov.cpu().numpy(), k, superclass, rounds)
            rows.append(_row("GPU", n_classes, len(X), k, t_cov, t_online, t_mb, ari_online,
                             ari_mb))
            del cov
            torch.cuda.empty_cache()
    else:
        rows.append("| GPU | (no CUDA device here: GPU rows skipped) | | | | | | | | | |")
    return "\n".join(rows)


def _gibbs_cuda(X, centers, T):
    """``gibbs_probabilities`` computed on the GPU in float32 (the N×C matrix stays there)."""
    x = torch.as_tensor(X, device="cuda")
    c = torch.as_tensor(centers, device="cuda")
    logits = (x @ c.T - 0.5 * (c * c).sum(1)) / T
    return torch.softmax(logits, dim=1)


if __name__ == "__main__":
    print(run())
