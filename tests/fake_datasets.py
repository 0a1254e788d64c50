"""TEST-ONLY: write tiny random image datasets in the exact on-disk formats torchvision reads.

MNIST / Fashion-MNIST: the four idx-ubyte files (big-endian header: magic ``0x0803`` for
images with 3 dimensions, ``0x0801`` for labels) under ``<root>/<Name>/raw/``, as torchvision
extracts them. CIFAR-10: the python version's pickles ``data_batch_1..5``, ``test_batch``
(dicts with ``data`` ``[n, 3072]`` uint8 rows, channel-major, and ``labels``) and
``batches.meta`` (``label_names``) under ``<root>/cifar-10-batches-py/``, pickled either by
this Python (``pickle.dumps``) or, with ``py2=True``, opcode for opcode as Python 2's cPickle
(protocol 2) wrote the real files: byte strings, numpy 1.x's ``numpy.core.multiarray``
globals, ``(0, 1)`` dtype arguments. The contents are random, so their MD5s differ from the real
files': load them with ``verify_checksums: false``.
"""

from __future__ import annotations

import pickle
import struct
from pathlib import Path

import numpy as np

CIFAR10_LABEL_NAMES = [
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
]  # fmt: skip


def _labels(n: int, num_classes: int, rng: np.random.Generator) -> np.ndarray:
    """Every class at least ``n // num_classes`` times, shuffled."""
    return rng.permutation(np.arange(n) % num_classes).astype(np.uint8)


def write_idx(path: Path, array: np.ndarray) -> None:
    """An idx-ubyte file: ``0, 0, 0x08 (ubyte), ndim``, then each dimension as big-endian int32."""
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + np.ascontiguousarray(array, dtype=np.uint8).tobytes())


def write_mnist(
    root: Path, name: str = "MNIST", n_train: int = 60, n_test: int = 20, seed: int = 0
) -> Path:
    """Random 28x28 images with balanced labels in MNIST's format under ``root/name/raw``."""
    rng = np.random.default_rng(seed)
    raw = Path(root) / name / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        write_idx(raw / f"{prefix}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28)))
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", _labels(n, 10, rng))
    return raw


class _Py2Pickler:
    """Python 2 cPickle's protocol 2 for the types of the CIFAR files (str, int, list, dict,
    2-D ``uint8`` numpy arrays as numpy 1.x reduced them), memoizing as cPickle does."""

    BATCH = 1000  # cPickle's batch of APPENDS / SETITEMS

    def __init__(self) -> None:
        self.out = bytearray(b"\x80\x02")
        self.memo = 0

    def put(self) -> None:
        self.memo += 1
        short = self.memo < 256
        self.out += b"q" + bytes([self.memo]) if short else b"r" + struct.pack("<I", self.memo)

    def string(self, text: str | bytes) -> None:
        data = text.encode("latin1") if isinstance(text, str) else text
        self.out += (b"U" + bytes([len(data)]) if len(data) < 256
                     else b"T" + struct.pack("<i", len(data))) + data  # fmt: skip
        self.put()

    def integer(self, value: int) -> None:
        if 0 <= value < 256:
            self.out += b"K" + bytes([value])
        elif 0 <= value < 65536:
            self.out += b"M" + struct.pack("<H", value)
        elif -(2**31) <= value < 2**31:
            self.out += b"J" + struct.pack("<i", value)
        else:  # LONG1: little-endian two's complement
            data = value.to_bytes((value.bit_length() + 8) // 8, "little", signed=True)
            self.out += b"\x8a" + bytes([len(data)]) + data

    def glob(self, module: str, name: str) -> None:
        self.out += f"c{module}\n{name}\n".encode()
        self.put()

    def dump(self, obj: object) -> None:
        if isinstance(obj, dict):
            self.out += b"}"
            self.put()
            self._batched(list(obj.items()), b"u", lambda kv: (self.dump(kv[0]), self.dump(kv[1])))
        elif isinstance(obj, list):
            self.out += b"]"
            self.put()
            self._batched(obj, b"e", self.dump)
        elif isinstance(obj, (str, bytes)):
            self.string(obj)
        elif type(obj) is int:
            self.integer(obj)
        elif isinstance(obj, np.ndarray):
            self.array(obj)
        else:
            raise TypeError(type(obj))

    def _batched(self, items: list, opcode: bytes, dump_one) -> None:
        for start in range(0, len(items), self.BATCH):
            self.out += b"("
            for item in items[start : start + self.BATCH]:
                dump_one(item)
            self.out += opcode

    def array(self, array: np.ndarray) -> None:
        """``_reconstruct(ndarray, (0,), 'b')`` then ``BUILD (1, shape, dtype, False, raw)``."""
        self.glob("numpy.core.multiarray", "_reconstruct")
        self.glob("numpy", "ndarray")
        self.out += b"K\x00\x85"
        self.string("b")
        self.out += b"\x87R"
        self.put()
        if array.dtype.hasobject:
            raise TypeError("object arrays are not plain bytes")
        self.out += b"(K\x01" + (b"(" if array.ndim > 3 or array.ndim == 0 else b"")
        for size in array.shape:
            self.integer(size)
        self.out += {1: b"\x85", 2: b"\x86", 3: b"\x87"}.get(array.ndim, b"t")  # MARK ... TUPLE
        self.put()
        self.glob("numpy", "dtype")
        self.string(array.dtype.str[1:])
        self.out += b"K\x00K\x01\x87R"
        self.put()
        self.out += b"(K\x03"
        self.string(array.dtype.str[0])
        self.out += b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb\x89"
        self.string(np.ascontiguousarray(array).tobytes())
        self.out += b"t"
        self.put()
        self.out += b"b"


def py2_pickle(obj: object) -> bytes:
    """``obj`` as Python 2's ``cPickle.dumps(obj, 2)`` of the real CIFAR-10 files wrote it."""
    pickler = _Py2Pickler()
    pickler.dump(obj)
    return bytes(pickler.out + b".")


def write_cifar10(
    root: Path, n_per_batch: int = 12, n_test: int = 20, seed: int = 0, py2: bool = False
) -> Path:
    """Random 32x32 colour images in CIFAR-10's python format under ``root/cifar-10-batches-py``."""
    dumps = py2_pickle if py2 else pickle.dumps
    rng = np.random.default_rng(seed)
    folder = Path(root) / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    batches = [(f"data_batch_{i}", n_per_batch) for i in range(1, 6)] + [("test_batch", n_test)]
    for name, n in batches:
        entry = {
            "batch_label": name,
            "labels": _labels(n, 10, rng).tolist(),
            "data": rng.integers(0, 256, (n, 3 * 32 * 32), dtype=np.uint8),
            "filenames": [f"{name}_{i}.png" for i in range(n)],
        }
        (folder / name).write_bytes(dumps(entry))
    meta = {"label_names": CIFAR10_LABEL_NAMES, "num_cases_per_batch": n_per_batch, "num_vis": 3072}
    (folder / "batches.meta").write_bytes(dumps(meta))
    return folder


def write_dataset(root: Path, dataset: str, **sizes: int) -> Path:
    """``dataset`` in ``mnist``, ``fmnist``, ``cifar10``: write its fake files under ``root``."""
    if dataset == "cifar10":
        return write_cifar10(root, **sizes)
    return write_mnist(root, {"mnist": "MNIST", "fmnist": "FashionMNIST"}[dataset], **sizes)
