"""The workbench on a real repair: `gapviz repair` on (a copy of) the shipped store, reviewed, applied by the CLI."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from bokeh.document import Document

from gapviz.cli import main
from gapviz.io.linelist import read_linelist

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def repaired(tmp_path_factory):
    """(STORE_DIR, REPAIR_DIR): a copy of data_samples/store (its own review.csv) and a 60-star repair of it.

    Without the store's theory.pt the repair fits the changes at the store's labels and skips the label refit
    loop (6 s instead of ~40 s)."""
    store = tmp_path_factory.mktemp("e2e") / "store"
    store.mkdir()
    for name in ("store.nc", "candidates.csv"):
        shutil.copy(ROOT / "data_samples" / "store" / name, store / name)
    repair = store.parent / "repair"
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(ROOT)  # the store records its line list relative to the repository
        assert main(["repair", str(store), "--out", str(repair), "--stars", "60", "--verify", "none"]) == 0
    return store, repair


def test_review_a_real_repair_and_apply_it(repaired, tmp_path):
    from apps.workbench import WorkbenchSession, open_workbench

    store, repair = repaired
    s = WorkbenchSession(open_workbench(store, repair))
    s.template().server_doc(Document())
    changes = pd.read_csv(repair / "changes.csv")
    added = np.flatnonzero(changes["choice"] == "added")
    assert s.wb.pop.labels.shape[0] == 1000 and len(added) >= 2
    # the top added line, as proposed, lowers χ² over the displayed stars in its window; without it the residual
    # image keeps the feature
    s.table.selection = [int(added[0])]
    assert "as proposed" in s.chi2_text.object and "(Δχ² -" in s.chi2_text.object.split("as proposed")[1]
    fits = s.wb.species_fit(int(added[0]))
    assert len(fits) > 5 and fits["delta_bic"].iloc[0] == 0 and (fits["delta_chi2"].iloc[:3] < 0).all()
    s.decide("reject")
    s.table.selection = [int(added[1])]
    s.loggf.value = round(float(changes["loggf"][added[1]]) + 0.3, 3)
    s.decide("edit")
    out = tmp_path / "reviewed"
    assert main(["repair", str(store), "--review", str(store / "review.csv"), "--from", str(repair),
                 "--out", str(out)]) == 0
    proposed, reviewed = read_linelist(repair / "linelist.csv"), read_linelist(out / "linelist_plain.csv")
    assert len(reviewed) == len(proposed) - 1  # the rejected line is gone
    edited = reviewed[(reviewed["wavelength"] - changes["wavelength"][added[1]]).abs() < 1e-3]
    assert edited["loggf"].iloc[0] == pytest.approx(changes["loggf"][added[1]] + 0.3, abs=2e-3)
    assert len(read_linelist(out / "linelist.moog")) == len(reviewed)
