"""The `gapviz` command: thin argument parsing, the work is done by the library.

Each subcommand lives in its own module ``gapviz/cli/<name>.py`` exposing
``add_parser(subparsers)`` (which registers the subcommand and sets ``func``) and is listed in COMMANDS.
A GapvizError is printed as one line (``gapviz: error: ...``) and exits with status 2; no traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from gapviz import __version__
from gapviz.errors import GapvizError

COMMANDS = ["info", "ingest", "mock", "synth", "train_emulator", "train", "apply", "find", "analyze", "repair", "score", "run",
            "explore"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gapviz",
        description="Close and explain the gap between synthetic and observed stellar spectra.",
    )
    parser.add_argument("--version", action="version", version=f"gapviz {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        module = importlib.import_module(f"gapviz.cli.{name}")
        module.add_parser(sub)
    for command in sub.choices.values():  # every option's --help shows its default
        command.formatter_class = DefaultsHelp
    return parser


class DefaultsHelp(argparse.HelpFormatter):
    """Help text with each option's default, where it has one worth saying."""

    def _get_help_string(self, action):
        text = action.help or ""
        if "%(default)" in text or action.default in (None, False, argparse.SUPPRESS) or not action.option_strings:
            return text
        return f"{text} (default: %(default)s)"


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        result = args.func(args)
    except GapvizError as exc:
        print(f"gapviz: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into `head` and closed early: not an error
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print("gapviz: interrupted", file=sys.stderr)
        return 130
    return int(result or 0)
