"""Mock synthetic-gap experiments with ground truth (``gapviz mock``; docs/ARCHITECTURE.md §4).

population: label samplers (the theory's box, a realistic observed population); effects: what observing adds
(continuum error, noise, bad pixels); missing: which lines the theory lacks and their truth table;
truth: the ``truth.h5`` file; config: ``MockConfig`` (an experiment's settings and their checks); experiment:
``run_mock`` ties them together; compare: whether two mock folders hold the same data (exactly, or within a
stated ``Tolerance`` across machines).
"""

from gapviz.mock.config import MockConfig
from gapviz.mock.effects import ObservingEffects
from gapviz.mock.experiment import MockResult, run_mock
from gapviz.mock.truth import Truth, read_truth, write_truth

__all__ = ["MockConfig", "MockResult", "ObservingEffects", "Truth", "read_truth", "run_mock", "write_truth"]
