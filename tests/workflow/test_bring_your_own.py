"""The README's "Bring your own spectra" commands, run as written (smaller sets), on the shipped APOGEE files."""

from __future__ import annotations

import glob
import re
import shlex
from pathlib import Path

import numpy as np
import pytest

from gapviz.cli import main
from gapviz.cli.explore import check_store
from gapviz.store import open_store

ROOT = Path(__file__).resolve().parents[2]
#: Smaller than the README's, so the test takes a minute: the commands are otherwise exactly the README's.
SMALLER = {"--n-synthetic": "200", "--n-observed": "60", "--minutes": "0.1"}


def readme_commands() -> list[list[str]]:
    """The gapviz command lines of the README's "Bring your own spectra" code block, globs expanded."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Bring your own spectra"):]
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    commands = []
    for line in block.strip().splitlines():
        words = []
        for w in shlex.split(line):
            words += sorted(glob.glob(w, root_dir=ROOT)) if "*" in w else [w]
        commands.append(words)
    return commands


def smaller(words: list[str]) -> list[str]:
    return [SMALLER.get(words[i - 1], w) if i else w for i, w in enumerate(words)]


@pytest.mark.e2e
def test_the_readme_commands_reach_a_store_the_explorer_opens(tmp_path, monkeypatch, capsys):
    commands = readme_commands()
    assert [c[:2] for c in commands] == [["gapviz", "ingest"], ["gapviz", "mock"], ["gapviz", "train"],
                                         ["gapviz", "apply"], ["gapviz", "find"], ["gapviz", "explore"]]
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data_samples").symlink_to(ROOT / "data_samples")
    for words in commands[:-1]:  # the last one serves the explorer: checked below as it checks the store
        assert main(smaller(words)[1:]) == 0, words
    out = capsys.readouterr().out
    assert "5 spectra from 5 files" in out
    assert "only 5 stars" in out and "look outside the theory's domain" in out  # honest warnings, printed
    store = check_store(commands[-1][2])  # what `gapviz explore` checks before it serves the page
    ds = open_store(store)
    assert ds.sizes["star"] == 5 and ds["domain_flag"].values.any()
    assert np.isfinite(ds["chi2nu_adapted"].values).all()
    assert (tmp_path / "mine" / "store" / "candidates.csv").is_file()
