"""The package's public names: every one resolves, lazily, to its module's object."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import kdlab

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", kdlab.__all__)
def test_every_public_name_is_its_modules_object(name):
    module = importlib.import_module(f"kdlab.{kdlab._EXPORTS[name]}")
    assert getattr(kdlab, name) is getattr(module, name)
    assert name in dir(kdlab)


def test_an_unknown_name_is_an_attribute_error_naming_it():
    with pytest.raises(AttributeError, match="no attribute 'softmax'"):
        kdlab.softmax  # noqa: B018


def test_importing_kdlab_loads_no_module_and_the_data_cli_runs_without_a_warning():
    """``python -m kdlab.data`` used to warn (RuntimeWarning: found in sys.modules) because
    ``import kdlab`` imported kdlab.data first."""
    code = "import sys, kdlab; print(sorted(m for m in sys.modules if m.startswith('kdlab')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, check=True)
    assert out.stdout.strip() == "['kdlab']"
    cli = subprocess.run([sys.executable, "-W", "error::RuntimeWarning", "-m", "kdlab.data",
                          "--help"], capture_output=True, text=True, cwd=ROOT)
    assert cli.returncode == 0, cli.stderr
    assert "RuntimeWarning" not in cli.stderr and "fetch" in cli.stdout
