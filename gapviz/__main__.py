"""`python -m gapviz ...` (also what `torchrun -m gapviz train ...` runs)."""

from gapviz.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
