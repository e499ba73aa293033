"""gapviz.cli (main, COMMANDS) and `python -m gapviz`: every subcommand is registered and documents itself, and
a user error ends the process with status 2 and one line, without a traceback."""

import subprocess
import sys

import pytest

from gapviz.cli import COMMANDS, main


@pytest.mark.parametrize("name", [c.replace("_", "-") for c in COMMANDS])
def test_every_subcommand_has_help(name, capsys):
    with pytest.raises(SystemExit) as exc:
        main([name, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert f"gapviz {name}" in out
    assert "not yet available" not in out


def test_no_command_prints_help_and_fails(capsys):
    assert main([]) == 2
    assert "COMMAND" in capsys.readouterr().out


def test_user_error_is_one_line_without_traceback(tmp_path):
    missing = tmp_path / "nope.h5"
    proc = subprocess.run([sys.executable, "-m", "gapviz", "info", str(missing)], capture_output=True, text=True,
                          timeout=120, check=False)
    assert proc.returncode == 2
    assert proc.stderr == f"gapviz: error: {missing}: no such file\n"
    assert proc.stdout == ""
