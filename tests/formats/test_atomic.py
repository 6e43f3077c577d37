"""Tests of spinodoid.formats.atomic: temporary sibling, rename on success, nothing left on
failure."""

import pytest

from spinodoid.formats.atomic import atomic_write, temporary_sibling, write_text_atomic


def test_a_file_appears_only_complete(tmp_path):
    target = tmp_path / "table.csv"
    with atomic_write(target) as tmp:
        assert tmp.parent == tmp_path and tmp.name.startswith(".table.csv.tmp")
        tmp.write_text("a,b\n")
        assert not target.exists()
    assert target.read_text() == "a,b\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["table.csv"]


def test_a_failed_write_leaves_neither_file_nor_temporary(tmp_path):
    target = tmp_path / "out.json"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_write(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("interrupted")
    assert target.read_text() == "old"
    assert not temporary_sibling(target).exists()


def test_a_directory_replaces_the_old_one(tmp_path):
    store = tmp_path / "dataset.zarr"
    (store / "old").mkdir(parents=True)
    with atomic_write(store) as tmp:
        (tmp / "new").mkdir(parents=True)
    assert [p.name for p in store.iterdir()] == ["new"]


def test_a_checkpoint_is_the_same_bytes_in_every_process(tmp_path):
    """torch.save names its archive after the file: the temporary name must not leak the pid."""
    torch = pytest.importorskip("torch")
    with atomic_write(tmp_path / "best.pt") as tmp:
        torch.save({"w": torch.zeros(2)}, tmp)
    import zipfile

    assert zipfile.ZipFile(tmp_path / "best.pt").namelist()[0].startswith(".best.pt/")


def test_write_text_atomic_writes_utf8(tmp_path):
    write_text_atomic(tmp_path / "t.html", "η θ̂")
    assert (tmp_path / "t.html").read_bytes() == "η θ̂".encode()


def test_a_killed_writers_temporary_is_removed_by_the_next_write(tmp_path):
    """A writer killed mid-write (a cancelled job: no cleanup runs) leaves its temporary
    sibling; the job's rerun removes it, but not the sibling of a writer still running."""
    import os
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    target = tmp_path / "shard.h5"
    orphan = tmp_path / f".shard.h5.tmp{int(dead.stdout)}"
    orphan.write_bytes(b"half")
    orphan_dir = tmp_path / f".shard.h5.tmp{int(dead.stdout)}x"  # not a pid suffix: kept
    orphan_dir.mkdir()
    running = tmp_path / f".shard.h5.tmp{os.getppid()}"
    running.write_bytes(b"busy")
    other = tmp_path / f".other.h5.tmp{int(dead.stdout)}"
    other.write_bytes(b"another file's")
    write_text_atomic(target, "done")
    assert target.read_text() == "done"
    assert not orphan.exists()
    assert running.exists() and other.exists() and orphan_dir.exists()
