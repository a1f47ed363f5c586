"""kdlab: an interactive lab on knowledge distillation (Hinton, Vinyals & Dean, 2015).

One concept per module; each public function names the notebook that explains it. The names
below are imported on first use, so ``python -m kdlab.data`` (or any one module) loads only
what it needs.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

#: The modules and the public names each defines (imported on first use).
_MODULES: dict[str, str] = {
    "batched": "BatchedMLP fit_batched",
    "clustering": "OnlineKMeans cluster_classes confusable_groups confusion_affinity",
    "covariance": "CovarianceAccumulator correlation_from_covariance prediction_correlation "
                  "prediction_covariance",
    "data": "DataNotFoundError Dataset load_dataset",
    "distill": "distill_job distill_student distillation_loss teacher_logits",
    "hierarchy": "gibbs_probabilities make_hierarchical",
    "inference": "active_specialists dustbin_fold kl_inference kl_objective",
    "mistakes": "check_distillation",
    "models": "MLP",
    "profiles": "Profile get_profile",
    "specialists": "Specialist specialist_dataset train_specialists",
    "temperature": "entropy gibbs log_softmax_t logit_matching_grad soft_cross_entropy_grad "
                   "softmax_t",
    "train": "evaluate fit fit_cached fit_cached_many get_device predict_logits predict_proba",
}
_EXPORTS = {name: module for module, names in _MODULES.items() for name in names.split()}

__all__ = list(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'kdlab' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"kdlab.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
