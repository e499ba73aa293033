"""`gapviz train-emulator`: trains and saves an emulator, refuses to overwrite, and bad input is one line."""

from __future__ import annotations

import pytest

from gapviz.cli import main
from gapviz.io.spectra import write_spectra
from gapviz.testing.spectra import tiny_spectra, write_raw_h5
from gapviz.theory.emulator import Emulator


def test_cli_trains_and_saves(tmp_path, capsys):
    syn = write_spectra(tiny_spectra(n_star=60, n_pix=16), tmp_path / "syn.h5")
    out = tmp_path / "emu.pt"
    args = ["train-emulator", "--synthetic", str(syn), "--out", str(out), "--hidden", "16", "--max-epochs", "3",
            "--quiet"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "validation rms" in printed and str(out) in printed
    assert Emulator.load(out).label_names == ["teff", "logg", "fe_h"]
    assert main(args) == 2  # exists, no --overwrite
    assert "refusing to overwrite" in capsys.readouterr().err
    assert main(args + ["--overwrite"]) == 0


@pytest.mark.parametrize("kind, expect", [("unlabelled", "no /labels"), ("missing", "no such file")])
def test_cli_bad_input_is_one_line(tmp_path, capsys, kind, expect):
    s = tiny_spectra(n_star=10, n_pix=16)
    path = tmp_path / f"{kind}.h5"
    if kind == "unlabelled":
        write_raw_h5(path, {"wavelength": s.wavelength, "flux": s.flux})
    assert main(["train-emulator", "--synthetic", str(path), "--out", str(tmp_path / "e.pt")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("gapviz: error: ") and expect in err and str(path) in err
    assert not (tmp_path / "e.pt").exists()
