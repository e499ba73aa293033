"""Process-group setup for ``torchrun --nproc_per_node=N -m gapviz train ...`` (DDP), detected from env.

gloo on CPU, nccl on CUDA (each process on ``cuda:LOCAL_RANK``). Without RANK/WORLD_SIZE (or with
WORLD_SIZE=1) everything is a single process and these helpers are no-ops.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from gapviz.theory.emulator import resolve_device


@dataclass
class Dist:
    rank: int
    world: int
    device: torch.device

    @property
    def active(self) -> bool:
        return self.world > 1

    @property
    def main(self) -> bool:
        """Only the main process writes files and shows progress."""
        return self.rank == 0


def init_distributed(device: str = "auto") -> Dist:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    dev = resolve_device(device)
    if world <= 1:
        return Dist(0, 1, dev)
    if dev.type == "cuda":
        dev = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(dev)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if dev.type == "cuda" else "gloo")
    return Dist(dist.get_rank(), dist.get_world_size(), dev)


def barrier(d: Dist) -> None:
    if d.active:
        dist.barrier()


def broadcast_flags(d: Dist, *flags: bool) -> list[bool]:
    """The main process's flags (e.g. stop, checkpoint), the same on every process."""
    if not d.active:
        return list(flags)
    t = torch.tensor([float(f) for f in flags], device=d.device)
    dist.broadcast(t, src=0)
    return [bool(x) for x in t.tolist()]


def gather_objects(d: Dist, obj) -> list:
    """[obj of rank 0, obj of rank 1, ...] on every process."""
    if not d.active:
        return [obj]
    out = [None] * d.world
    dist.all_gather_object(out, obj)
    return out


def shutdown(d: Dist) -> None:
    if d.active and dist.is_initialized():
        dist.destroy_process_group()
