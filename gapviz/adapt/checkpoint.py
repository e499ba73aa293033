"""What a run directory holds and how it is written: checkpoints, model.pt, metadata, RNG states.

Everything is saved as plain tensors/dicts/lists/str/numbers so it loads with ``torch.load(weights_only=True)``.
Files are written atomically (gapviz.files.atomic_path): an interrupted write never leaves a broken file.
"""

from __future__ import annotations

import io
import platform
import random
import subprocess
from pathlib import Path

import numpy as np
import torch

from gapviz.errors import GapvizError
from gapviz.files import atomic_path

MODEL_FORMAT = "gapviz-adaptation"
MODEL_VERSION = 1
RUN_FILES = ("model.pt", "checkpoint.pt", "metrics.jsonl", "config.toml")


def save_torch(obj: dict, path: Path) -> None:
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def load_torch(path: Path, what: str) -> dict:
    if not path.is_file():
        raise GapvizError(f"{path}: no {what} here")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # any unpickling/zip error means "not our file"
        raise GapvizError(f"{path}: not a readable gapviz {what} ({exc})") from None


def rng_state() -> dict:
    """torch, numpy and python RNG states as plain tensors/lists."""
    np_state = np.random.get_state()
    py_state = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "numpy": [np_state[0], torch.from_numpy(np_state[1].astype(np.int64)), *[float(x) for x in np_state[2:]]],
        "python": [py_state[0], list(py_state[1]), py_state[2]],
    }


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), int(pos), int(has_gauss), float(cached)))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def emulator_payload(emulator) -> dict:
    """An Emulator as the plain dict its own ``save`` writes, with every tensor on the CPU."""
    buf = io.BytesIO()  # a round trip in memory moves tensors to the CPU and checks weights_only safety
    torch.save(emulator.payload(), buf)
    buf.seek(0)
    return torch.load(buf, map_location="cpu", weights_only=True)


def emulator_from_payload(payload: dict, device: str | torch.device = "cpu"):
    from gapviz.theory.emulator import Emulator

    return Emulator.from_payload(payload, device=device)


def git_commit() -> str:
    """The gapviz source tree's commit (``git rev-parse HEAD``), or "" when not in a git checkout."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).resolve().parent,
                             capture_output=True, text=True, timeout=10)
        return out.stdout.strip() if out.returncode == 0 else ""
    except (OSError, subprocess.SubprocessError):
        return ""


def run_metadata(seed: int, device: torch.device, world_size: int, synthetic: str, observed: str) -> dict:
    from gapviz import __version__

    return {
        "gapviz_version": __version__, "git_commit": git_commit(), "seed": int(seed),
        "torch_version": str(torch.__version__), "numpy_version": str(np.__version__), "python": platform.python_version(),
        "device": str(device), "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or platform.machine(),
        "world_size": int(world_size), "torch_threads": torch.get_num_threads(),
        "synthetic_path": str(Path(synthetic).resolve()), "observed_path": str(Path(observed).resolve()),
    }


def check_run_dir(out: Path, resume: bool) -> None:
    """Refuse to train into a directory holding another run (unless resuming), or to resume nothing."""
    if out.exists() and not out.is_dir():
        raise GapvizError(f"{out}: exists and is not a directory; --out must be a run directory")
    held = [f for f in RUN_FILES if (out / f).exists()]
    if resume:
        if not (out / "checkpoint.pt").is_file():
            raise GapvizError(f"{out}: --resume given but there is no checkpoint.pt to resume from")
    elif held:
        raise GapvizError(f"{out}: holds another run ({', '.join(held)}); choose a new --out or pass --resume")
