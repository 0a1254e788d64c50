"""Checks of dataset files against their formats: idx headers, sample counts, dtypes, labels.

Each check raises :class:`BadFile` naming the file and what is wrong with it; the data module
turns that into the one-paragraph :class:`~lightning_snnpriv.errors.DataError` the command line
prints. They run on every split before the pool is built, so images are never paired with the
labels of other images (a label file shorter than its image file used to shift the train/test
boundary silently).
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from pathlib import Path

import numpy as np

#: idx type codes (the third byte of the magic number) and what they hold.
IDX_TYPES = {0x08: "unsigned bytes", 0x09: "signed bytes", 0x0B: "int16", 0x0C: "int32",
             0x0D: "float32", 0x0E: "float64"}  # fmt: skip


class BadFile(ValueError):
    """A dataset file that does not hold what its format says.

    Args:
        path: The file.
        problem: What is wrong, as the end of a sentence that starts with the file's name.
        fix: How to repair it, if not the usual (replace the file with an intact copy).
    """

    def __init__(self, path: Path, problem: str, fix: str | None = None) -> None:
        super().__init__(f"{path} {problem}")
        self.path = Path(path)
        self.problem = problem
        self.fix = fix


def check_idx(path: Path, shape: Sequence[int | None]) -> tuple[int, ...]:
    """The dimensions of the idx-ubyte file ``path``, checked against the format and ``shape``.

    The format: bytes ``00 00 08 <ndim>``, each dimension as a big-endian uint32, then the
    values, one byte each. ``shape`` gives the expected dimensions (``None``: any size, the
    sample count). The file's size must be exactly header + values: a truncated or padded file
    is refused, as are other types and dimension counts.

    Example:
        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp()) / "labels"
        >>> _ = path.write_bytes(bytes([0, 0, 8, 1, 0, 0, 0, 3, 7, 8, 9]))
        >>> check_idx(path, (None,))
        (3,)
        >>> check_idx(path, (None, 28, 28))
        Traceback (most recent call last):
        ...
        lightning_snnpriv.data.checks.BadFile: ... has 1 dimension, expected 3 (count, rows, ...
    """
    size = path.stat().st_size
    with path.open("rb") as file:
        header = file.read(4 + 4 * 3)
    if size < 4:
        raise BadFile(path, f"is {size} bytes long, shorter than an idx header (4 bytes)")
    zero, zero_too, type_code, ndim = header[:4]
    if zero or zero_too:
        raise BadFile(path, f"does not start with an idx magic number (00 00 08 0{len(shape)}): "
                      f"its first bytes are {header[:4].hex(' ')}")  # fmt: skip
    if type_code != 0x08:
        kind = IDX_TYPES.get(type_code, "no idx type")
        raise BadFile(path, f"has idx type 0x{type_code:02x} ({kind}); MNIST files hold "
                      "unsigned bytes (type 0x08)")  # fmt: skip
    names = "(count, rows, columns)" if len(shape) == 3 else "(count)"
    if ndim != len(shape):
        plural = "s" if ndim != 1 else ""
        raise BadFile(path, f"has {ndim} dimension{plural}, expected {len(shape)} {names}")
    header_size = 4 + 4 * ndim
    if size < header_size:
        raise BadFile(path, f"ends inside its {header_size}-byte header ({size} bytes long)")
    dims = struct.unpack(f">{ndim}I", header[4:header_size])
    if any(want is not None and want != got for want, got in zip(shape, dims, strict=True)):
        wanted = "x".join(str(n) for n in shape[1:])
        raise BadFile(path, f"holds images of {'x'.join(map(str, dims[1:]))} pixels, "
                      f"expected {wanted}")  # fmt: skip
    if dims[0] == 0:
        raise BadFile(path, f"holds no {'images' if ndim == 3 else 'labels'} (its count is 0)")
    expected = header_size + math.prod(dims)
    if size != expected:
        counts = " x ".join(map(str, dims))
        more = size > expected
        diff = f"{abs(size - expected)} bytes {'more' if more else 'less'}"
        raise BadFile(path, f"is {size} bytes long, {diff} than its header says ({counts} "
                      f"values after {header_size} header bytes): it is "
                      f"{'padded' if more else 'truncated'}")  # fmt: skip
    return dims


def check_labels(labels: object, path: Path, num_classes: int) -> np.ndarray:
    """``labels`` (a list of integers or a 1-D integer array) as ``int64``, each a class index.

    Example:
        >>> check_labels([0, 9, 3], Path("batch"), 10)
        array([0, 9, 3])
        >>> check_labels([0, 10], Path("batch"), 10)
        Traceback (most recent call last):
        ...
        lightning_snnpriv.data.checks.BadFile: batch holds label 10 (sample 1); labels are 0..9
    """
    if isinstance(labels, np.ndarray):
        if labels.ndim != 1 or labels.dtype.kind not in "iu":
            raise BadFile(path, f"holds labels of shape {labels.shape} and dtype {labels.dtype}; "
                          "labels must be integers, one per image")  # fmt: skip
        bad = np.flatnonzero((labels < 0) | (labels >= num_classes))
        first = (int(bad[0]), int(labels[bad[0]])) if len(bad) else None
    elif isinstance(labels, (list, tuple)):
        first = None
        for i, value in enumerate(labels):
            if not (type(value) is int or isinstance(value, np.integer)):
                raise BadFile(path, f"holds a label that is a {type(value).__name__} (sample "
                              f"{i}); labels must be integers")  # fmt: skip
            if first is None and not 0 <= value < num_classes:
                first = (i, int(value))
    else:
        raise BadFile(path, f"holds labels as a {type(labels).__name__}; labels must be a list "
                      "of integers")  # fmt: skip
    if first is not None:
        i, value = first
        shown = value if abs(value) < 10**12 else "of more than 12 digits"
        raise BadFile(path, f"holds label {shown} (sample {i}); labels are "
                      f"0..{num_classes - 1}")  # fmt: skip
    return np.asarray(labels, dtype=np.int64).reshape(-1)


def check_samples(
    images: object,
    labels: np.ndarray,
    *,
    image_file: Path,
    label_file: Path,
    image_shape: tuple[int, ...],
) -> None:
    """One split's (or CIFAR batch's) images: ``uint8`` ``[n, *image_shape]``, ``n >= 1``, and
    exactly one label each (``labels`` as :func:`check_labels` returns them).

    Example:
        >>> check_samples(np.zeros((3, 4), np.uint8), np.zeros(2, np.int64), image_shape=(4,),
        ...               image_file=Path("images"), label_file=Path("labels"))
        Traceback (most recent call last):
        ...
        lightning_snnpriv.data.checks.BadFile: labels holds 2 labels for 3 images ...
    """  # noqa: D205
    if not isinstance(images, np.ndarray):
        raise BadFile(image_file, f"holds its images as a {type(images).__name__}, not an array")
    if images.dtype != np.uint8:
        raise BadFile(image_file, f"holds pixels of dtype {images.dtype}, expected uint8")
    if images.ndim != 1 + len(image_shape) or images.shape[1:] != tuple(image_shape):
        shape = "x".join(map(str, images.shape[1:])) or "single values"
        raise BadFile(image_file, f"holds images of {shape} pixels "
                      f"({images.ndim}-D data of shape {images.shape}), expected "
                      f"{'x'.join(map(str, image_shape))}")  # fmt: skip
    if len(images) == 0:
        raise BadFile(image_file, "holds no images")
    if len(labels) != len(images):
        of = "" if label_file == image_file else f" of {image_file.name}"
        raise BadFile(label_file, f"holds {len(labels)} labels for {len(images)} images{of}: "
                      "each image needs exactly one label")  # fmt: skip


__all__ = ["BadFile", "check_idx", "check_labels", "check_samples"]
