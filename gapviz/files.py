"""Safe file writing (nothing the user wrote is overwritten or lost half-way), and reading TOML settings."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import tomllib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from gapviz.errors import GapvizError


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, overwrite: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds.

    With ``overwrite=False`` an existing ``path`` is refused before any work is done.
    The temporary file is removed if the block raises (including KeyboardInterrupt).
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise GapvizError(f"{path}: already exists; refusing to overwrite it (pass --overwrite to replace it)")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp_path, 0o666 & ~umask)  # mkstemp makes 0600; give the file the usual permissions
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


@contextlib.contextmanager
def staged_folder(out_dir: str | os.PathLike, names: Sequence[str],
                  check: Callable[[Path], None] = lambda out_dir: None) -> Iterator[Path]:
    """Yield a staging folder beside ``out_dir`` to write the files ``names`` into; only if the block succeeds,
    move them into ``out_dir``: the whole folder renamed into place when ``out_dir`` does not exist, else
    ``check(out_dir)`` (which may refuse) and each file replaced in the order given (put the one that says
    "done", e.g. report.json, last). On an error ``out_dir`` stays as it was and the staging folder goes."""
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".tmp", dir=out_dir.parent))
    try:
        yield staging
        umask = os.umask(0)
        os.umask(umask)
        if not out_dir.exists():
            os.chmod(staging, 0o777 & ~umask)  # mkdtemp makes 0700
            try:
                os.rename(staging, out_dir)
            except OSError:  # appeared meanwhile: fall through to moving the files in
                pass
        if staging.exists():
            check(out_dir)
            out_dir.mkdir(parents=True, exist_ok=True)
            for name in names:
                os.replace(staging / name, out_dir / name)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def atomic_write_text(path: str | os.PathLike, text: str, overwrite: bool = True) -> None:
    """Write ``text`` to ``path`` atomically."""
    with atomic_path(path, overwrite=overwrite) as tmp:
        tmp.write_text(text)


def read_toml(path: str | os.PathLike, what: str) -> dict:
    """The parsed TOML file ``path``; GapvizError "no such {what}" or "not valid TOML: ..." naming the file."""
    path = Path(path)
    if not path.is_file():
        raise GapvizError(f"{path}: no such {what}")
    try:
        return tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise GapvizError(f"{path}: not valid TOML: {exc}") from None
