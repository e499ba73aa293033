"""`gapviz run` (to be written by its issue)."""


def add_parser(sub) -> None:
    p = sub.add_parser("run", help="(not yet available)")
    p.set_defaults(func=_run)


def _run(args) -> int:
    from gapviz.errors import GapvizError

    raise GapvizError("'gapviz run' is not available yet")
