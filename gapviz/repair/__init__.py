"""Repair: turning the finder's candidates into line-list changes (added lines, recalibrated log gf)."""
