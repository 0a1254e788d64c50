"""Unpickle plain data only: containers, strings, numbers and numeric numpy arrays, no code.

``pickle.load`` calls whatever a file names (``os.system``, ``builtins.exec`` ...), so a crafted
dataset file runs code when it is read. :func:`load_plain` admits the pickle opcodes that build
plain Python values (dict, list, tuple, set, str, bytes, int, float, bool, None) and, of all
globals, only the few that numpy's own pickles name to rebuild an array, a dtype or a scalar
(``numpy.core.multiarray._reconstruct``, ``numpy.ndarray``, ``numpy.dtype``, ``scalar``,
``_frombuffer``; ``_codecs.encode`` with latin-1 and ``bytes()``, how Python 3 pickles bytes
at protocols 0-2).
Even those never reach numpy with the file's arguments: they return inert records of what the
file asks for, and the arrays are then built here, by ``np.frombuffer`` on the file's bytes,
after checking the dtype (booleans, integers, floats, complex, any byte order: nothing with
Python objects inside) and that the bytes fill the shape exactly; they come out writable and
in the byte order numpy's own unpickling gives. So nothing the file says can
call a function, allocate more memory than its own size, or hand numpy a state to trust.
"""

from __future__ import annotations

import io
import math
import pickle
import re
from typing import Any

import numpy as np

#: Nested containers deeper than this are refused (no dataset file nests more than a few).
MAX_DEPTH = 32
_NUMERIC_DTYPE = re.compile(r"[biufc]\d{1,2}")
_LATIN1 = {"latin1", "latin-1", "latin_1", "iso-8859-1", "iso8859-1", "l1"}


class UnsafePickle(pickle.UnpicklingError):
    """The file is not plain data (it names code, or an array that cannot be rebuilt safely)."""


class _NDArrayType:
    """Stands for ``numpy.ndarray`` as the argument of ``_reconstruct``; not callable."""

    __slots__ = ()


_NDARRAY = _NDArrayType()


class _Dtype:
    """What ``numpy.dtype(spec, align, copy)`` and its ``BUILD`` state ask for."""

    __slots__ = ("spec", "state")

    def __init__(self, spec: object) -> None:
        self.spec = spec
        self.state: object = None

    def __setstate__(self, state: object) -> None:
        self.state = state


class _Array:
    """What ``_reconstruct(ndarray, ...)`` + ``BUILD`` (or ``_frombuffer``) ask for."""

    __slots__ = ("native", "state")

    def __init__(self, state: object = None, native: bool = True) -> None:
        self.state = state
        self.native = native  # numpy's __setstate__ gives native order, _frombuffer keeps it

    def __setstate__(self, state: object) -> None:
        self.state = state


class _Scalar:
    """What ``numpy.core.multiarray.scalar(dtype, bytes)`` asks for."""

    __slots__ = ("data", "dtype")

    def __init__(self, dtype: object, data: object = None) -> None:
        self.dtype, self.data = dtype, data

    def __setstate__(self, state: object) -> None:
        raise UnsafePickle("a numpy scalar with a state")


# The admitted globals are functions, not classes: NEWOBJ (``cls.__new__``) cannot use them.


def _new_dtype(spec: object, align: object = False, copy: object = False) -> _Dtype:
    return _Dtype(spec)


def _new_scalar(dtype: object, data: object = None) -> _Scalar:
    return _Scalar(dtype, data)


def _reconstruct(subtype: object, shape: object, typecode: object) -> _Array:
    if subtype is not _NDARRAY:
        raise UnsafePickle("an array of a type other than numpy.ndarray")
    return _Array()


def _frombuffer(buffer: object, dtype: object, shape: object, order: object) -> _Array:
    return _Array((1, shape, dtype, order == "F", buffer), native=False)


def _latin1_encode(text: object, encoding: object = "utf-8") -> bytes:
    """``_codecs.encode`` as pickles of bytes use it: ``(str, 'latin1')`` only."""
    if not isinstance(text, str) or str(encoding).lower() not in _LATIN1:
        raise UnsafePickle("_codecs.encode other than of a string to latin-1")
    return text.encode("latin-1")


def _empty_bytes(*args: object) -> bytes:
    """``bytes()``, how Python 3 pickles ``b""`` at protocols 0-2 (never ``bytes(n)``)."""
    if args:
        raise UnsafePickle("bytes() with arguments")
    return b""


#: The globals a pickle may name (numpy 1.x spells numpy._core numpy.core), and what they give.
ALLOWED_GLOBALS = {
    **{(f"numpy.{core}.multiarray", "_reconstruct"): _reconstruct for core in ("core", "_core")},
    **{(f"numpy.{core}.multiarray", "scalar"): _new_scalar for core in ("core", "_core")},
    **{(f"numpy.{core}.numeric", "_frombuffer"): _frombuffer for core in ("core", "_core")},
    ("numpy", "ndarray"): _NDARRAY,
    ("numpy", "dtype"): _new_dtype,
    ("_codecs", "encode"): _latin1_encode,
    ("__builtin__", "bytes"): _empty_bytes,
    ("builtins", "bytes"): _empty_bytes,
}


class _PlainUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        try:
            return ALLOWED_GLOBALS[module, name]
        except KeyError:
            raise UnsafePickle(
                f"it names `{module}.{name}`, which is code, not data (only plain values and "
                "numpy arrays are admitted, so that reading a file cannot run anything)"
            ) from None


def load_plain(data: bytes) -> Any:
    """The plain value pickled in ``data`` (read with ``encoding="latin1"``, as torchvision
    reads Python 2 pickles), with real numpy arrays and scalars in place of numpy's records.

    Raises:
        UnsafePickle: the pickle names a global outside :data:`ALLOWED_GLOBALS`, or an array,
            dtype or scalar that is not plain numeric data.
        pickle.UnpicklingError: anything else that is not a complete, well-formed pickle
            (the cause says what).

    Example:
        >>> load_plain(pickle.dumps({"data": np.arange(3, dtype=np.uint8), "labels": [1, 2]}))
        {'data': array([0, 1, 2], dtype=uint8), 'labels': [1, 2]}
        >>> load_plain(pickle.dumps(print))
        Traceback (most recent call last):
        ...
        lightning_snnpriv.data.safe_pickle.UnsafePickle: it names `builtins.print`, ...
    """  # noqa: D205
    try:
        raw = _PlainUnpickler(io.BytesIO(data), encoding="latin1").load()
    except UnsafePickle:
        raise
    except Exception as err:  # no code runs here: any failure is a malformed file
        reason = " ".join(f"{type(err).__name__}: {err}".split())[:200]  # one line
        raise pickle.UnpicklingError(f"not a complete pickle ({reason})") from None
    return _Resolver().resolve(raw, 0)


class _Resolver:
    """Replaces numpy's records by arrays, once per object (shared references stay shared)."""

    def __init__(self) -> None:
        self.done: dict[int, Any] = {}

    def resolve(self, obj: Any, depth: int) -> Any:
        if obj is None or type(obj) in (bool, int, float, complex, str, bytes, bytearray):
            return obj
        if id(obj) in self.done:
            return self.done[id(obj)]
        if depth > MAX_DEPTH:
            raise UnsafePickle(f"values nested more than {MAX_DEPTH} deep")
        if type(obj) is list:
            out: list[Any] = []
            self.done[id(obj)] = out
            out.extend(self.resolve(item, depth + 1) for item in obj)
        elif type(obj) is dict:
            result: dict[Any, Any] = {}
            self.done[id(obj)] = result
            for key, value in obj.items():
                result[self._key(key, depth)] = self.resolve(value, depth + 1)
            out = result  # type: ignore[assignment]
        elif type(obj) is tuple:
            out = tuple(self.resolve(item, depth + 1) for item in obj)  # type: ignore[assignment]
        elif type(obj) in (set, frozenset):
            out = type(obj)(self._key(item, depth) for item in obj)  # type: ignore[assignment]
        elif type(obj) is _Array:
            out = _array(obj.state, obj.native)  # type: ignore[assignment]
        elif type(obj) is _Scalar:
            out = _scalar(obj)  # type: ignore[assignment]
        elif type(obj) is _Dtype:
            out = _dtype(obj)  # type: ignore[assignment]
        else:  # _NDARRAY and the admitted functions: a pickle may name them, never hold them
            raise UnsafePickle(f"it holds a {type(obj).__name__}, which is not plain data")
        self.done[id(obj)] = out
        return out

    def _key(self, key: Any, depth: int) -> Any:
        """Dict keys and set items: hashable plain values (no numpy records)."""
        value = self.resolve(key, depth + 1)
        if isinstance(value, (np.ndarray, list, dict, set, bytearray)):
            raise UnsafePickle("a dict key or set item that is not a plain value")
        return value


def _dtype(record: _Dtype) -> np.dtype:
    """A numeric dtype: ``spec`` like ``u1``/``<i8`` and numpy's state ``(3, order, None, ...)``."""
    spec, state = record.spec, record.state
    if not isinstance(spec, str) or not _NUMERIC_DTYPE.fullmatch(spec.lstrip("<>|=")):
        raise UnsafePickle(f"a numpy dtype that is not plain numbers ({_describe(spec)})")
    try:
        dtype = np.dtype(spec)
    except (TypeError, ValueError):
        raise UnsafePickle(f"an unknown numpy dtype {spec!r}") from None
    if state is not None:
        plain = (
            type(state) is tuple
            and len(state) in (8, 9)
            and state[0] in (3, 4)
            and state[1] in ("<", ">", "|", "=")
            and state[2:5] == (None, None, None)
            and state[5:7] == (-1, -1)
            and (len(state) == 8 or state[8] is None)
        )
        if not plain:
            raise UnsafePickle(f"a numpy dtype {spec!r} whose state is not a plain number's")
        if state[1] in "<>":
            dtype = dtype.newbyteorder(state[1])
    return dtype


def _bytes_of(data: object) -> bytes:
    """Raw bytes as pickled: bytes, a bytearray, or (Python 2 ``str``) latin-1 text."""
    if isinstance(data, (bytes, bytearray)):
        return bytes(data)
    if isinstance(data, str):
        return data.encode("latin-1")
    raise UnsafePickle(f"numpy data given as {_describe(data)}, not as bytes")


def _array(state: object, native: bool) -> np.ndarray:
    """``(1, shape, dtype, fortran, raw)``: ``raw`` must fill ``shape`` of ``dtype`` exactly."""
    if not (type(state) is tuple and len(state) == 5 and state[0] == 1):
        raise UnsafePickle("a numpy array without its data")
    _, shape, dtype, fortran, raw = state
    if type(shape) is not tuple or not all(type(n) is int and n >= 0 for n in shape):
        raise UnsafePickle(f"a numpy array of shape {_describe(shape)}")
    if type(dtype) is not _Dtype:
        raise UnsafePickle("a numpy array without a dtype")
    dtype = _dtype(dtype)
    raw = _bytes_of(raw)
    if len(raw) != math.prod(shape) * dtype.itemsize:
        raise UnsafePickle(
            f"a numpy array of shape {shape} and dtype {dtype} ({math.prod(shape)} values) "
            f"holding {len(raw)} bytes"
        )
    array = np.frombuffer(raw, dtype=dtype).reshape(shape, order="F" if fortran else "C")
    return array.astype(dtype.newbyteorder("=") if native else dtype, order="K")  # a copy


def _scalar(record: _Scalar) -> np.generic:
    if type(record.dtype) is not _Dtype:
        raise UnsafePickle("a numpy scalar without a dtype")
    dtype = _dtype(record.dtype)
    raw = _bytes_of(record.data)
    if len(raw) != dtype.itemsize:
        raise UnsafePickle(f"a numpy {dtype} scalar of {len(raw)} bytes")
    return np.frombuffer(raw, dtype=dtype)[0]


def _describe(value: object) -> str:
    """A short description of an untrusted value (never its whole repr: that could be huge)."""
    if type(value) is int and abs(value) < 10**12:
        return str(value)
    if type(value) is str:
        return repr(value[:24]) + ("..." if len(value) > 24 else "")
    if type(value) is tuple and len(value) <= 4 and all(type(v) is int for v in value):
        return "(" + ", ".join(_describe(item) for item in value) + ")"
    return f"a {type(value).__name__}"


__all__ = ["ALLOWED_GLOBALS", "UnsafePickle", "load_plain"]
