"""Judging the finder against a mock's ground truth (``gapviz score``): after discover, beside the workflow."""
