"""Run profiles: the three sizes exist, ``$KDLAB_PROFILE`` picks one, and they grow in order."""

from __future__ import annotations

import dataclasses
import math

import pytest

from kdlab.data import DATASETS
from kdlab.profiles import PROFILES, Profile, describe, get_profile

NAMES = ("ci", "laptop", "paper")


def test_the_three_profiles_exist():
    assert set(PROFILES) == set(NAMES)
    for name in NAMES:
        profile = get_profile(name)
        assert isinstance(profile, Profile)
        assert profile.name == name


@pytest.mark.parametrize("name", NAMES)
def test_environment_variable_selects_the_profile(monkeypatch, name):
    monkeypatch.setenv("KDLAB_PROFILE", name)
    assert get_profile().name == name


@pytest.mark.parametrize("value", [None, "", "   "])
def test_default_is_laptop(monkeypatch, value):
    if value is None:
        monkeypatch.delenv("KDLAB_PROFILE", raising=False)
    else:
        monkeypatch.setenv("KDLAB_PROFILE", value)
    assert get_profile().name == "laptop"


def test_an_explicit_name_wins_over_the_environment(monkeypatch):
    monkeypatch.setenv("KDLAB_PROFILE", "paper")
    assert get_profile("ci").name == "ci"


def test_names_are_case_and_space_insensitive(monkeypatch):
    monkeypatch.setenv("KDLAB_PROFILE", " CI ")
    assert get_profile().name == "ci"
    assert get_profile("Paper").name == "paper"


@pytest.mark.parametrize("via_env", [False, True])
def test_unknown_profile_names_the_valid_ones(monkeypatch, via_env):
    if via_env:
        monkeypatch.setenv("KDLAB_PROFILE", "huge")
        call = get_profile
    else:
        def call():
            return get_profile("huge")
    with pytest.raises(ValueError, match="'huge'") as info:
        call()
    message = str(info.value)
    assert all(f"'{name}'" in message for name in NAMES), message
    if via_env:
        assert "KDLAB_PROFILE" in message


def test_a_non_string_name_is_a_type_error():
    with pytest.raises(TypeError, match="profile name"):
        get_profile(3)


def _size(n):
    return math.inf if n is None else n  # None means "all of them"


def test_ci_is_smaller_than_laptop_which_is_at_most_paper():
    ci, laptop, paper = (get_profile(n) for n in NAMES)
    for field in ("n_train", "n_test"):
        a, b, c = (_size(getattr(p, field)) for p in (ci, laptop, paper))
        assert a < b <= c, field
    for field in ("epochs", "teacher_epochs"):
        a, b, c = (getattr(p, field) for p in (ci, laptop, paper))
        assert a <= b <= c, field
    # ci may train as many epochs (its nets and data are tiny), but does far less work
    for field, hidden in (("epochs", "student_hidden"), ("teacher_epochs", "teacher_hidden")):
        work = [_size(p.n_train) * getattr(p, field) * sum(getattr(p, hidden))
                for p in (ci, laptop, paper)]
        assert work[0] * 10 < work[1] <= work[2], field


def test_paper_profile_uses_the_papers_network_sizes():
    paper = get_profile("paper")
    assert paper.teacher_hidden == (1200, 1200)
    assert paper.student_hidden == (800, 800)
    assert paper.tiny_hidden == (30, 30)
    assert paper.n_train is None and paper.n_test is None


@pytest.mark.parametrize("name", NAMES)
def test_every_profile_is_usable(name):
    p = get_profile(name)
    assert p.dataset in DATASETS
    for n in (p.n_train, p.n_test):
        assert n is None or (isinstance(n, int) and n > 0)
    assert p.epochs > 0 and p.teacher_epochs > 0 and p.batch_size > 0 and p.lr > 0
    for hidden in (p.teacher_hidden, p.student_hidden, p.tiny_hidden):
        assert hidden and all(isinstance(h, int) and h > 0 for h in hidden)
    # the student is smaller than the teacher it learns from
    assert sum(p.student_hidden) < sum(p.teacher_hidden)
    assert 0 <= p.teacher_dropout < 1
    assert isinstance(p.teacher_jitter, int) and 0 <= p.teacher_jitter <= 4
    assert all(t > 0 for t in p.temperatures) and list(p.temperatures) == sorted(p.temperatures)


def test_profiles_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        get_profile("ci").epochs = 100


def test_describe_shows_every_field():
    p = get_profile("ci")
    text = describe(p)
    lines = text.splitlines()
    assert len(lines) == len(dataclasses.fields(p))
    for f in dataclasses.fields(p):
        assert any(line.split(":")[0].strip() == f.name for line in lines), f.name
    assert "fashion-mnist" in text
