"""Investigation (not a benchmark; `make bench` skips it): why does the paper-profile distilled
student make 92 test errors, not the paper's 74?

With the `paper` teacher (64 errors; trained by ``python -m kdlab.replicate --dataset mnist
--profile paper``, loaded from the cache, about an hour on 2 CPU cores otherwise) this trains
one variant of chapter 02's distilled 800-800 student, cached, and prints its test errors:

    longer    T = 20, 120 epochs instead of 60
    lowT      T = 8, 60 epochs
    jitter    T = 20, 60 epochs, transfer set jittered by up to 2 pixels, the teacher
              recomputing its soft targets for each shifted image (what replicate runs as
              "distilled_jittered")
    control   the student alone, labels only, on the same jittered images ("student_jittered")
    soft      T = 20, 60 epochs, soft targets only (alpha = 1: no label term)
    fast      T = 20, 60 epochs, four times the learning rate (0.2, cosine to 0)
    seed1     T = 20, 60 epochs, the recipe of replicate's "distilled" with other seeds
    seed2       (initial weights and batch order): the spread of the 92
    slow      T = 20, 60 epochs, a quarter of the learning rate (0.0125, cosine to 0)
    adam      T = 20, 60 epochs, Adam at 1e-3 with the same cosine decay, instead of SGD
    warm      T = 20, 60 epochs, replicate's recipe with the rate warmed up over 5 epochs
    warm1     the same with replicate's other seeds (seed1's initial weights and batch order)
    warm2       and seed2's
    warmlong  the warmed-up recipe over three times the epochs (180)
    warmT8    warmed up, T = 8              warmT4    warmed up, T = 4
    warmsoft  warmed up, alpha = 1          warmhalf  warmed up, alpha = 0.5
    warmfast  warmed up, twice the rate     warmb32   warmed up, batches of 32
    fast1     warmfast with seed1's initial weights and batch order; fast2: seed2's
    fastalone the student alone (labels only) with warmfast's recipe: its honest control
    faster    warmed up, four times the rate (0.2)
    fastsoft  the profile's recipe now (lr 0.1, warmed up) with soft targets only (alpha = 1)
    fasthalf  the same with alpha = 0.5
    b64       the profile's recipe with batches of 64, trained as replicate's three seeded
              distilled students are (train_seeded_students's seeds: the cache keys replicate
              computes if the profile adopts it); b64alone: its three students alone
    lr15      the same with a rate of 0.15; lr15alone: its students alone
    b32       the same with batches of 32; b32alone: its students alone
    b32s      batches of 32 at a quarter of the rate (0.025: the rate per image kept)
    base      the profile's recipe unchanged, the same three seeds (replicate's own distilled
              students: their control on the teacher at hand); basealone: its students alone
    half      the profile's recipe, the same three seeds, alpha = 0.5 (the labels' weight 5
              times the profile's)
    long      the profile's recipe over twice the epochs (120; the same 5-epoch warm-up),
              the same three seeds; longalone: its students alone
    short     the same over half the epochs (30); shortalone: its students alone
    teacher1  the profile's recipe and seeds distilled from a second teacher: the same recipe
              with seed 1 (initial weights, dropout masks, jitter and batch order; about 45
              minutes on 2 cores, checkpointed): how much of the spread is the teacher's
    shiftavg  the profile's recipe and seeds, each soft target the teacher's logits averaged
              over the 25 shifts of its image by up to ±2 pixels (the jitter it was trained
              with); the student still sees only unshifted images, as in the paper
    ens2      the same seeds distilled from the mean logits of the two teachers (seeds 0 and
              1): what a better teacher would give (not the paper's single teacher)
    ens2shiftavg  both: the two teachers' logits, each averaged over the 25 shifts
    mcdrop    the same seeds, each soft target the teacher's logits averaged over 25 dropout
              masks (its training mode) on the unshifted image: one network, no translation
    T8        the profile's recipe and seeds at T = 8 instead of 20: if the students copy one
              network's noise in the wrong classes' logits, a lower T copies less of it
    teachers  the test errors of those soft targets' argmax on the test images (plain,
              shiftavg, ens2, ens2shiftavg, mcdrop): how good a teacher each student learns from

The variants above ``fast1`` change the first paper recipe of the students (lr 0.05, no
warm-up; the profile's until session 7); ``fast*`` use the rates they name, warmed up.

Each variant also prints its dead units: hidden ReLUs that output 0 on every training image.
Measured on 2026-12-03: replicate's distilled student (92 errors) has 291 of 800 dead in its
first layer, seed1 (113 errors) 675, seed2 (90) 394; the student alone none; a quarter of the
rate none (96 errors). The soft term's large first steps kill them: hence `warm`.
Then: adam 88; warm 88, warm1 91, warm2 90 (no dead unit); warmlong 88 (book/reproducing.md).
Session 7 (2026-12-03, no dead unit in any): warmT8 83, warmT4 91; warmfast 75, fast1 87,
fast2 80 and fastalone 146 (the paper's 146), hence the profile's student recipe (lr 0.1,
warmed up); faster diverged (loss nan by epoch 19: fit now stops there). Not run: warmb32,
warmsoft, warmhalf.
Session 8 (2026-12-03, a second machine; the teacher retrained: 65 errors): base 84, 91, 90;
b64 88, 87 (stopped); lr15 84, 88, 89; half 77, 91, 89; long 92, 96, 87; short 96, 91, 86;
basealone 143, 128, 140 (146, 142, 139 on the first machine: the CPU alone moves a run as
much as a seed does).
Session 9 (2026-12-03, the second machine; only the soft targets change): teachers: plain 65,
shiftavg 65, ens2 66, ens2shiftavg 67 test errors; teacher1 (its teacher: 67) 81, 91, 88;
ens2 82, 87, 80; ens2shiftavg 82, 82, 83; with five seeds ("VARIANT 5") base 84, 91, 90, 81,
87 (86.6) and shiftavg 80, 83, 79, 79, 83 (80.8: better on every seed, by 2 to 11);
mcdrop 88, 85, 90 (its targets: 70 test errors); T8 88, 95, 88 (90.3); b32 diverged (loss
nan in epoch 5, at the peak rate 0.1); b32s 90, 88, 84 (87.3).

Measured on 2026-12-03 (one seed each, book/reproducing.md): 91, 120, 74, 69. Needs MNIST
(``python -m kdlab.data fetch mnist``); 5-15 minutes per variant on 2 CPU cores.

    python benchmarks/investigate_distilled_student.py VARIANT [N]

``N``: the seeded variants' number of seeds (default the profile's three; the first three
are the same runs, from the cache).
"""

from __future__ import annotations

import sys
from dataclasses import replace

from kdlab.data import load_dataset, shift_images
from kdlab.distill import distill_student, teacher_logits
from kdlab.experiments import (
    ALPHA,
    T_HIGH,
    jittered_transfer,
    seeded_profiles,
    train_distilled,
    train_generalist,
    train_teacher,
)
from kdlab.models import MLP
from kdlab.profiles import get_profile
from kdlab.train import evaluate

VARIANTS = ("longer", "lowT", "jitter", "control", "soft", "fast", "seed1", "seed2", "slow",
            "adam", "warm", "warm1", "warm2", "warmlong", "warmT8", "warmT4", "warmsoft",
            "warmhalf", "warmfast", "warmb32", "fast1", "fast2", "fastalone", "faster",
            "fastsoft", "fasthalf", "b64", "b64alone", "lr15", "lr15alone", "b32", "b32alone",
            "base", "basealone", "half", "long", "longalone",
            "short", "shortalone", "teacher1", "shiftavg", "ens2",
            "ens2shiftavg", "teachers", "mcdrop", "T8", "b32s")
#: The seeded variants, three seeds each: one change to the profile's students (``recipe``
#: entries, ``epochs``, the soft targets' weight ``alpha`` or temperature ``T``), to their
#: teacher's seed, or to where the soft targets come from (``targets``: see soft_logits).
SEEDED = {"base": {}, "b64": {"recipe": (("batch_size", 64),)},
          "lr15": {"recipe": (("lr", 0.15),)}, "b32": {"recipe": (("batch_size", 32),)},
          "b32s": {"recipe": (("batch_size", 32), ("lr", 0.025))},
          "half": {"alpha": 0.5}, "long": {"epochs": 120}, "short": {"epochs": 30},
          "teacher1": {"teacher_seed": 1}, "shiftavg": {"targets": "shiftavg"},
          "ens2": {"targets": "ens2"}, "ens2shiftavg": {"targets": "ens2shiftavg"},
          "mcdrop": {"targets": "mcdrop"}, "T8": {"T": 8.0}}
WARMUP = 5  # epochs
FIRST_LR = 0.05  # the students' first paper recipe, without a warm-up


def dead_units(net, X) -> list[int]:
    """Per hidden layer of an MLP, the ReLUs that output 0 on every row of ``X``."""
    import torch

    dead, h = [], torch.tensor(X, dtype=torch.float32)  # a copy: train.X is read-only
    with torch.no_grad():
        for layer in net.body:
            h = layer(h)
            if isinstance(layer, torch.nn.ReLU):
                dead.append(int((h.amax(0) == 0).sum()))
    return dead


def dropout_mean_logits(teacher, X, masks: int = 25, batch_size: int = 4096):
    """The teacher's logits for every row of ``X`` averaged over ``masks`` dropout masks (in
    training mode, its weights unchanged; seeded, the global random stream untouched)."""
    import numpy as np
    import torch

    out = np.zeros((len(X), teacher.head.out_features), np.float64)
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(0)
        teacher.train()
        try:
            for _ in range(masks):
                for i in range(0, len(X), batch_size):
                    xb = torch.tensor(np.asarray(X[i:i + batch_size]), dtype=torch.float32)
                    out[i:i + batch_size] += teacher(xb).double().numpy()
        finally:
            teacher.eval()
    return (out / masks).astype(np.float32)


def soft_logits(targets, teacher, X, train, p):
    """The soft targets' logits for every image of ``X``: the teacher's (``targets`` None),
    its mean over the ±``p.teacher_jitter`` shifts of each image (``"shiftavg"``), the mean of
    it and the second teacher's (``"ens2"``), both means (``"ens2shiftavg"``), or its mean over
    dropout masks on the unshifted images (``"mcdrop"``)."""
    if targets == "mcdrop":
        return dropout_mean_logits(teacher, X)
    teachers = [teacher]
    if targets in ("ens2", "ens2shiftavg"):
        teachers.append(train_teacher(train, replace(p, seed=p.seed + 1), name="teacher-seed1"))
    s = int(p.teacher_jitter) if targets in ("shiftavg", "ens2shiftavg") else 0
    shifts = [(dy, dx) for dy in range(-s, s + 1) for dx in range(-s, s + 1)]
    return sum(teacher_logits(t, shift_images(X, train.image_shape, dy, dx))
               for t in teachers for dy, dx in shifts) / (len(teachers) * len(shifts))


def main(variant: str, n: int | None = None) -> int:
    if variant not in VARIANTS:
        raise SystemExit(f"variant must be one of {', '.join(VARIANTS)}, got {variant!r}")
    p = get_profile("paper")
    train, test = load_dataset("mnist", "train"), load_dataset("mnist", "test")
    base = variant.removesuffix("alone")
    spec = SEEDED.get(base, {})
    teacher_seed = spec.get("teacher_seed", 0)
    teacher = train_teacher(train, replace(p, seed=p.seed + teacher_seed),
                            name=f"teacher-seed{teacher_seed}" if teacher_seed else "teacher")
    print("teacher test errors:", evaluate(teacher, test.X, test.y)["errors"])
    if base in SEEDED:
        q = replace(p, student_recipe=(*p.student_recipe, *spec.get("recipe", ())),
                    epochs=spec.get("epochs", p.epochs))
        logits = (None if variant.endswith("alone") else
                  soft_logits(spec.get("targets"), teacher, train.X, train, p))
        errors = []
        for i, qi in enumerate(seeded_profiles(q, n)):  # replicate's seeds (same keys)
            net = (train_generalist(train, qi, name=f"student-{base}-seed{i}") if logits is None
                   else train_distilled(train, qi, logits, name=f"distilled-{base}-seed{i}",
                                        alpha=spec.get("alpha"), T=spec.get("T")))
            errors.append(evaluate(net, test.X, test.y)["errors"])
            print(f"{variant} seed {i}: {errors[-1]} test errors, "
                  f"dead units {dead_units(net, train.X)}", flush=True)
        print(f"{variant}: {errors} test errors, mean {sum(errors) / len(errors):.1f}")
        return 0
    if variant == "teachers":
        for targets in (None, "shiftavg", "ens2", "ens2shiftavg", "mcdrop"):
            z = soft_logits(targets, teacher, test.X, train, p)
            print(f"teachers {targets or 'plain'}: {int((z.argmax(1) != test.y).sum())} "
                  "test errors")
        return 0
    if variant.startswith("fast") and variant != "fast":
        # replicate's own recipes (train_distilled / train_generalist) with the rate doubled
        # (quadrupled: faster) and warmed up, so that the profile can adopt them as they are
        lr = (4 if variant == "faster" else 2) * FIRST_LR
        k = int(variant[-1]) if variant[-1].isdigit() else 0
        q = replace(p, seed=p.seed + 10 * k, student_recipe=(
            *p.student_recipe, ("lr", lr), ("warmup", WARMUP)))
        net = (train_generalist(train, q, name="student-fast") if variant == "fastalone" else
               train_distilled(train, q, teacher_logits(teacher, train.X),
                               alpha={"fastsoft": 1.0, "fasthalf": 0.5}.get(variant),
                               name=f"distilled-{variant}"))
    elif variant in ("jitter", "control"):
        net = jittered_transfer(train, p, teacher)[
            "distilled_jittered" if variant == "jitter" else "student_jittered"]
    else:
        opts = {**p.fit_options("student"), "lr": FIRST_LR}
        opts.pop("warmup", None)
        T = {"lowT": 8.0, "warmT8": 8.0, "warmT4": 4.0}.get(variant, T_HIGH)
        alpha = {"soft": 1.0, "warmsoft": 1.0, "warmhalf": 0.5}.get(variant, ALPHA)
        init = p.seed + 1
        if variant == "longer":
            opts["epochs"] = 2 * opts["epochs"]
        elif variant == "fast":
            opts["lr"] = 4 * opts["lr"]
        elif variant == "slow":
            opts["lr"] = opts["lr"] / 4
        elif variant == "adam":
            opts.update(optimizer="adam", lr=1e-3)
        elif variant.startswith("seed") or variant in ("warm1", "warm2"):
            k = int(variant[-1])
            opts["seed"], init = p.seed + 10 * k, p.seed + 1 + 10 * k
        if variant.startswith("warm"):
            opts["warmup"] = WARMUP
        if variant == "warmlong":
            opts["epochs"] = 3 * opts["epochs"]
        elif variant == "warmfast":
            opts["lr"] = 2 * opts["lr"]
        elif variant == "warmb32":
            opts["batch_size"] = 32
        net = distill_student(MLP(train.X.shape[1], p.student_hidden, len(train.classes),
                                  seed=init), train.X,
                              logits=teacher_logits(teacher, train.X), y=train.y, T=T,
                              alpha=alpha, name=f"distilled-{variant}", **opts)
    print(f"dead units (of {p.student_hidden}): {dead_units(net, train.X)}")
    print(f"{variant}: {evaluate(net, test.X, test.y)['errors']} test errors")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1] if len(sys.argv) > 1 else "",
                          int(sys.argv[2]) if len(sys.argv) > 2 else None))
