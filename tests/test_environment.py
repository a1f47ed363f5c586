"""The conda route (environment.yml) and the pip route (pyproject.toml) install the same things."""

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _norm(requirement: str) -> str:
    name, _, version = requirement.partition("==")
    return f"{re.sub(r'[-_.]+', '-', name.strip().lower())}=={version.strip()}"


def _pyproject_requirements() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        reqs += extra
    return {_norm(r) for r in reqs}


def _environment_pip() -> list[str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pips = [d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d]
    assert len(pips) == 1, "environment.yml must have exactly one pip section"
    return pips[0]


def test_environment_matches_pyproject():
    pip = _environment_pip()
    assert "-e ." in pip, "environment.yml must install kdlab itself (-e .)"
    assert {_norm(r) for r in pip if r != "-e ."} == _pyproject_requirements()


def test_every_dependency_is_pinned_and_torch_is_the_cpu_version_on_disk():
    reqs = _pyproject_requirements()
    assert all(re.fullmatch(r"[a-z0-9-]+==[0-9][\w.]*", r) for r in reqs), reqs
    # a bare `torch` or an open range pulls a multi-GB CUDA build on this project's machines
    assert "torch==2.13.0" in reqs


def test_environment_python_matches_requires_python():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    python = next(d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python="))
    floor = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    major, minor = map(int, python.split("=")[1].split(".")[:2])
    want = tuple(map(int, floor.removeprefix(">=").split(".")))
    assert (major, minor) >= want


def test_readme_shows_the_two_commands_and_ci_runs_the_test_command():
    readme = (ROOT / "README.md").read_text()
    assert "make lab" in readme and "make test" in readme
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^make test$", ci, re.M), ".ci/run must run the README's test command"
