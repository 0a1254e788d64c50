"""Benchmarks: our paths measured side by side with plain PyTorch / snntorch references."""
