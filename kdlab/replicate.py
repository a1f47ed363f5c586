"""Replicate the paper's experiments end to end and record every number beside the paper's.

``python -m kdlab.replicate [--dataset fashion-mnist|mnist|digits] [--profile ci|laptop|paper]
[--out DIR]`` runs, with the notebooks' own recipes and the run profile's sizes: the teacher,
the student alone and the distilled student (chapter 02); a class omitted from the transfer set
and its bias shift chosen on a validation split (02); soft targets on 3% of the data (02);
an ensemble distilled into one network, and a transfer set of two classes whose biases
are shifted together (02);
covariance clustering of a small generalist's held-out predictions (03); dustbin specialists
(04) and their combination by KL inference (05), over several seeds, with three controls. It
writes ``results-<dataset>-<profile>.json`` (every number, the hardware and the wall time of
each experiment; ``"specialists"`` and ``"combination"`` for chapters 04-05) and
``results-<dataset>-<profile>.md`` (our numbers beside the paper's, and the targets of the
replication, met or not) to ``--out``
(default ``data/results/``). Trained networks are cached like everywhere else in the lab, so a
second run only evaluates them. See ``book/reproducing.md``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

from kdlab._paths import repo_data_dir, write_atomic
from kdlab.clustering import cluster_classes
from kdlab.covariance import prediction_correlation
from kdlab.data import (
    DATASETS,
    DataNotFoundError,
    load_dataset,
)
from kdlab.distill import teacher_logits
from kdlab.experiments import (
    ALPHA,
    BIAS_SHIFTS,
    PAPER_MNIST,
    PAPER_SPEECH,
    SMALL_FRACTION,
    T_HIGH,
    choose_bias_shift,
    ensemble_experiment,
    errors_with_bias_shift,
    gap_closed,
    jittered_transfer,
    omitted_transfer_set,
    small_transfer_set,
    specialist_data,
    specialist_experiment,
    specialist_groups,
    specialist_split,
    train_distilled,
    train_generalist,
    train_seeded_students,
    train_small_generalists,
    train_teacher,
    two_class_experiment,
    two_class_pair,
)
from kdlab.profiles import PROFILES, Profile, get_profile
from kdlab.train import evaluate, get_device, predict_logits, predict_proba

__all__ = ["run", "check_targets", "render_markdown", "write_results", "main"]

N_CLUSTERS = 5                     # K of the covariance clustering (chapters 03-05)
N_REF = PAPER_MNIST["n_test"]      # the paper counts errors out of 10,000 test images

#: The targets of the replication (issue 8): on MNIST, errors per 10,000 test images.
MNIST_TARGETS = (("teacher", "<=", 70), ("distilled", "<=", 80), ("student", ">=", 110))
#: Elsewhere (Fashion-MNIST, digits): the fraction of the teacher-student gap distillation closes.
GAP_TARGET = 0.5


def omitted_class(dataset: str) -> str:
    """The class left out of the transfer set: the paper's 3 on digits, else Pullover."""
    return "Pullover" if dataset == "fashion-mnist" else "3"


def _load(name: str, split: str, n: int | None, seed: int):
    """The profile's subset of ``name``, or all of it when the profile asks for more."""
    full = load_dataset(name, split)
    if n is None or n >= len(full.y):
        return full
    return load_dataset(name, split, n=n, seed=seed)


def _errors_per_ref(errors: int, n: int) -> float:
    return errors * N_REF / n


def hardware() -> dict:
    """The machine the numbers come from: device, its name, torch, Python, CPU count."""
    device = get_device()
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
    else:
        name = platform.processor() or platform.machine() or device.type
    return {"device": str(device), "device_name": name, "torch": torch.__version__,
            "python": platform.python_version(), "platform": platform.platform(),
            "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads()}


def run(dataset: str = "fashion-mnist", profile=None, log=print) -> dict:
    """Run every experiment on ``dataset`` at ``profile`` (a name or a Profile); return the numbers.

    The recipes are the notebooks' (chapters 02-05), so the networks trained here and there
    share the cache. ``log`` receives one line per experiment.
    """
    p = profile if isinstance(profile, Profile) else get_profile(profile)
    start_all = time.perf_counter()
    train = _load(dataset, "train", p.n_train, p.seed)
    test = _load(dataset, "test", p.n_test, p.seed)
    n = len(test.y)
    names = list(train.classes)
    torch.manual_seed(p.seed)
    out = {"dataset": dataset, "profile": dataclasses.asdict(p), "classes": names,
           "n_train": len(train.y), "n_test": n, "hardware": hardware(), "experiments": {}}
    seconds = {}

    def step(key, title):
        log(f"[{len(seconds) + 1}/8] {title} ...")
        return key, time.perf_counter()

    def done(key, t0, summary):
        seconds[key] = round(time.perf_counter() - t0, 3)
        out["experiments"][key]["seconds"] = seconds[key]
        log(f"      {summary} ({seconds[key]:.1f} s)")

    # 1 · teacher, student alone, distilled student (chapter 02, section 1)
    key, t0 = step("distillation", "teacher, student alone, distilled student (T = 20)")
    teacher = train_teacher(train, p)  # chapter 02's recipe, one definition
    logits_train = teacher_logits(teacher, train.X)
    # the student alone (chapters 02-06's generalist) and the distilled one, over seeds
    seeded = train_seeded_students(train, p, logits_train, T=T_HIGH, alpha=ALPHA)
    student = seeded["student"][0]  # chapters 02-06's generalist: the 3% run's reference
    nets = {"teacher": teacher}
    if p.transfer_jitter:  # the same two students on jittered images (book/reproducing.md)
        nets.update(jittered_transfer(train, p, teacher, T=T_HIGH, alpha=ALPHA))
    seed_errors = {k: [int(evaluate(net, test.X, test.y)["errors"]) for net in runs]
                   for k, runs in seeded.items()}
    errors = {**{k: int(evaluate(net, test.X, test.y)["errors"]) for k, net in nets.items()},
              "student": seed_errors["student"][0], "distilled": seed_errors["distilled"][0]}
    mean = {"teacher": float(errors["teacher"]),
            **{k: float(np.mean(v)) for k, v in seed_errors.items()}}
    paper = {k: PAPER_MNIST[k] for k in ("teacher", "student", "distilled")}
    closed = gap_closed(mean["teacher"], mean["student"], mean["distilled"])
    out["experiments"][key] = {
        "T": T_HIGH, "alpha": ALPHA, "n_test": n, "errors": errors,
        "seed_errors": seed_errors, "mean_errors": mean,
        "errors_per_10000": {k: _errors_per_ref(e, n) for k, e in {**errors, **mean}.items()},
        "gap_closed": closed, "paper": {**paper, "n_test": N_REF},
        "paper_gap_closed": gap_closed(*paper.values()),
        "transfer_jitter": p.transfer_jitter}
    if p.transfer_jitter:
        out["experiments"][key]["gap_closed_jittered"] = gap_closed(
            errors["teacher"], errors["student_jittered"], errors["distilled_jittered"])
    done(key, t0, f"errors of {n}: teacher {errors['teacher']}, student "
                  f"{_seeds(seed_errors['student'])}, distilled "
                  f"{_seeds(seed_errors['distilled'])}; gap closed {_pct(closed)}" + (
                      f"; on images jittered by up to {p.transfer_jitter} px: student "
                      f"{errors['student_jittered']}, distilled {errors['distilled_jittered']}"
                      if p.transfer_jitter else ""))

    # 2 · a class never seen in the transfer set, and its bias shift (chapter 02, section 5)
    name = omitted_class(dataset)
    key, t0 = step("omitted_class", f"class {name!r} omitted from the transfer set")
    omit = names.index(name)
    transfer, val_idx = omitted_transfer_set(train, p, omit)
    blind = train_distilled(train, p, logits_train, rows=transfer, name="omitted")
    shift, _ = choose_bias_shift(blind, train.X[val_idx], train.y[val_idx], omit, BIAS_SHIFTS)
    z_test = predict_logits(blind, test.X)
    before, after = errors_with_bias_shift(z_test, test.y, omit, [0.0, shift])
    on_class = test.y == omit
    cls_before, cls_after = errors_with_bias_shift(z_test[on_class], test.y[on_class], omit,
                                                   [0.0, shift])
    out["experiments"][key] = {
        "class": name, "class_index": omit, "transfer_size": len(transfer),
        "validation_size": len(val_idx),
        "shift_grid": [float(BIAS_SHIFTS[0]), float(BIAS_SHIFTS[-1]),
                       float(BIAS_SHIFTS[1] - BIAS_SHIFTS[0])],
        "bias_shift": shift, "n_test": n, "n_class_test": int(on_class.sum()),
        "errors_before": int(before), "errors_after": int(after),
        "on_class_before": int(cls_before), "on_class_after": int(cls_after),
        "paper": {k: PAPER_MNIST[k] for k in ("omitted", "omitted_on_class", "shifted",
                                             "shifted_on_class", "bias_shift", "n_test",
                                             "n_class_test")}}
    done(key, t0, f"errors {before} -> {after} ({cls_before} -> {cls_after} on the class) "
                  f"after raising its bias by {shift:g}")

    # 3 · soft targets as a regulariser on 3% of the data (chapter 02, section 7)
    key, t0 = step("soft_targets_3pct", "hard vs soft targets on 3% of the training set")
    small, small_epochs = small_transfer_set(train, p)  # half the full-data updates
    hard3 = train_generalist(train, p, rows=small, epochs=small_epochs, name="hard-3pct")
    soft3 = train_distilled(train, p, logits_train, rows=small, epochs=small_epochs,
                            name="soft-3pct")
    acc = {k: float(evaluate(net, test.X, test.y)["accuracy"])
           for k, net in [("hard_3pct", hard3), ("soft_3pct", soft3), ("full", student)]}
    out["experiments"][key] = {
        "fraction": SMALL_FRACTION, "n_small": len(small), "epochs": small_epochs,
        "accuracy": acc, "gap_closed": _fraction(acc["soft_3pct"] - acc["hard_3pct"],
                                                 acc["full"] - acc["hard_3pct"]),
        "paper": dict(PAPER_SPEECH),
        "paper_gap_closed": _fraction(PAPER_SPEECH["soft_3pct"] - PAPER_SPEECH["hard_3pct"],
                                      PAPER_SPEECH["full"] - PAPER_SPEECH["hard_3pct"])}
    done(key, t0, f"accuracy: hard {acc['hard_3pct']:.1%}, soft {acc['soft_3pct']:.1%} on "
                  f"{len(small)} images; all data {acc['full']:.1%}")

    # chapter 02, section 3 · an ensemble distilled into one network (paper: speech, Table 1)
    key, t0 = step("ensemble", f"an ensemble of {p.ensemble_size} networks, and one distilled "
                               "from it")
    ens = ensemble_experiment(train, test, p)
    out["experiments"][key] = {k: ens[k] for k in (
        "members", "hidden", "member_errors", "mean_member_errors", "ensemble_errors",
        "mean_logit_errors", "distilled_errors", "gain_kept", "T", "alpha", "n_test", "paper",
        "paper_gain_kept")}
    done(key, t0, f"errors: members {min(ens['member_errors'])}-{max(ens['member_errors'])} "
                  f"(mean {ens['mean_member_errors']:.1f}), ensemble {ens['ensemble_errors']}, "
                  f"distilled {ens['distilled_errors']}; gain kept {_pct(ens['gain_kept'])}")

    # chapter 02, section 6 · a transfer set of two classes, both biases shifted (paper: 7s, 8s)
    key, t0 = step("two_class_transfer",
                   f"a transfer set of {' and '.join(two_class_pair(names))} only")
    two = two_class_experiment(train, test, p, logits_train)
    out["experiments"][key] = {k: two[k] for k in (
        "classes", "class_indices", "transfer_size", "validation_size", "n_test", "T", "alpha",
        "bias_shift", "errors_before", "errors_after", "paper")}
    out["experiments"][key]["shift_grid"] = [two["shifts"][0], two["shifts"][-1],
                                             two["shifts"][1] - two["shifts"][0]]
    done(key, t0, f"errors {two['errors_before']} -> {two['errors_after']} of {n} after "
                  f"shifting both biases by {two['bias_shift']:g}")

    # 4-6 · the specialists experiment of chapters 03-05 (issue 20): a small generalist per
    # seed, groups from its held-out predictions, specialists and their three controls
    sp_train, sp_test = specialist_data(p, dataset)
    key, t0 = step("clustering", f"covariance clustering of held-out predictions, "
                                 f"K = {p.specialist_clusters}")
    generalists = train_small_generalists(sp_train, p)
    _, val_rows = specialist_split(sp_train, p)
    clusters = cluster_classes(prediction_correlation(
        predict_proba(generalists[0], sp_train.X[val_rows])), p.specialist_clusters)
    subsets = specialist_groups(generalists[0], sp_train, p)
    out["experiments"][key] = {
        "matrix": "correlation of the generalist's predicted probabilities (held-out images)",
        "generalist_hidden": list(p.specialist_hidden), "n_held_out": len(val_rows),
        "n_clusters": p.specialist_clusters, "min_group_size": 2,
        "clusters": [[names[c] for c in g] for g in clusters],
        "groups": [[names[c] for c in g] for g in subsets],
        "group_indices": [[int(c) for c in g] for g in subsets]}
    done(key, t0, " | ".join(", ".join(names[c] for c in g) for g in subsets))

    key, t0 = step("specialists", f"{_count(len(subsets), 'dustbin specialist')} per seed, "
                                  f"{p.specialist_seeds} seeds, with their controls")
    exp = specialist_experiment(sp_train, sp_test, p)
    summary = exp.summary()
    out["specialists"] = [{k: g[k] for k in ("classes", "generalist_in_group_accuracy",
                                              "specialist_in_group_accuracy",
                                              "compute_matched_in_group_accuracy", "per_seed")}
                          for g in summary["specialists"]]
    out["experiments"][key] = {
        "epochs": p.specialist_epochs, "patience": p.specialist_patience,
        "dustbin_fraction": 0.5, "seeds": summary["seeds"],
        "n_specialists": len(subsets), "n_train": len(sp_train.y), "n_test": len(sp_test.y),
        "compute_matched_extra_epochs": summary["extra_epochs"],
        "epochs_run": summary["specialist_epochs_run"],
        "random_groups": [[[names[c] for c in g] for g in r] for r in exp.random_groups],
        "random_specialist_minus_generalist": summary["random_specialist_minus_generalist"],
        "specialists": [{"group": g["classes"], "n_test": int(np.isin(sp_test.y, S).sum()),
                         "dustbin_correction": float(exp.specialists[0][j].dustbin_correction),
                         **{k: g[k] for k in ("specialist_minus_generalist",
                                              "specialist_minus_compute_matched")}}
                        for j, (g, S) in enumerate(zip(summary["specialists"], exp.groups,
                                                       strict=True))],
        "verdicts": {k: list(v) for k, v in exp.verdicts().items()}}
    done(key, t0, "within-group accuracy, generalist -> specialist (mean of seeds): " + ", ".join(
        f"{g['generalist_in_group_accuracy']:.1%} -> {g['specialist_in_group_accuracy']:.1%}"
        for g in out["specialists"]))

    key, t0 = step("kl_inference", "KL inference: generalist + active specialists, controls")
    comb = summary["combination"]
    out["combination"] = {k: comb[k] for k in ("generalist_accuracy", "combined_accuracy",
                                               "two_generalists_accuracy",
                                               "random_groups_accuracy",
                                               "compute_matched_accuracy", "per_seed", "std")}
    out["experiments"][key] = {
        "method": "em", "n_top": 1,
        "accuracy": {"generalist": comb["generalist_accuracy"],
                     "combined": comb["combined_accuracy"],
                     "two_generalists": comb["two_generalists_accuracy"],
                     "random_groups": comb["random_groups_accuracy"],
                     "compute_matched": comb["compute_matched_accuracy"]},
        "n_seeds": len(exp.seeds), "paper_jft_accuracy": {"generalist": 0.250,
                                                          "combined": 0.261}}
    done(key, t0, f"accuracy (mean of {len(exp.seeds)} seeds): generalist "
                  f"{comb['generalist_accuracy']:.2%}, combined {comb['combined_accuracy']:.2%}, "
                  f"two generalists {comb['two_generalists_accuracy']:.2%}, random groups "
                  f"{comb['random_groups_accuracy']:.2%}, compute-matched "
                  f"{comb['compute_matched_accuracy']:.2%}")

    out["seconds"] = seconds
    out["total_seconds"] = round(time.perf_counter() - start_all, 3)
    out["targets"] = check_targets(out)
    return out


def _seeds(values) -> str:
    """``"80.7 (75, 87, 80)"``: the mean of several seeds and each; one seed as it is."""
    if len(values) == 1:
        return f"{values[0]:g}"
    return f"{np.mean(values):.1f} ({', '.join(f'{v:g}' for v in values)})"


def _count(n: int, noun: str) -> str:
    """``"1 specialist"``, ``"4 specialists"``."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _fraction(num: float, den: float) -> float:
    return num / den if den > 0 else float("nan")


def check_targets(results: dict) -> list[dict]:
    """The replication's targets for ``results``' data set, each with its verdict ``met``.

    On MNIST: teacher ≤ 70, distilled ≤ 80 and student alone ≥ 110 test errors, counted per
    10,000 test images (scaled when the profile uses fewer). Elsewhere: distillation closes at
    least half of the teacher-student gap. A number that is not defined (``nan``) is not met.
    """
    dist = results["experiments"]["distillation"]
    if results["dataset"] == "mnist":
        targets = [{"id": f"{k}_errors", "quantity": f"{k} test errors per 10,000",
                    "value": dist["errors_per_10000"][k], "op": op, "threshold": float(th)}
                   for k, op, th in MNIST_TARGETS]
    else:
        targets = [{"id": "gap_closed", "quantity": "fraction of the teacher-student gap "
                    "closed by distillation", "value": dist["gap_closed"], "op": ">=",
                    "threshold": GAP_TARGET}]
    for t in targets:
        v = t["value"]
        ok = v is not None and math.isfinite(v)
        t["met"] = bool(ok and (v <= t["threshold"] if t["op"] == "<=" else v >= t["threshold"]))
    return targets


def _clean(obj):
    """JSON-ready: numpy scalars to Python, ``nan``/``inf`` to ``None`` (strict JSON)."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def _pct(x) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{x:.1%}"


def render_markdown(results: dict) -> str:
    """A markdown report: our numbers beside the paper's, then the targets met or not."""
    r = results
    e = r["experiments"]
    hw = r["hardware"]
    d, o, s = e["distillation"], e["omitted_class"], e["soft_targets_3pct"]
    cl, kl = e["clustering"], e["kl_inference"]
    n, n_ref = r["n_test"], N_REF

    def err(count, of):
        shown = f"{count:.1f}" if count != int(count) else f"{int(count)}"  # a mean: 80.7
        return f"{shown} / {of} ({count / of:.2%})"

    def seeded(k):  # the mean of the seeds, then each: "80.7 / 10000 (0.81%); 75, 87, 80"
        runs = d["seed_errors"][k]
        return err(float(np.mean(runs)), n) + (
            "; " + ", ".join(map(str, runs)) if len(runs) > 1 else "")

    k_seeds = len(d["seed_errors"]["distilled"])
    seeds = f" (mean of {k_seeds} seeds; each)" if k_seeds > 1 else ""

    lines = [
        f"# kdlab replication: {r['dataset']}, profile `{r['profile']['name']}`", "",
        f"{r['n_train']} training and {n} test images; device {hw['device']} "
        f"({hw['device_name']}), torch {hw['torch']}, {hw['cpu_count']} CPUs; "
        f"{r['total_seconds']:.1f} s in all.", "",
        "Paper: Hinton, Vinyals & Dean (2015) — MNIST test errors (section 3), speech frame "
        "accuracy (Tables 1 and 5), JFT accuracy (section 5). Ours are on "
        f"{r['dataset']}; compare error rates, not counts.", "",
        "| experiment | ours | paper | paper's data |", "|---|---:|---:|---|",
    ]
    m, sp, jft = "MNIST", "speech (frames)", "JFT"
    rows = [
        ("teacher, test errors", err(d["errors"]["teacher"], n),
         err(d["paper"]["teacher"], n_ref), m),
        ("student alone, test errors" + seeds, seeded("student"),
         err(d["paper"]["student"], n_ref), m),
        (f"distilled (T = {d['T']:g}, α = {d['alpha']:g}), test errors" + seeds,
         seeded("distilled"), err(d["paper"]["distilled"], n_ref), m),
        ("gap closed by distillation", _pct(d["gap_closed"]), _pct(d["paper_gap_closed"]), m),
        *([(f"student alone, transfer set jittered ±{d['transfer_jitter']} px, test errors",
            err(d["errors"]["student_jittered"], n), "—", m),
           (f"distilled, transfer set jittered ±{d['transfer_jitter']} px, test errors",
            err(d["errors"]["distilled_jittered"], n), "—", m),
           ("gap closed on the jittered transfer set", _pct(d["gap_closed_jittered"]), "—", m)]
          if d.get("transfer_jitter") else []),
        (f"class {o['class']!r} omitted, test errors", err(o["errors_before"], n),
         err(o["paper"]["omitted"], n_ref), m),
        ("... of which on that class", f"{o['on_class_before']} / {o['n_class_test']}",
         f"{o['paper']['omitted_on_class']} / {o['paper']['n_class_test']}", m),
        (f"bias shift (chosen on {o['validation_size']} validation images)",
         f"{o['bias_shift']:g}", f"{o['paper']['bias_shift']:g}", m),
        ("after the shift, test errors", err(o["errors_after"], n),
         err(o["paper"]["shifted"], n_ref), m),
        ("... of which on that class", f"{o['on_class_after']} / {o['n_class_test']}",
         f"{o['paper']['shifted_on_class']} / {o['paper']['n_class_test']}", m),
        ("3% of the data, hard targets, accuracy", _pct(s["accuracy"]["hard_3pct"]),
         _pct(s["paper"]["hard_3pct"]), sp),
        ("3% of the data, soft targets, accuracy", _pct(s["accuracy"]["soft_3pct"]),
         _pct(s["paper"]["soft_3pct"]), sp),
        ("all the data, hard targets, accuracy", _pct(s["accuracy"]["full"]),
         _pct(s["paper"]["full"]), sp),
        ("gap to all the data closed by soft targets", _pct(s["gap_closed"]),
         _pct(s["paper_gap_closed"]), sp),
        *_chapter02_rows(e, n, sp, m),
        ("small generalist accuracy (mean of seeds)", _pct(kl["accuracy"]["generalist"]),
         _pct(kl["paper_jft_accuracy"]["generalist"]), jft),
        ("generalist + specialists (KL inference) accuracy", _pct(kl["accuracy"]["combined"]),
         _pct(kl["paper_jft_accuracy"]["combined"]), jft),
        ("control: two generalists (KL inference)", _pct(kl["accuracy"]["two_generalists"]),
         "—", "—"),
        ("control: specialists on random groups", _pct(kl["accuracy"]["random_groups"]), "—",
         "—"),
        ("control: generalist trained as long (compute-matched)",
         _pct(kl["accuracy"]["compute_matched"]), "—", "—"),
    ]
    lines += [f"| {a} | {b} | {c} | {dd} |" for a, b, c, dd in rows]
    lines += [
        "",
        f"Covariance clustering (K = {cl['n_clusters']}, groups of at least "
        f"{cl['min_group_size']} classes): "
        + ("; ".join(", ".join(g) for g in cl["groups"]) or "no group") + ".",
        f"{_count(e['specialists']['n_specialists'], 'specialist')} per seed, "
        f"{len(e['specialists']['seeds'])} seeds, at most {e['specialists']['epochs']} epochs "
        "each with early stopping on held-out images. Within-group test accuracy, mean of the "
        "seeds:", "",
        "| group | generalist | specialist | generalist trained as long |", "|---|---:|---:|---:|",
        *[f"| {', '.join(g['classes'])} | {_pct(g['generalist_in_group_accuracy'])} | "
          f"{_pct(g['specialist_in_group_accuracy'])} | "
          f"{_pct(g['compute_matched_in_group_accuracy'])} |" for g in r["specialists"]], "",
        "## Targets", "",
        "| target | ours | verdict |", "|---|---:|---|"]
    for t in r["targets"]:
        v = t["value"]
        shown = "n/a" if v is None or not math.isfinite(v) else (
            _pct(v) if t["id"] == "gap_closed" else f"{v:.1f}")
        th = _pct(t["threshold"]) if t["id"] == "gap_closed" else f"{t['threshold']:g}"
        op = "≤" if t["op"] == "<=" else "≥"
        lines.append(f"| {t['quantity']} {op} {th} | {shown} | "
                     f"{'met' if t['met'] else 'not met'} |")
    lines += ["", "Wall time (s): " + ", ".join(f"{k} {v:.1f}" for k, v in r["seconds"].items())
              + f"; total {r['total_seconds']:.1f}.", ""]
    return "\n".join(lines)


def _chapter02_rows(e: dict, n: int, speech: str, mnist: str) -> list[tuple]:
    """The report's rows for the ensemble and the two-class transfer set (absent: none)."""
    rows = []
    if "ensemble" in e:
        en = e["ensemble"]
        K, pp = en["members"], en["paper"]

        def acc(errors):
            return _pct(1 - errors / n)

        rows += [
            (f"one member of the ensemble (mean of {K}), accuracy",
             acc(en["mean_member_errors"]), _pct(pp["baseline"]), speech),
            (f"ensemble of {K} (mean of probabilities), accuracy", acc(en["ensemble_errors"]),
             f"{_pct(pp['ensemble'])} ({pp['members']} models)", speech),
            (f"one network distilled from it (T = {en['T']:g}), accuracy",
             acc(en["distilled_errors"]), _pct(pp["distilled"]), speech),
            ("ensemble's gain kept by distillation", _pct(en["gain_kept"]),
             _pct(en["paper_gain_kept"]), speech)]
    if "two_class_transfer" in e:
        tc = e["two_class_transfer"]
        pp = tc["paper"]
        rows += [
            (f"transfer set of {' and '.join(tc['classes'])} only, test error rate",
             _pct(tc["errors_before"] / n), _pct(pp["errors_before"]), mnist + " (7s and 8s)"),
            (f"both biases shifted (chosen on {tc['validation_size']} validation images)",
             f"{tc['bias_shift']:g}", f"{pp['bias_shift']:g}", mnist + " (7s and 8s)"),
            ("after the shift, test error rate", _pct(tc["errors_after"] / n),
             _pct(pp["errors_after"]), mnist + " (7s and 8s)")]
    return rows


def write_results(results: dict, out_dir) -> tuple[Path, Path]:
    """Write ``results-<dataset>-<profile>.json`` and ``.md`` into ``out_dir``, atomically."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"results-{results['dataset']}-{results['profile']['name']}"
    clean = _clean(results)
    json_path, md_path = out_dir / f"{stem}.json", out_dir / f"{stem}.md"
    write_atomic(json_path, json.dumps(clean, indent=2, allow_nan=False) + "\n")
    write_atomic(md_path, render_markdown(results))
    return json_path, md_path


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m kdlab.replicate",
        description="Run the paper's experiments end to end and record the results beside "
                    "the paper's numbers.")
    parser.add_argument("--dataset", choices=DATASETS, default="fashion-mnist",
                        help="data set (default: fashion-mnist; mnist for the paper's own)")
    parser.add_argument("--profile", choices=list(PROFILES), default=None,
                        help="run profile (default: $KDLAB_PROFILE, else laptop)")
    parser.add_argument("--out", type=Path, default=None,
                        help="folder for the results (default: data/results/)")
    return parser


def main(argv=None) -> int:
    """The command line; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        profile = get_profile(args.profile)
    except ValueError as exc:
        parser.error(str(exc))
    out_dir = args.out if args.out is not None else repo_data_dir() / "results"
    print(f"kdlab.replicate: {args.dataset}, profile {profile.name}, device {get_device()}",
          flush=True)
    try:
        results = run(args.dataset, profile,
                      log=lambda line: print(line, flush=True))
    except DataNotFoundError as exc:
        print(f"kdlab.replicate: {exc}", file=sys.stderr)
        return 1
    json_path, md_path = write_results(results, out_dir)
    for t in results["targets"]:
        print(f"target {t['id']} {t['op']} {t['threshold']:g}: "
              f"{'met' if t['met'] else 'not met'}")
    print(f"wrote {json_path} and {md_path} ({results['total_seconds']:.1f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
