"""The stages a user runs, each reading and writing files they can open (docs/ARCHITECTURE.md):

- ``apply``: a trained run + observed spectra → ``STORE_DIR/store.nc`` (+ ``theory.pt``);
- ``find``: a store → its candidates (in the store and ``STORE_DIR/candidates.csv``), re-runnable;
- ``analyze``: apply then find; ``run``: mock sample → train → analyze → score.
"""
