"""kdlab: an interactive lab on knowledge distillation (Hinton, Vinyals & Dean, 2015).

One concept per module; each public function names the notebook that explains it.
"""

from kdlab.clustering import OnlineKMeans, cluster_classes, confusable_groups, confusion_affinity
from kdlab.covariance import (
    CovarianceAccumulator,
    correlation_from_covariance,
    prediction_correlation,
    prediction_covariance,
)
from kdlab.data import DataNotFoundError, Dataset, load_dataset
from kdlab.distill import distill_student, distillation_loss, teacher_logits
from kdlab.hierarchy import gibbs_probabilities, make_hierarchical
from kdlab.inference import active_specialists, dustbin_fold, kl_inference, kl_objective
from kdlab.models import MLP
from kdlab.profiles import Profile, get_profile
from kdlab.specialists import Specialist, specialist_dataset, train_specialists
from kdlab.temperature import (
    entropy,
    gibbs,
    log_softmax_t,
    logit_matching_grad,
    soft_cross_entropy_grad,
    softmax_t,
)
from kdlab.train import evaluate, fit, fit_cached, get_device, predict_logits, predict_proba

__version__ = "0.1.0"

__all__ = [
    "MLP",
    "CovarianceAccumulator",
    "correlation_from_covariance",
    "prediction_correlation",
    "OnlineKMeans",
    "cluster_classes",
    "confusable_groups",
    "confusion_affinity",
    "gibbs_probabilities",
    "active_specialists",
    "dustbin_fold",
    "kl_inference",
    "kl_objective",
    "make_hierarchical",
    "prediction_covariance",
    "DataNotFoundError",
    "Dataset",
    "Profile",
    "Specialist",
    "specialist_dataset",
    "train_specialists",
    "entropy",
    "distill_student",
    "distillation_loss",
    "evaluate",
    "fit",
    "fit_cached",
    "get_device",
    "get_profile",
    "gibbs",
    "load_dataset",
    "log_softmax_t",
    "logit_matching_grad",
    "predict_logits",
    "predict_proba",
    "soft_cross_entropy_grad",
    "softmax_t",
    "teacher_logits",
]
