"""`gapviz mock` (to be written by its issue)."""


def add_parser(sub) -> None:
    p = sub.add_parser("mock", help="(not yet available)")
    p.set_defaults(func=_run)


def _run(args) -> int:
    from gapviz.errors import GapvizError

    raise GapvizError("'gapviz mock' is not available yet")
