"""Atomic writes: every file (or directory) of the pipeline is written under a temporary name
in its own directory and renamed into place, so that an interrupted job never leaves a
complete-looking output.

Usage::

    with atomic_write("results/table.csv") as tmp:
        frame.to_csv(tmp)

The temporary sibling is ``.{name}.tmp{pid}``: hidden, unique per process, and ending in the
name of the target, so that what a writer derives from its file name stays free of the process
id (``torch.save`` names its archive's root folder after the file: ``.best.pt``, the same in
every run, so that a checkpoint is the same bytes for the same weights). Writers that infer a
format from the suffix (matplotlib) must be given it (:func:`spinodoid.plotting.save_figure`
does). A successful write also removes the temporary siblings that killed writers of the same
path left behind (a cancelled job that is run again leaves no stray file).
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

__all__ = ["atomic_write", "temporary_sibling", "write_text_atomic"]


def temporary_sibling(path: str | os.PathLike[str]) -> Path:
    """The temporary name :func:`atomic_write` writes before renaming to ``path``."""
    path = Path(path)
    return path.with_name(f".{path.name}.tmp{os.getpid()}")


def _remove(path: Path) -> None:
    """Remove a file or a directory tree, if present."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary sibling of ``path`` to write; rename it to ``path`` on success.

    The temporary file or directory is removed if the block raises. A directory written this
    way replaces an existing directory at ``path`` (e.g. a zarr store).

    Args:
        path: the final file or directory.

    Yields:
        The temporary path (same directory as ``path``), not yet existing.
    """
    path = Path(path)
    tmp = temporary_sibling(path)
    _remove(tmp)
    try:
        yield tmp
    except BaseException:
        _remove(tmp)
        raise
    if tmp.is_dir() and path.exists():
        _remove(path)
    os.replace(tmp, path)
    _remove_orphans(path)


def _remove_orphans(path: Path) -> None:
    """Remove the temporary siblings of ``path`` left by writers that were killed (SIGKILL,
    a cancelled SLURM job: no ``finally`` runs); a sibling whose process still runs stays."""
    for orphan in path.parent.glob(f".{glob.escape(path.name)}.tmp*"):
        pid = orphan.name.rpartition(".tmp")[2]
        if pid.isdigit() and not _process_alive(int(pid)):
            _remove(orphan)


def _process_alive(pid: int) -> bool:
    """True if a process ``pid`` exists on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` through :func:`atomic_write`."""
    with atomic_write(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
