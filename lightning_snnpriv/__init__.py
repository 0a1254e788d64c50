"""Membership-inference audits of spiking and conventional networks on PyTorch Lightning."""

__version__ = "0.1.0"
