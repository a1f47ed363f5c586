"""kdlab._paths.atomic_path: every file the lab writes (downloads, cached models, results)
appears whole under its final name, with a new file's usual permissions, or not at all."""

from __future__ import annotations

import os
import stat

import pytest
import torch

from kdlab._paths import _UMASK, atomic_path, write_atomic

EXPECTED_MODE = 0o666 & ~_UMASK


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_umask_is_the_process_umask():
    current = os.umask(0o022)
    os.umask(current)
    assert current == _UMASK


@pytest.mark.parametrize("write, read", [
    (lambda p: write_atomic(p, b"\x00\x00\x08\x01"), lambda p: p.read_bytes()),
    (lambda p: write_atomic(p, lambda tmp: torch.save({"w": torch.ones(2)}, tmp)),
     lambda p: torch.load(p, weights_only=True)["w"].tolist()),
    (lambda p: write_atomic(p, "| a | b |\n"), lambda p: p.read_text(encoding="utf-8")),
], ids=["download", "cached model", "results"])
def test_each_writer_leaves_one_whole_file_readable_like_any_new_file(tmp_path, write, read):
    path = tmp_path / "sub" / "file"
    write(path)
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["file"]
    assert mode(path) == EXPECTED_MODE != 0o600  # not mkstemp's owner-only mode
    assert read(path)


def test_a_failure_leaves_nothing_and_keeps_the_old_file(tmp_path):
    path = tmp_path / "results.md"
    path.write_text("old")
    with pytest.raises(RuntimeError, match="disk full"), atomic_path(path) as tmp:
        tmp.write_text("half of the new")
        raise RuntimeError("disk full")
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["results.md"]


def test_the_new_file_replaces_the_old_one_only_at_the_end(tmp_path):
    path = tmp_path / "model.pt"
    path.write_text("old")
    with atomic_path(path) as tmp:
        tmp.write_text("new")
        assert path.read_text() == "old" and tmp.parent == tmp_path and tmp != path
    assert path.read_text() == "new"
