"""TEST-ONLY: the fuzzer's reference reader of CIFAR-10 files, in a process of its own.

It reads batch files as torchvision does (``pickle.load(f, encoding="latin1")``, numpy's own
unpickling), restricted to the globals of numpy's pickles so that a crafted file runs nothing
here either, and checks each batch independently of the package: a dict with ``data``
(``uint8`` ``[n >= 1, 3072]``) and ``labels`` (else ``fine_labels``: integers 0..9, one per
row), ``batches.meta`` with 10 ``label_names``. numpy's unpickling can crash on a tampered
dtype, so it runs as a worker process (``python cifar_reference.py``: length-prefixed pickles
on stdin/stdout); :class:`ReferenceReader` restarts it when it dies.
"""

from __future__ import annotations

import io
import pickle
import select
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

TIMEOUT_S = 60
BATCHES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]


def _send(stream, obj) -> None:
    data = pickle.dumps(obj)
    stream.write(struct.pack("<Q", len(data)) + data)
    stream.flush()


def _receive(stream):
    header = stream.read(8)
    if len(header) < 8:
        raise EOFError
    (size,) = struct.unpack("<Q", header)
    return pickle.loads(stream.read(size))


class _NumpyOnly(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        allowed = {
            "numpy": {"ndarray", "dtype"},
            "numpy.core.multiarray": {"_reconstruct", "scalar"},
            "numpy._core.multiarray": {"_reconstruct", "scalar"},
            "numpy.core.numeric": {"_frombuffer"},
            "numpy._core.numeric": {"_frombuffer"},
            "_codecs": {"encode"},
            "__builtin__": {"bytes"},
            "builtins": {"bytes"},
        }
        if name not in allowed.get(module, ()):
            raise pickle.UnpicklingError(f"reference: refused {module}.{name}")
        if module.startswith("numpy.core"):  # numpy 1.x's name of numpy._core
            module = module.replace("numpy.core", "numpy._core", 1)
        return super().find_class(module, name)


def _batch(data: bytes):
    import numpy as np

    entry = _NumpyOnly(io.BytesIO(data), encoding="latin1").load()
    if not isinstance(entry, dict):
        return None
    key = "labels" if "labels" in entry else "fine_labels"
    if "data" not in entry or key not in entry:
        return None
    images, labels = entry["data"], entry[key]
    if not isinstance(images, np.ndarray) or images.dtype != np.uint8 or images.dtype.hasobject:
        return None
    if images.ndim != 2 or images.shape[1] != 3072 or images.shape[0] == 0:
        return None
    if isinstance(labels, np.ndarray):
        if labels.ndim != 1 or labels.dtype.kind not in "iu":
            return None
        values = [int(v) for v in labels]
    elif isinstance(labels, (list, tuple)):
        if not all(type(v) is int or isinstance(v, np.integer) for v in labels):
            return None
        values = [int(v) for v in labels]
    else:
        return None
    if len(values) != len(images) or not all(0 <= v < 10 for v in values):
        return None
    return np.array(images), values


def _meta_ok(data: bytes) -> bool:
    meta = _NumpyOnly(io.BytesIO(data), encoding="latin1").load()
    names = meta.get("label_names") if isinstance(meta, dict) else None
    return (isinstance(names, list) and len(names) == 10
            and all(isinstance(n, (str, bytes)) for n in names))  # fmt: skip


def read(files: dict[str, bytes]):
    """``("valid", images [N, 3, 32, 32], labels [N], n_train)`` or ``("invalid", why)``."""
    import numpy as np

    try:
        batches = [_batch(files[name]) for name in BATCHES]
        meta = _meta_ok(files["batches.meta"])
    except Exception as err:  # the reference's verdict: not a readable file
        return ("invalid", f"{type(err).__name__}: {err}"[:200])
    if not meta or any(b is None for b in batches):
        return ("invalid", "a batch or the meta file breaks the format")
    images = np.vstack([b[0] for b in batches]).reshape(-1, 3, 32, 32)
    labels = np.array([v for b in batches for v in b[1]], dtype=np.int64)
    return ("valid", images, labels, sum(len(b[1]) for b in batches[:5]))


class ReferenceReader:
    """The worker process, started on first use and again after it crashed."""

    def __init__(self) -> None:
        self.process: subprocess.Popen | None = None
        self.log = tempfile.TemporaryFile()  # noqa: SIM115  # open as long as the reader

    def read(self, folder: Path):
        files = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
        if set(files) < {*BATCHES, "batches.meta"}:
            return ("invalid", "a file is missing")
        if self.process is None or self.process.poll() is not None:
            self.process = subprocess.Popen(  # its stderr: numpy's complaints about bad files
                [sys.executable, __file__],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self.log,
            )
        try:
            _send(self.process.stdin, files)
            if not select.select([self.process.stdout], [], [], TIMEOUT_S)[0]:
                raise TimeoutError
            return _receive(self.process.stdout)
        except (EOFError, OSError):  # numpy crashed the worker (or hung it)
            self.process.kill()
            self.process.wait()
            self.process = None
            return ("broken", "the reference reader crashed (numpy on a tampered dtype)")

    def close(self) -> str:
        """Stop the worker; what it wrote on stderr."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
        self.log.seek(0)
        return self.log.read().decode(errors="replace")


if __name__ == "__main__":
    while True:
        try:
            request = _receive(sys.stdin.buffer)
        except EOFError:
            break
        _send(sys.stdout.buffer, read(request))
