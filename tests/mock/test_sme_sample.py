"""The shipped SME mock (data_samples/mock_sme) is what data_samples/PROVENANCE.md says it is.

Regenerating it takes ~11 minutes of SME on 2 cores, too long for the suite; this checks its make-up instead.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gapviz.io.linelist import read_linelist
from gapviz.io.spectra import read_spectra
from gapviz.mock.truth import read_truth

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data_samples" / "mock_sme"


def test_shipped_sme_mock_matches_its_provenance():
    truth = read_truth(SAMPLE / "truth.h5")
    assert truth.attrs["physics"] == "sme"
    command = " ".join(str(truth.attrs["command"]).split())
    provenance = " ".join((ROOT / "data_samples" / "PROVENANCE.md").read_text().replace("\\\n", " ").split())
    assert command.split()[:3] == ["gapviz", "mock", "data_samples/mock_sme"]
    for option in ("--physics sme", "--n-synthetic 500", "--n-observed 500", "--damping-fraction 0.2", "--seed 42"):
        assert option in command and option in provenance
    syn, obs = read_spectra(SAMPLE / "synthetic.h5"), read_spectra(SAMPLE / "observed.h5")
    assert syn.n_star == 500 and obs.n_star == 500 and syn.wavelength.size == 1024
    assert obs.star_id.tolist() == truth.star_id.tolist()
    removed = truth.removed
    assert len(removed) == 145 and int((removed["depth_ref"] > 0.02).sum()) == 41
    lines, reference = read_linelist(SAMPLE / "linelist.csv"), read_linelist(SAMPLE / "reference_linelist.csv")
    assert len(reference) - len(lines) == len(removed)
    assert (reference["isotopes"] != "").any()  # 13CO, 13CN keep their isotopes for SME
    assert np.isfinite(truth.chi2nu_theory_true[:100]).all()
    size = sum(p.stat().st_size for p in SAMPLE.iterdir())
    assert size < 8e6
