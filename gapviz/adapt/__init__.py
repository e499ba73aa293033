"""Unsupervised domain adaptation between a labelled synthetic set and an unlabelled observed set.

``gapviz train`` (``gapviz.adapt.train.train``) fits it; ``load_adaptation(run_dir)`` applies a finished run.
Modules: config (the TOML recipe), data (streamed HDF5 batches), networks, losses, objectives (one step's
losses), validate (held-out χ²ν), checkpoint (run-directory files), distributed (DDP), train, model, infer.
"""

from gapviz.adapt.model import Adaptation, load_adaptation

__all__ = ["Adaptation", "load_adaptation"]
