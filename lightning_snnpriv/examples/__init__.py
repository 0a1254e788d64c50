"""Worked examples: your own network and your own dataset, plugged in by ``class_path``."""
