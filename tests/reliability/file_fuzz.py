"""TEST-ONLY: the dataset-file fuzzer's mutations, reference readers and verdicts.

A case copies small, valid MNIST or CIFAR-10 files (``fake_datasets.py``, exact on-disk
formats) and applies a few mutations: byte-level (truncation, bit flips, overwritten, inserted
or deleted bytes, a deleted file), idx-level (header bytes, magic, type code, dimensions, a
split rewritten with another count, label values) and, for CIFAR, object-level (labels and
pixels of other lengths, types, dtypes and shapes, keys dropped or renamed, whole objects
replaced, code-running payloads), re-pickled with any protocol or as Python 2's cPickle.
Then ``setup("fit")`` of the data module runs under a time bound, and :func:`run_case`
returns its verdict:

- ``ok``: setup succeeded, and the pool is exactly what an independent reference reader gets
  from the same files (MNIST: a strict idx parser here; CIFAR: torchvision's ``pickle.load``
  in a worker, :mod:`cifar_reference`); ``ok-unjudged`` if that reader crashed.
- ``data-error`` / ``usage-error``: a :class:`DataError` (or another ``UsageError``, e.g. a
  pool too small for the scheme): one paragraph naming a file or the directory.
- ``stricter``: a clear error where the reference reader accepts the files (not a failure,
  but counted: e.g. a numpy object array in an extra key, which this package never unpickles).

Anything else fails the case: another exception, a hang, a success on files the reference
rejects or with other data, a changed, added or deleted file, or code that ran.
"""

from __future__ import annotations

import atexit
import hashlib
import pickle
import shutil
import signal
import struct
import subprocess
import tempfile
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from cifar_reference import BATCHES, ReferenceReader
from fake_datasets import py2_pickle, write_cifar10, write_idx, write_mnist
from hypothesis import strategies as st

from lightning_snnpriv.data import CIFAR10DataModule, MNISTDataModule
from lightning_snnpriv.errors import DataError, UsageError

CASE_SECONDS = 30  # the bound on one case's setup: generous for a loaded 2-core machine
MNIST_FILES = [f"{p}-{k}" for p in ("train", "t10k")
               for k in ("images-idx3-ubyte", "labels-idx1-ubyte")]  # fmt: skip
CIFAR_FILES = [*BATCHES, "batches.meta"]
SIZES = {"mnist": {"n_train": 30, "n_test": 20}, "cifar10": {"n_per_batch": 6, "n_test": 10}}


class CaseTimeout(BaseException):
    """Raised by the alarm: a BaseException, so that no ``except Exception`` swallows it."""


@dataclass(frozen=True)
class Mutation:
    """One change to one file: ``kind`` and its arguments (shown by Hypothesis on failure)."""

    kind: str
    file: str
    args: tuple = ()


# --- strategies ---------------------------------------------------------------------------------

_positions = st.integers(0, 2**20)
_some_bytes = st.binary(min_size=1, max_size=8)


def _byte_mutations(files: list[str]) -> st.SearchStrategy[Mutation]:
    file = st.sampled_from(files)
    return st.one_of(
        st.builds(lambda f, at: Mutation("truncate", f, (at,)), file, _positions),
        st.builds(lambda f, flips: Mutation("flip", f, tuple(flips)), file,
                  st.lists(st.tuples(_positions, st.integers(0, 7)), min_size=1, max_size=8)),
        st.builds(lambda f, at, b: Mutation("overwrite", f, (at, b)), file, _positions,
                  _some_bytes),
        st.builds(lambda f, at, b: Mutation("insert", f, (at, b)), file, _positions, _some_bytes),
        st.builds(lambda f, at, n: Mutation("delete", f, (at, n)), file, _positions,
                  st.integers(1, 64)),
        st.builds(lambda f, b: Mutation("append", f, (b,)), file, _some_bytes),
        st.builds(lambda f: Mutation("remove", f), file),
    )  # fmt: skip


_dims = st.one_of(st.sampled_from([0, 1, 9, 27, 28, 29, 30, 31, 2**31, 2**32 - 1]),
                  st.integers(0, 2**32 - 1))  # fmt: skip


def _idx_mutations() -> st.SearchStrategy[Mutation]:
    file = st.sampled_from(MNIST_FILES)
    return st.one_of(
        st.builds(lambda f, i, v: Mutation("header", f, (i, v)), file, st.integers(0, 15),
                  st.integers(0, 255)),
        st.builds(lambda f, v: Mutation("header", f, (2, v)), file,
                  st.sampled_from([0x09, 0x0B, 0x0C, 0x0D, 0x0E, 0x07, 0xFF])),
        st.builds(lambda f, i, v: Mutation("dim", f, (i, v)), file, st.integers(0, 2), _dims),
        st.builds(lambda s, n, seed: Mutation("resize", s, (n, seed)),
                  st.sampled_from(["train", "t10k"]), st.integers(0, 40), st.integers(0, 99)),
        st.builds(lambda i, v: Mutation("label", "train-labels-idx1-ubyte", (i, v)),
                  st.integers(0, 29), st.integers(0, 255)),
    )  # fmt: skip


_PAYLOADS = ["os.system", "builtins.exec", "builtins.eval", "os.remove", "shutil.rmtree",
             "subprocess.call", "builtins.open"]  # fmt: skip
_ODD_VALUES = [-1, 10, 255, 2**31, 2**64, -(2**63), 3.0, "3", b"3", None, True, [3], (3,),
               np.int64(3), np.uint8(9), np.int64(10), np.float64(2.0), np.bool_(True)]  # fmt: skip
_LABEL_FORMS = ["int64 array", ">i8 array", "uint8 array", "int8 array", "float32 array",
                "bool array", "2-D array", "tuple", "dict", "str", "None", "bytes",
                "numpy scalars"]  # fmt: skip
_DATA_FORMS = ["int16", "float32", "uint16", "bool", ">u1", "int8", "object", "4-D", "1-D",
               "3071 columns", "3073 columns", "a row more", "a row less", "no rows",
               "fortran", "list", "bytes", "None", "str"]  # fmt: skip
_WHOLE = [[], (), None, 0, "data", b"data", {}, np.zeros(3, np.uint8)]
_PROTOCOLS = st.sampled_from(["py2", 0, 1, 2, 3, 4, 5])


def _object_mutations() -> st.SearchStrategy[Mutation]:
    batch = st.sampled_from(BATCHES)
    any_file = st.sampled_from(CIFAR_FILES)
    return st.one_of(
        st.builds(lambda f, d, p: Mutation("labels_len", f, (d, p)), batch,
                  st.integers(-6, 6).filter(bool), _PROTOCOLS),
        st.builds(lambda f, i, v, p: Mutation("label_value", f, (i, v, p)), batch,
                  st.integers(0, 5), st.sampled_from(_ODD_VALUES), _PROTOCOLS),
        st.builds(lambda f, k, p: Mutation("labels_as", f, (k, p)), batch,
                  st.sampled_from(_LABEL_FORMS), _PROTOCOLS),
        st.builds(lambda f, k, p: Mutation("data_as", f, (k, p)), batch,
                  st.sampled_from(_DATA_FORMS), _PROTOCOLS),
        st.builds(lambda f, k, p: Mutation("drop_key", f, (k, p)), any_file,
                  st.sampled_from(["data", "labels", "batch_label", "filenames", "label_names",
                                   "num_vis"]), _PROTOCOLS),
        st.builds(lambda f, k, p: Mutation("rename_labels", f, (k, p)), batch,
                  st.sampled_from(["fine_labels", "coarse_labels", b"labels"]), _PROTOCOLS),
        st.builds(lambda f, p: Mutation("bytes_keys", f, (p,)), any_file, _PROTOCOLS),
        st.builds(lambda f, v, p: Mutation("extra_key", f, (v, p)), any_file,
                  st.sampled_from([1, "x", [1, 2], {"a": 1}, np.zeros(2), np.array([None])]),
                  _PROTOCOLS),
        st.builds(lambda f, i, p: Mutation("whole", f, (i, p)), any_file,
                  st.integers(0, len(_WHOLE) - 1), _PROTOCOLS),
        st.builds(lambda n, p: Mutation("names_len", "batches.meta", (n, p)), st.integers(0, 12),
                  _PROTOCOLS),
        st.builds(lambda v, p: Mutation("name_value", "batches.meta", (v, p)),
                  st.sampled_from(_ODD_VALUES), _PROTOCOLS),
        st.builds(lambda f, k, w: Mutation("payload", f, (k, w)), any_file,
                  st.sampled_from(_PAYLOADS), st.sampled_from(["whole", "label", "extra key"])),
        st.builds(lambda f, p: Mutation("repickle", f, (p,)), any_file, _PROTOCOLS),
    )  # fmt: skip


def mutations(dataset: str) -> st.SearchStrategy[list[Mutation]]:
    """1-3 mutations of the dataset's files (object-level ones first, then bytes)."""
    if dataset == "cifar10":
        one = st.one_of(_byte_mutations(CIFAR_FILES), _object_mutations())
    else:
        one = st.one_of(_byte_mutations(MNIST_FILES), _idx_mutations())
    return st.lists(one, min_size=1, max_size=3)


# --- applying mutations -------------------------------------------------------------------------


class _Payload:
    """Unpickling it calls ``function(*args)``: a crafted file's code, here harmless but seen."""

    def __init__(self, function: Callable, *args: object) -> None:
        self.function, self.args = function, args

    def __reduce__(self):
        return self.function, self.args


def _payload(kind: str, root: Path, marker: Path) -> _Payload:
    import builtins
    import os

    victim = next(p for p in sorted(root.rglob("*")) if p.is_file())
    return {
        "os.system": _Payload(os.system, f"touch {marker}"),
        "builtins.exec": _Payload(builtins.exec, f"open({str(marker)!r}, 'w')"),
        "builtins.eval": _Payload(builtins.eval, f"open({str(marker)!r}, 'w')"),
        "os.remove": _Payload(os.remove, str(victim)),
        "shutil.rmtree": _Payload(shutil.rmtree, str(root)),
        "subprocess.call": _Payload(subprocess.call, ["touch", str(marker)]),
        "builtins.open": _Payload(builtins.open, str(marker), "w"),
    }[kind]


def _labels_as(labels: list[int], kind: str) -> object:
    arrays = {"int64 array": "<i8", ">i8 array": ">i8", "uint8 array": "u1",
              "int8 array": "i1", "float32 array": "f4", "bool array": "?"}  # fmt: skip
    if kind in arrays:
        return np.array(labels).astype(arrays[kind])
    return {
        "2-D array": np.array(labels).reshape(-1, 1), "tuple": tuple(labels),
        "dict": dict(enumerate(labels)), "str": "".join(map(str, labels)), "None": None,
        "bytes": bytes(labels), "numpy scalars": [np.int64(v) for v in labels],
    }[kind]  # fmt: skip


def _data_as(data: np.ndarray, kind: str) -> object:
    if kind in ("int16", "float32", "uint16", "bool", ">u1", "int8", "object"):
        return data.astype(kind)
    forms: dict[str, Callable[[], object]] = {
        "4-D": lambda: data.reshape(-1, 3, 32, 32), "1-D": lambda: data.reshape(-1),
        "3071 columns": lambda: data[:, :3071],
        "3073 columns": lambda: np.pad(data, ((0, 0), (0, 1))),
        "a row more": lambda: np.vstack([data, data[:1]]), "a row less": lambda: data[1:],
        "no rows": lambda: data[:0], "fortran": lambda: np.asfortranarray(data),
        "list": data.tolist, "bytes": data.tobytes, "None": lambda: None, "str": lambda: "pixels",
    }  # fmt: skip
    return forms[kind]()


def _change(entry: object, m: Mutation, root: Path, marker: Path) -> object:
    """The CIFAR object ``entry`` after the object-level mutation ``m``."""
    kind, args = m.kind, m.args
    e = dict(entry) if isinstance(entry, dict) else entry
    if kind == "labels_len":
        labels = list(e["labels"])
        e["labels"] = labels[: args[0]] if args[0] < 0 else labels + [1] * args[0]
    elif kind == "label_value":
        e["labels"] = [args[1] if i == args[0] else v for i, v in enumerate(e["labels"])]
    elif kind == "labels_as":
        e["labels"] = _labels_as(e["labels"], args[0])
    elif kind == "data_as":
        e["data"] = _data_as(e["data"], args[0])
    elif kind == "drop_key":
        e.pop(args[0], None)
    elif kind == "rename_labels":
        e[args[0]] = e.pop("labels")
    elif kind == "bytes_keys":
        e = {k.encode(): v for k, v in e.items()}
    elif kind == "extra_key":
        e["extra"] = args[0]
    elif kind == "whole":
        e = _WHOLE[args[0]]
    elif kind == "names_len":
        e["label_names"] = (e["label_names"] * 2)[: args[0]]
    elif kind == "name_value":
        e["label_names"] = [args[0], *e["label_names"][1:]]
    elif kind == "payload":
        payload = _payload(args[0], root, marker)
        if args[1] == "whole":
            e = payload
        elif args[1] == "label" and "labels" in e:
            e["labels"] = [payload, *e["labels"][1:]]
        else:
            e["extra"] = payload
    return e


def _dumps(obj: object, protocol: object) -> bytes:
    if protocol == "py2":
        try:
            return py2_pickle(obj)
        except TypeError:  # beyond the Python 2 writer's types: this Python's protocol 2
            protocol = 2
    return pickle.dumps(obj, protocol=protocol)


def _apply_bytes(data: bytes, m: Mutation) -> bytes | None:
    n = max(len(data), 1)
    if m.kind == "truncate":
        return data[: m.args[0] % (len(data) + 1)]
    if m.kind == "flip":
        out = bytearray(data)
        for at, bit in m.args:
            if out:
                out[at % n] ^= 1 << bit
        return bytes(out)
    if m.kind == "overwrite":
        at = m.args[0] % n
        return data[:at] + m.args[1] + data[at + len(m.args[1]) :]
    if m.kind == "insert":
        at = m.args[0] % (len(data) + 1)
        return data[:at] + m.args[1] + data[at:]
    if m.kind == "delete":
        at = m.args[0] % n
        return data[:at] + data[at + m.args[1] :]
    if m.kind == "append":
        return data + m.args[0]
    if m.kind == "remove":
        return None
    return _apply_idx(data, m)


def _apply_idx(data: bytes, m: Mutation) -> bytes:
    out = bytearray(data)
    if m.kind == "header" and m.args[0] < len(out):
        out[m.args[0]] = m.args[1]
    elif m.kind == "dim":
        at = 4 + 4 * m.args[0]
        if at + 4 <= len(out):
            out[at : at + 4] = struct.pack(">I", m.args[1])
    elif m.kind == "label" and 8 + m.args[0] < len(out):
        out[8 + m.args[0]] = m.args[1]
    return bytes(out)


def apply(dataset: str, root: Path, muts: list[Mutation], marker: Path) -> None:
    """Apply ``muts`` to the files under ``root`` (object-level ones first)."""
    if dataset == "cifar10":
        folder = root / "cifar-10-batches-py"
        objects = {m.file: None for m in muts if m.kind in _OBJECT_KINDS}
        for name in objects:
            entry = pickle.loads((folder / name).read_bytes())  # the base file: trusted
            protocol: object = 2
            for m in muts:
                if m.file == name and m.kind in _OBJECT_KINDS:
                    try:
                        entry = _change(entry, m, root, marker)
                    except (KeyError, TypeError, AttributeError, IndexError, ValueError):
                        continue  # an earlier mutation left nothing for this one to change
                    protocol = m.args[-1] if m.kind != "payload" else 2
            (folder / name).write_bytes(_dumps(entry, protocol))
    else:
        folder = root / "MNIST" / "raw"
        for m in muts:
            if m.kind == "resize":
                rng = np.random.default_rng(m.args[1])
                n = m.args[0]
                write_idx(folder / f"{m.file}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28)))
                write_idx(folder / f"{m.file}-labels-idx1-ubyte", rng.integers(0, 10, n))
    for m in muts:
        if m.kind in _OBJECT_KINDS or m.kind == "resize":
            continue
        path = folder / m.file
        if not path.exists():
            continue
        changed = _apply_bytes(path.read_bytes(), m)
        if changed is None:
            path.unlink()
        else:
            path.write_bytes(changed)


_OBJECT_KINDS = {"labels_len", "label_value", "labels_as", "data_as", "drop_key",
                 "rename_labels", "bytes_keys", "extra_key", "whole", "names_len", "name_value",
                 "payload", "repickle"}  # fmt: skip


# --- reference readers --------------------------------------------------------------------------


def _idx(path: Path, dims_expected: tuple) -> np.ndarray | None:
    """A strict idx-ubyte parse (the format's definition), or None."""
    if not path.is_file():
        return None
    data = path.read_bytes()
    ndim = len(dims_expected)
    if len(data) < 4 + 4 * ndim or data[:4] != bytes([0, 0, 8, ndim]):
        return None
    dims = struct.unpack(f">{ndim}I", data[4 : 4 + 4 * ndim])
    pairs = zip(dims_expected, dims, strict=True)
    if dims[0] == 0 or any(e is not None and e != d for e, d in pairs):
        return None
    if len(data) != 4 + 4 * ndim + int(np.prod(dims, dtype=object)):
        return None
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def reference_mnist(root: Path):
    raw = root / "MNIST" / "raw"
    images, labels = [], []
    for prefix in ("train", "t10k"):
        x = _idx(raw / f"{prefix}-images-idx3-ubyte", (None, 28, 28))
        y = _idx(raw / f"{prefix}-labels-idx1-ubyte", (None,))
        if x is None or y is None or len(x) != len(y) or (y >= 10).any():
            return ("invalid", f"{prefix} split")
        images.append(x[:, None])
        labels.append(y.astype(np.int64))
    return ("valid", np.concatenate(images), np.concatenate(labels), len(labels[0]))


# --- one case -----------------------------------------------------------------------------------


def _snapshot(root: Path) -> dict[str, tuple]:
    return {
        str(p.relative_to(root)): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns,
                                   p.stat().st_mode)
        for p in sorted(root.rglob("*")) if p.is_file()
    }  # fmt: skip


def _alarm(signum, frame):
    raise CaseTimeout


_BASES: dict[str, Path] = {}


def base_files(dataset: str) -> Path:
    """The valid files each case starts from (written once per process)."""
    if dataset not in _BASES:
        top = Path(tempfile.mkdtemp(prefix=f"fuzz-base-{dataset}-"))
        atexit.register(shutil.rmtree, top, ignore_errors=True)
        root = top / "data"
        if dataset == "cifar10":
            write_cifar10(root, **SIZES[dataset])
        else:
            write_mnist(root, **SIZES[dataset])
        _BASES[dataset] = root
    return _BASES[dataset]


def run_case(dataset: str, muts: list[Mutation], reference: ReferenceReader) -> str:
    """The verdict on one case (see the module); raises AssertionError on a failed case."""
    module = {"mnist": MNISTDataModule, "cifar10": CIFAR10DataModule}[dataset]
    with tempfile.TemporaryDirectory() as tmp:
        root, marker = Path(tmp) / "data", Path(tmp) / "code_ran"
        shutil.copytree(base_files(dataset), root)
        apply(dataset, root, muts, marker)
        before = _snapshot(root)
        outcome, error = "ok", None
        previous = signal.signal(signal.SIGALRM, _alarm)
        signal.setitimer(signal.ITIMER_REAL, CASE_SECONDS)
        try:
            dm = module(data_dir=str(root), verify_checksums=False, normalization="none")
            dm.setup("fit")
        except CaseTimeout:
            raise AssertionError(f"setup ran over {CASE_SECONDS} s: {muts}") from None
        except DataError as err:
            outcome, error = "data-error", err
        except UsageError as err:
            outcome, error = "usage-error", err
        except Exception as err:
            raise AssertionError(
                f"{type(err).__name__} (not a clear error) on {muts}:\n{traceback.format_exc()}"
            ) from None
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
        assert not marker.exists(), f"a file ran code: {muts}"
        assert _snapshot(root) == before, f"files changed: {muts}"
        ref = (reference.read(root / "cifar-10-batches-py") if dataset == "cifar10"
               else reference_mnist(root))  # fmt: skip
        if error is not None:
            message = str(error)
            assert "\n" not in message, message
            assert len(message) < 1200, message
            if outcome == "data-error":  # names the directory (and the file, where one is bad)
                assert str(root.resolve()) in message, message
                return "stricter" if ref[0] == "valid" else outcome
            return outcome
        if ref[0] == "broken":
            return "ok-unjudged"
        assert ref[0] == "valid", f"accepted files the reference rejects ({ref[1]}): {muts}"
        _, images, labels, n_train = ref
        pool = dm.pool
        np.testing.assert_array_equal(pool.dataset.images.numpy(), images, err_msg=str(muts))
        np.testing.assert_array_equal(pool.labels, labels, err_msg=str(muts))
        assert pool.is_train.tolist() == [True] * n_train + [False] * (len(labels) - n_train)
        return "ok"
