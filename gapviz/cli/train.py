"""`gapviz train` (to be written by its issue)."""


def add_parser(sub) -> None:
    p = sub.add_parser("train", help="(not yet available)")
    p.set_defaults(func=_run)


def _run(args) -> int:
    from gapviz.errors import GapvizError

    raise GapvizError("'gapviz train' is not available yet")
