"""From learned corrections to ranked candidate missing lines.

detect (matched filter, significance, blends) -> crossmatch (theory and reference line lists) ->
attribute (which label drives it) -> rank (score); baseline (no learning) and score (against a mock's truth).
"""
