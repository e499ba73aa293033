"""`gapviz mock`: argument errors end in exit status 2 and one line; a run through the CLI on the 1024-pixel
sample grid with the shipped line lists is deterministic (slow-ish)."""

import pytest

from gapviz.cli import main
from gapviz.io.spectra import read_spectra
from gapviz.mock.compare import mock_differences
from gapviz.mock.truth import read_truth


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--missing-fraction", "1.5"], "--missing-fraction must be in [0, 1]"),
        (["--missing-fraction", "-0.1"], "--missing-fraction must be in [0, 1]"),
        (["--snr-range", "200", "50"], "--snr-range"),
        (["--snr-range", "0", "50"], "--snr-range"),
        (["--n-synthetic", "0"], ">= 1"),
        (["--n-observed", "-3"], ">= 1"),
        (["--loggf-scatter", "-0.1"], "--loggf-scatter"),
        (["--resolution-observed", "0"], "resolutions must be > 0"),
        (["--max-depth", "0.01"], "--max-depth"),
        (["--damping-fraction", "0.2"], "--damping-fraction needs --physics sme"),
        (["--physics", "sme", "--damping-fraction", "2"], "--damping-fraction must be in [0, 1]"),
        (["--physics", "sme", "--workers", "0"], "--workers must be >= 1"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(tmp_path, capsys, extra, message):
    out = tmp_path / "exp"
    assert main(["mock", str(out), *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith("gapviz: error: ") and message in err
    assert "Traceback" not in err and err.count("\n") == 1
    assert not out.exists()


def test_existing_out_dir_needs_overwrite(tmp_path, capsys):
    out = tmp_path / "exp"
    out.mkdir()
    (out / "synthetic.h5").write_bytes(b"old")
    assert main(["mock", str(out), "--n-synthetic", "5"]) == 2
    err = capsys.readouterr().err
    assert str(out) in err and "--overwrite" in err
    assert (out / "synthetic.h5").read_bytes() == b"old"


def test_out_dir_that_is_a_file(tmp_path, capsys):
    out = tmp_path / "exp"
    out.write_text("x")
    assert main(["mock", str(out)]) == 2
    assert "not a directory" in capsys.readouterr().err


def test_unknown_grid_rejected_by_parser(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["mock", str(tmp_path / "e"), "--grid", "galah"])
    assert exc.value.code == 2


@pytest.mark.e2e
def test_cli_run_is_deterministic(tmp_path, capsys):
    args = ["--seed", "1", "--n-synthetic", "40", "--n-observed", "60"]
    assert main(["mock", str(tmp_path / "a"), *args]) == 0
    assert "removed" in capsys.readouterr().out
    assert main(["mock", str(tmp_path / "b"), *args]) == 0
    assert mock_differences(tmp_path / "a", tmp_path / "b") == []  # exactly the same data
    obs = read_spectra(tmp_path / "a" / "observed.h5")
    assert obs.n_pix == 1024 and obs.n_star == 60
    truth = read_truth(tmp_path / "a" / "truth.h5")
    assert "--seed 1" in truth.attrs["command"] and truth.attrs["seed"] == 1
    assert len(truth.removed) > 0
    assert main(["mock", str(tmp_path / "a"), *args]) == 2  # exists, no --overwrite
    assert main(["mock", str(tmp_path / "a"), *args, "--overwrite"]) == 0
