"""`gapviz train-emulator`: train the Payne-style emulator on a labelled synthetic set and save it."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub) -> None:
    p = sub.add_parser(
        "train-emulator",
        help="train the labels -> synthetic flux emulator on a labelled synthetic set",
        description="Train a Payne-style MLP emulator (labels -> normalised flux) on a labelled synthetic "
        "spectra file and save it as a torch file (loadable with weights_only=True).",
    )
    p.add_argument("--synthetic", required=True, type=Path, metavar="S.h5", help="labelled synthetic spectra file")
    p.add_argument("--out", required=True, type=Path, metavar="EMU.pt", help="where to write the emulator")
    p.add_argument("--minutes", type=float, default=2.0, help="wall-time budget for training (default 2)")
    p.add_argument("--max-epochs", type=int, default=100_000, help="epoch limit (reproducible stop; default 100000)")
    p.add_argument("--hidden", type=int, default=300, help="width of the two hidden layers (default 300)")
    p.add_argument("--labels", default=None, help="comma-separated label names to use (default: all in the file)")
    p.add_argument("--seed", type=int, default=0, help="random seed (split, initial weights, batches)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"], help="auto = cuda if available")
    p.add_argument("--threads", type=int, default=0,
                   help="torch CPU threads (default 0: torch's choice; 1 is fastest on a busy shared machine)")
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from gapviz.errors import GapvizError
    from gapviz.io.spectra import read_spectra
    from gapviz.theory.emulator import fit_emulator

    if args.out.exists() and not args.overwrite:  # refuse before minutes of training, not after
        raise GapvizError(f"{args.out}: already exists; refusing to overwrite it (pass --overwrite to replace it)")
    if args.minutes <= 0 or args.hidden < 1 or args.max_epochs < 1:
        raise GapvizError("--minutes, --hidden and --max-epochs must be positive")
    if args.threads > 0:
        import torch

        torch.set_num_threads(args.threads)
    spectra = read_spectra(args.synthetic)
    if not spectra.labels:
        raise GapvizError(
            f"{args.synthetic}: no /labels/<name> datasets; train-emulator needs a labelled synthetic set"
        )
    names = [n.strip().lower() for n in args.labels.split(",")] if args.labels else None
    emu, report = fit_emulator(
        spectra,
        label_names=names,
        hidden=args.hidden,
        max_minutes=args.minutes,
        max_epochs=args.max_epochs,
        seed=args.seed,
        device=args.device,
        progress=not args.quiet,
    )
    emu.save(args.out, overwrite=args.overwrite, report=report)
    print(
        f"emulator: {len(emu.label_names)} labels x {emu.n_pix} pixels, hidden {emu.hidden}; "
        f"validation rms {report.val_rms:.5f} (train {report.train_rms:.5f}) flux, "
        f"{report.epochs} epochs in {report.seconds:.0f} s on {report.device} ({report.stopped})"
    )
    print(f"wrote {args.out}")
    return 0
