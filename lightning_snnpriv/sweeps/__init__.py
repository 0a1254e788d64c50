"""Sweeps: grids of fits, their layout, runners, report, figures and findings."""
