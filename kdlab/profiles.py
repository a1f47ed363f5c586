"""Run profiles: one switch, ``KDLAB_PROFILE``, sizes every experiment (docs/architecture.md)."""

from __future__ import annotations

import os
from dataclasses import dataclass, fields

ENV_VAR = "KDLAB_PROFILE"
DEFAULT = "laptop"


@dataclass(frozen=True)
class Profile:
    """Sizes of every experiment in the lab for one run profile.

    Attributes
    ----------
    name : str
        ``"ci"``, ``"laptop"`` or ``"paper"``.
    dataset : str
        The default teaching data set.
    n_train, n_test : int or None
        How many training / test examples to use (``None``: all of them).
    seed : int
        The seed every notebook starts from.
    epochs, teacher_epochs : int
        Training epochs for students / for the big regularised teacher.
    batch_size : int
        Minibatch size.
    lr : float
        Adam learning rate.
    teacher_hidden, student_hidden, tiny_hidden : tuple of int
        Hidden-layer widths of the teacher (paper: 1200-1200), the student (paper: 800-800)
        and the tiny student (paper: 30-30).
    teacher_dropout : float
        Dropout on the teacher's hidden layers (paper: strongly regularised).
    teacher_jitter : int
        The teacher's inputs are shifted at random by up to this many pixels (paper: 2; 0: off).
    temperatures : tuple of float
        Temperatures swept by the "how much does T matter" experiments.
    teacher_input_dropout : float
        Dropout on the teacher's input pixels (paper: 0.2, as in the dropout papers).
    teacher_recipe, student_recipe : tuple of (str, value) pairs
        Extra :func:`kdlab.fit` arguments (optimiser, schedule, max-norm, learning rate) of the
        teacher and of the students (alone and distilled); empty: Adam at ``lr``, constant.
    checkpoint_every : int or None
        Long trainings save their state every this many epochs and resume after an
        interruption (``None``: no checkpoints).
    distill_seeds : int
        Seeds of :mod:`kdlab.replicate`'s student alone and distilled student (initial
        weights and data order; their targets are judged on the mean).
    ensemble_size : int
        Members of the ensemble that chapter 02 distils into one network (paper: 10).
    ensemble_hidden : tuple of int
        Hidden-layer widths of each member and of the network distilled from them.
    sweep_temperatures : tuple of float
        Temperatures of chapter 02's sweep with seeds (the paper's 2.5-4 inside).
    sweep_seeds : int
        Seeds (initial weights and data order) of every network of the sweep.
    sweep_hidden : tuple of int
        The large student of the sweep (the paper's claim is about "300 or more" units).
    sweep_n_train : int or None
        Transfer set of the sweep: this many training images (stratified; ``None``: all).
    sweep_epochs : int or None
        Epochs of the large student of the sweep (``None``: ``epochs``).
    tiny_epochs : int
        Epochs of the tiny student of the sweep: long enough to converge.
    sweep_lr : float or None
        Learning rate of both students of the sweep (``None``: the students' recipe's).
    specialist_hidden : tuple of int
        Chapters 03-05's generalist: a network short of capacity for the fine distinctions, as
        one network for JFT's 15,000 classes was; its specialists have the same shape.
    specialist_n_train : int or None
        Training images of the specialists experiment (``None``: all of them), of which a
        tenth is held out for clustering and early stopping (``laptop``: half of
        Fashion-MNIST's 60,000, to stay within the course's time on two CPU cores).
    specialist_epochs : int
        Epochs of its generalists; the most a specialist trains (early stopping may end it).
    specialist_patience : int
        A specialist stops after this many epochs without a better held-out loss.
    specialist_seeds : int
        Seeds of the generalist-specialist comparison (each seed: its own generalist,
        specialists and controls).
    specialist_clusters : int
        K of the covariance clustering that gives the specialists' groups.
    synthetic_classes : tuple of int
        The many-class synthetic set of chapters 04-05: superclasses, classes in each,
        examples per class.
    transfer_jitter : int
        When positive, :mod:`kdlab.replicate` also distils a student on a transfer set jittered
        by up to this many pixels (the teacher recomputes its soft targets for every shifted
        image) and, as its control, trains the student alone on the same jittered images (0:
        neither; the paper's transfer set had no translations; see book/reproducing.md).
    """

    name: str
    dataset: str
    n_train: int | None
    n_test: int | None
    seed: int
    epochs: int
    teacher_epochs: int
    batch_size: int
    lr: float
    teacher_hidden: tuple[int, ...]
    student_hidden: tuple[int, ...]
    tiny_hidden: tuple[int, ...]
    teacher_dropout: float
    teacher_jitter: int
    temperatures: tuple[float, ...]
    teacher_input_dropout: float = 0.0
    teacher_recipe: tuple[tuple[str, object], ...] = ()
    student_recipe: tuple[tuple[str, object], ...] = ()
    checkpoint_every: int | None = None
    distill_seeds: int = 3
    ensemble_size: int = 3
    ensemble_hidden: tuple[int, ...] = (100, 100)
    sweep_temperatures: tuple[float, ...] = (1.0, 2.0, 2.5, 3.0, 4.0, 6.0, 8.0, 12.0, 20.0)
    sweep_seeds: int = 3
    sweep_hidden: tuple[int, ...] = (300, 300)
    sweep_n_train: int | None = None
    sweep_epochs: int | None = None
    tiny_epochs: int = 100
    sweep_lr: float | None = None
    specialist_hidden: tuple[int, ...] = (8,)
    specialist_n_train: int | None = 30000
    specialist_epochs: int = 12
    specialist_patience: int = 3
    specialist_seeds: int = 3
    specialist_clusters: int = 3
    synthetic_classes: tuple[int, int, int] = (12, 8, 100)
    transfer_jitter: int = 0

    def fit_options(self, role: str) -> dict:
        """The :func:`kdlab.fit_cached` arguments of the ``"teacher"`` or the ``"student"``.

        Examples
        --------
        >>> get_profile("ci").fit_options("student")
        {'epochs': 20, 'batch_size': 128, 'lr': 0.001, 'seed': 0}
        >>> get_profile("paper").fit_options("teacher")["optimizer"]
        'sgd'
        """
        if role not in ("teacher", "student"):
            raise ValueError(f"role must be 'teacher' or 'student', got {role!r}")
        teacher = role == "teacher"
        opts = {"epochs": self.teacher_epochs if teacher else self.epochs,
                "batch_size": self.batch_size, "lr": self.lr, "seed": self.seed}
        opts.update(dict(self.teacher_recipe if teacher else self.student_recipe))
        if self.checkpoint_every is not None:
            opts["checkpoint_every"] = self.checkpoint_every
        return opts


#: The paper-scale recipe (issue 21, book/reproducing.md): SGD with Nesterov momentum and a
#: cosine decay of the learning rate to 0, as the dropout papers trained such nets; the teacher
#: also gets a max-norm bound of 3 on each unit's incoming weights.
_SGD_COSINE = (("optimizer", "sgd"), ("lr", 0.05), ("momentum", 0.9), ("nesterov", True),
               ("schedule", "cosine"))
#: The students' (alone, distilled, ensemble members): twice the teacher's rate, warmed up
#: linearly over 5 epochs. Without the warm-up the soft term's first steps kill a third to
#: four fifths of the distilled student's first-layer ReLUs; at 0.05 it made 88-91 errors,
#: at 0.1 75-87 (benchmarks/investigate_distilled_student.py).
_SGD_STUDENT = (("optimizer", "sgd"), ("lr", 0.1), ("momentum", 0.9), ("nesterov", True),
                ("schedule", "cosine"), ("warmup", 5))


PROFILES: dict[str, Profile] = {
    "ci": Profile(
        name="ci", dataset="fashion-mnist", n_train=3000, n_test=1000, seed=0,
        epochs=20, teacher_epochs=20, batch_size=128, lr=1e-3,
        teacher_hidden=(256, 256), student_hidden=(64, 64), tiny_hidden=(30, 30),
        teacher_dropout=0.3, teacher_jitter=1, temperatures=(1.0, 4.0, 8.0, 20.0),
        ensemble_size=3, ensemble_hidden=(64, 64), sweep_hidden=(64, 64), sweep_n_train=600,
        sweep_epochs=20, tiny_epochs=40, sweep_lr=3e-3,
        specialist_n_train=6000, specialist_epochs=6, synthetic_classes=(8, 6, 60),
    ),
    "laptop": Profile(
        name="laptop", dataset="fashion-mnist", n_train=10000, n_test=None, seed=0,
        epochs=20, teacher_epochs=30, batch_size=128, lr=1e-3,
        teacher_hidden=(1200, 1200), student_hidden=(800, 800), tiny_hidden=(30, 30),
        teacher_dropout=0.3, teacher_jitter=1, temperatures=(1.0, 3.0, 8.0, 20.0),
        ensemble_size=8, ensemble_hidden=(100, 100), sweep_n_train=2000, sweep_epochs=40,
        tiny_epochs=100, sweep_lr=3e-3,
    ),
    "paper": Profile(
        name="paper", dataset="fashion-mnist", n_train=None, n_test=None, seed=0,
        epochs=60, teacher_epochs=300, batch_size=128, lr=1e-3,
        teacher_hidden=(1200, 1200), student_hidden=(800, 800), tiny_hidden=(30, 30),
        teacher_dropout=0.5, teacher_jitter=2,
        temperatures=(1.0, 2.0, 2.5, 3.0, 4.0, 8.0, 12.0, 20.0, 30.0),
        teacher_input_dropout=0.2, teacher_recipe=(*_SGD_COSINE, ("max_norm", 3.0)),
        student_recipe=_SGD_STUDENT, checkpoint_every=5,
        ensemble_size=10, ensemble_hidden=(800, 800), sweep_temperatures=(
            1.0, 2.0, 2.5, 3.0, 4.0, 6.0, 8.0, 12.0, 20.0, 30.0), tiny_epochs=200,
        specialist_n_train=None, specialist_epochs=40, specialist_patience=5,
        specialist_seeds=5,
        synthetic_classes=(20, 10, 120), transfer_jitter=2,
    ),
}


def get_profile(name: str | None = None) -> Profile:
    """Return the run profile ``name``, or the one ``$KDLAB_PROFILE`` names (default laptop).

    Examples
    --------
    >>> get_profile("ci").name
    'ci'
    """
    source = "name"
    if name is None:
        name, source = os.environ.get(ENV_VAR, "").strip() or DEFAULT, f"${ENV_VAR}"
    if not isinstance(name, str):
        raise TypeError(f"profile name must be a str, got {type(name).__name__}")
    key = name.strip().lower()
    if key not in PROFILES:
        raise ValueError(
            f"unknown run profile {name!r} (from {source}); expected one of "
            f"{', '.join(repr(k) for k in PROFILES)}"
        )
    return PROFILES[key]


def describe(profile: Profile) -> str:
    """One line per field, for printing in a notebook's setup cell."""
    return "\n".join(f"{f.name:>16}: {getattr(profile, f.name)}" for f in fields(profile))
