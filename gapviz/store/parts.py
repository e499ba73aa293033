"""Chunk files: one star chunk's share of a store, written by whichever process computed it, merged later.

An apply that runs in several processes (or that must survive an interruption) keeps its work in a folder
beside the store, ``STORE_DIR/.apply-parts/`` (``parts_dir``): per star chunk a label file (pass 1) and a
part file (pass 2), each an HDF5 file written atomically (``gapviz.files.atomic_path``), so a file that
exists is complete. ``merge_part`` copies a part into an open ``StoreWriter``: the cubes chunk by chunk as
they were compressed (``cube_storage``), the per-star variables as regions, and the chunk's aggregate sums
into an ``Accumulator`` (sums add, so the merged store equals a single-process one).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping
from pathlib import Path

import h5py
import numpy as np

from gapviz.errors import GapvizError
from gapviz.files import atomic_path
from gapviz.store.aggregate import Accumulator
from gapviz.store.paths import store_dir
from gapviz.store.write import (
    StoreLayout,
    StoreWriter,
    cube_storage,
    encode,
    variable_spec,
)

#: The work folder of an apply in parts, beside the store it becomes.
PARTS_DIR = ".apply-parts"
MANIFEST = "manifest.json"


def parts_dir(store: str | os.PathLike) -> Path:
    """``STORE_DIR/.apply-parts``: the chunk files of an apply in parts."""
    return store_dir(store) / PARTS_DIR


def label_file(folder: Path, start: int) -> Path:
    return folder / f"labels-{start:010d}.h5"


def part_file(folder: Path, start: int) -> Path:
    return folder / f"part-{start:010d}.h5"


def prepare(folder: Path, manifest: Mapping[str, object], resume: bool) -> None:
    """Make the work folder for an apply described by ``manifest`` (its inputs). Without ``resume`` any
    earlier work there is removed; with it, earlier work is kept if it was for the same inputs, and a
    GapvizError names what differs otherwise."""
    want = json.loads(json.dumps(dict(manifest)))
    path = folder / MANIFEST
    if folder.exists() and resume and path.is_file():
        have = json.loads(path.read_text())
        diff = sorted(k for k in set(have) | set(want) if have.get(k) != want.get(k))
        if diff:
            raise GapvizError(f"{folder}: the interrupted apply there was for other inputs ({', '.join(diff)} "
                              f"differ: {', '.join(f'{k}={have.get(k)!r}' for k in diff)}); run without --resume "
                              "to start over")
        return
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(want, indent=1, sort_keys=True))


def remove(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)


def readable(path: Path) -> bool:
    """True if ``path`` is a finished chunk file (atomic writes: one that exists is complete)."""
    try:
        with h5py.File(path, "r") as f:
            return bool(f.attrs.get("complete", 0))
    except (OSError, ValueError):
        return False


def write_labels(path: Path, labels: np.ndarray, labels_err: np.ndarray, at_bound: np.ndarray | None) -> None:
    """Pass 1 of one chunk: labels and errors (n, L), ``at_bound`` (n, L) bool or None."""
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        f["labels"], f["labels_err"] = np.asarray(labels, np.float64), np.asarray(labels_err, np.float64)
        if at_bound is not None:
            f["at_bound"] = np.asarray(at_bound, bool)
        f.attrs["complete"] = 1


def read_labels(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    with h5py.File(path, "r") as f:
        return f["labels"][...], f["labels_err"][...], (f["at_bound"][...] if "at_bound" in f else None)


def write_part(path: Path, layout: StoreLayout, arrays: Mapping[str, np.ndarray], acc: Accumulator,
               raw: tuple[str, ...] = ()) -> None:
    """Pass 2 of one chunk: the store's per-star arrays (cubes (n, npix), per-star (n,), unpacked values as
    ``StoreWriter.write_stars`` takes them) encoded as the store keeps them, and the chunk's aggregate sums;
    the arrays named in ``raw`` are also kept as they are (float64), for figures computed from them later."""
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        for name in raw:
            f[f"raw/{name}"] = np.asarray(arrays[name])
        for name, values in arrays.items():
            spec = variable_spec(name, layout)
            if name in layout.cubes:
                values = encode(spec, values)  # maxshape: the last chunk file may hold fewer rows than a chunk
                f.create_dataset(f"cube/{name}", data=values, maxshape=(None, *values.shape[1:]),
                                 **cube_storage(name, layout))
            elif spec.dtype == "str":
                f.create_dataset(f"star/{name}", data=encode(spec, values).astype(str).astype(object),
                                 dtype=h5py.string_dtype())
            else:
                f[f"star/{name}"] = encode(spec, values)
        for k, v in acc.sums().items():
            f[f"sums/{k}"] = v
        f.attrs["complete"] = 1


def merge_part(writer: StoreWriter, start: int, path: Path, acc: Accumulator) -> dict[str, np.ndarray]:
    """Copy the part file ``path`` (rows from ``start``) into the store and add its sums to ``acc``;
    returns its per-star variables (decoded strings, stored dtypes; those kept ``raw`` as they were)."""
    with h5py.File(path, "r") as f:
        for name, ds in f.get("cube", {}).items():
            writer.copy_cube_rows(name, start, ds)
        star = {}
        for name, ds in f.get("star", {}).items():
            values = ds.asstr()[...].astype(object) if h5py.check_string_dtype(ds.dtype) else ds[...]
            star[name] = values
            writer.write_encoded(name, values, region=(slice(start, start + len(values)),))
        star |= {name: ds[...] for name, ds in f.get("raw", {}).items()}
        sums = {}
        f["sums"].visititems(lambda k, v: sums.__setitem__(k, v[...]) if isinstance(v, h5py.Dataset) else None)
        acc.add_sums(sums)
    return star
