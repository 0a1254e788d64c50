"""``python -m lightning_snnpriv``: the command-line entry point."""

from lightning_snnpriv.commands import main

if __name__ == "__main__":
    main()
