"""DirectCheckpointIO: ``torch.save`` straight into the checkpoint file, then an atomic rename.

Lightning's :class:`~lightning_fabric.plugins.io.TorchCheckpointIO` serializes a checkpoint into
an in-memory buffer first and then copies the buffer to the file through ``fsspec`` (which
writes it to another temporary file and moves that): every byte is written twice and the
growing buffer is reallocated as it goes. A paper ConvNet run saves tens of megabytes per epoch,
so this was a measurable part of a short job (the performance guide). For local paths this
class writes the serialized checkpoint once, into ``<name>.part`` beside the target, then
renames it into place (a reader never sees half a file); other paths (``s3://`` ...) go through
Lightning's own code. The file's bytes load exactly as before (``torch.load``).

:class:`~lightning_snnpriv.callbacks.checkpoint.RunCheckpoint` installs it on the trainer's
strategy when the strategy uses Lightning's default ``TorchCheckpointIO`` (a user's own plugin is
left alone).
"""

from __future__ import annotations

import os
from typing import Any

import torch
from lightning_fabric.plugins.io import TorchCheckpointIO
from lightning_fabric.utilities.cloud_io import _is_local_file_protocol


class DirectCheckpointIO(TorchCheckpointIO):
    """:class:`TorchCheckpointIO` whose local saves are one write and a rename."""

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None
    ) -> None:
        """Save ``checkpoint`` to ``path`` (via ``<path>.part``; remote paths as Lightning does).

        Raises:
            TypeError: ``storage_options`` given (as Lightning's ``TorchCheckpointIO``).
        """
        if storage_options is not None or not _is_local_file_protocol(path):
            super().save_checkpoint(checkpoint, path, storage_options)
            return
        path = os.fspath(path)
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        part = f"{path}.part"
        try:
            with open(part, "wb") as file:
                writer = _Writer(file)
                try:
                    torch.save(checkpoint, writer)
                except RuntimeError:
                    if writer.error is not None:  # the disk's error, not torch's wrapping of it
                        raise writer.error from None
                    raise
            os.replace(part, path)
        finally:
            if os.path.exists(part):
                os.remove(part)


class _Writer:
    """A file's ``write`` that keeps the :class:`OSError` it raised.

    torch's serializer turns an error of the file it writes to into a ``RuntimeError`` of its
    own ("unexpected pos ..."); a full disk must stay an ``OSError`` (``ENOSPC``) so that the
    commands report it as one (``commands/errors.py``).
    """

    def __init__(self, file: Any) -> None:
        self.file = file
        self.error: OSError | None = None

    def write(self, data: Any) -> int:
        try:
            return self.file.write(data)
        except OSError as error:
            self.error = error
            raise

    def flush(self) -> None:
        self.file.flush()


def use_direct_io(strategy: Any) -> bool:
    """Give ``strategy`` a :class:`DirectCheckpointIO` if it has Lightning's default one.

    Returns:
        Whether it was replaced.
    """
    if type(strategy.checkpoint_io) is not TorchCheckpointIO:
        return False
    strategy.checkpoint_io = DirectCheckpointIO()
    return True
