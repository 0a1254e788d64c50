"""load_plain: numpy's own pickles load as pickle.loads loads them; nothing else gets through."""

from __future__ import annotations

import os
import pickle
import subprocess

import numpy as np
import pytest

from lightning_snnpriv.data.safe_pickle import MAX_DEPTH, UnsafePickle, load_plain

ARRAYS = {
    "uint8 2-D": np.arange(24, dtype=np.uint8).reshape(4, 6),
    "big-endian int64": np.arange(5, dtype=">i8"),
    "float32 Fortran": np.asfortranarray(np.arange(12, dtype=np.float32).reshape(3, 4)),
    "bool": np.array([True, False, True]),
    "complex128": np.array([1 + 2j, -3j]),
    "empty": np.zeros((0, 3072), dtype=np.uint8),
    "0-d": np.array(7, dtype=np.int16),
    "non-contiguous": np.arange(20, dtype=np.uint16)[::3],
}


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
@pytest.mark.parametrize("name", list(ARRAYS))
def test_numpy_arrays_load_as_pickle_loads_them(name: str, protocol: int):
    value = {"data": ARRAYS[name], "labels": [1, np.int64(2), np.uint8(3)], "n": (1, 2.5, None)}
    data = pickle.dumps(value, protocol=protocol)
    loaded, expected = load_plain(data), pickle.loads(data)
    np.testing.assert_array_equal(loaded["data"], expected["data"])
    assert loaded["data"].dtype == expected["data"].dtype
    assert loaded["data"].shape == expected["data"].shape
    assert loaded["data"].flags.writeable
    assert loaded["labels"] == expected["labels"]
    assert [type(v) for v in loaded["labels"]] == [type(v) for v in expected["labels"]]
    assert loaded["n"] == expected["n"]


def test_shared_and_cyclic_references_stay_so():
    shared = [1, 2]
    cyclic: list = [0]
    cyclic.append(cyclic)
    loaded = load_plain(pickle.dumps({"a": shared, "b": shared, "c": cyclic}))
    assert loaded["a"] is loaded["b"]
    assert loaded["c"][1] is loaded["c"]


class _Calls:
    def __init__(self, function, *args) -> None:
        self.function, self.args = function, args

    def __reduce__(self):
        return self.function, self.args


@pytest.mark.parametrize("value", [
    _Calls(os.system, "true"), _Calls(eval, "1"), _Calls(exec, "1"),
    _Calls(subprocess.call, ["true"]), _Calls(getattr, 1, "real"), _Calls(print, 1),
    _Calls(np.load, "x.npy"), _Calls(pickle.loads, b"."),
    np.array([object()], dtype=object), np.array(["text"]), np.zeros(2, "datetime64[s]"),
    np.zeros(2, dtype=[("a", "u1"), ("b", "f4")]), np.ma.masked_array([1, 2], [0, 1]),
    np.matrix([[1, 2]]), np.int64, np.float64(1.0).dtype.type,
], ids=lambda v: v.function.__name__ if isinstance(v, _Calls) else type(v).__name__)  # fmt: skip
def test_code_objects_and_other_dtypes_are_refused(value):
    with pytest.raises(UnsafePickle):
        load_plain(pickle.dumps([value]))


#: Hand-written pickles of what numpy's pickles could be twisted into.
CRAFTED = {
    # numpy.ndarray called directly, with a huge shape (a memory bomb for numpy itself)
    "ndarray called": b"\x80\x02cnumpy\nndarray\n(J\x00\x00\x00\x7f\x85tR.",
    # numpy.dtype used as a class for NEWOBJ
    "dtype newobj": b"\x80\x02cnumpy\ndtype\nU\x02u1\x85\x81.",
    # _reconstruct of a huge array, then no BUILD: never allocated, refused as without data
    "no state": b"\x80\x02cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\n"
                b"J\x00\x00\x00\x7f\x85U\x01b\x87R.",
    # BUILD on the ndarray stand-in itself
    "build ndarray": b"\x80\x02cnumpy\nndarray\n}b.",
    # _codecs.encode with a codec other than latin-1
    "rot13": b"\x80\x02c_codecs\nencode\nX\x01\x00\x00\x00aX\x05\x00\x00\x00rot13\x86R.",
    # a registered-extension opcode (copyreg's registry is empty)
    "extension": b"\x80\x02\x82\x01.",
    # a persistent id
    "persistent id": b"\x80\x02U\x01xQ.",
    # bytes(n): n zero bytes (a memory bomb), where pickles only ever use bytes()
    "bytes(n)": b"\x80\x02c__builtin__\nbytes\nJ\x00\x00\x00\x7f\x85R.",
}  # fmt: skip


@pytest.mark.parametrize("name", list(CRAFTED))
def test_crafted_numpy_pickles_are_refused(name: str):
    with pytest.raises(pickle.UnpicklingError):
        load_plain(CRAFTED[name])


def test_an_array_state_whose_bytes_do_not_fill_its_shape_is_refused():
    data = pickle.dumps(np.zeros(4, np.uint8), protocol=2)
    twisted = data.replace(b"K\x04\x85", b"J\x00\x00\x00\x40\x85")  # shape (2**30,), 4 bytes
    with pytest.raises(UnsafePickle, match="holding 4 bytes"):
        load_plain(twisted)


@pytest.mark.parametrize("flags", [1, 3, 63])
def test_a_tampered_dtype_state_never_reaches_numpy(flags: int):
    """numpy's own unpickling honours a dtype's pickled ``flags``: 1 (``NPY_ITEM_REFCOUNT``)
    on uint8 bytes corrupts memory, 3 and 63 raise SystemError (seen with numpy 2.4). The
    arrays are built here from the dtype's name and the raw bytes instead."""
    data = pickle.dumps(np.arange(16, dtype=np.uint8), protocol=2)
    state = b"J\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00t"
    assert data.count(state) == 1
    twisted = data.replace(state, state[:-2] + bytes([flags]) + b"t")
    np.testing.assert_array_equal(load_plain(twisted), np.arange(16, dtype=np.uint8))


def test_nesting_beyond_the_limit_is_refused():
    value: list = []
    for _ in range(MAX_DEPTH + 2):
        value = [value]
    with pytest.raises(UnsafePickle, match="nested"):
        load_plain(pickle.dumps(value))
    ok: list = []
    for _ in range(MAX_DEPTH - 1):
        ok = [ok]
    assert load_plain(pickle.dumps(ok)) == ok


@pytest.mark.parametrize("cut", [0, 1, 10, -1])
def test_a_truncated_pickle_is_an_unpickling_error(cut: int):
    data = pickle.dumps({"data": np.zeros(10, np.uint8)})
    with pytest.raises(pickle.UnpicklingError):
        load_plain(data[:cut])
