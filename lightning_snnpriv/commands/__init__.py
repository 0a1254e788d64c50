"""The command line: ``fit`` (LightningCLI) and every other command, on one parser."""

from lightning_snnpriv.commands.main import main

__all__ = ["main"]
