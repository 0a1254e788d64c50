"""DirectCheckpointIO: one write and a rename, the same loadable file; only the default goes."""

from __future__ import annotations

import pickle
from types import SimpleNamespace

import pytest
import torch
from lightning_fabric.plugins.io import TorchCheckpointIO

from lightning_snnpriv.callbacks.checkpoint_io import DirectCheckpointIO, use_direct_io


def test_saves_what_lightning_saves(tmp_path):
    checkpoint = {"state_dict": {"w": torch.randn(64, 32)}, "epoch": 3, "rng": [1, "a"]}
    direct, lightning = tmp_path / "sub" / "direct.ckpt", tmp_path / "lightning.ckpt"
    DirectCheckpointIO().save_checkpoint(checkpoint, direct)
    TorchCheckpointIO().save_checkpoint(checkpoint, lightning)
    ours, theirs = (torch.load(p, weights_only=True) for p in (direct, lightning))
    assert torch.equal(ours["state_dict"]["w"], theirs["state_dict"]["w"])
    assert ours["epoch"] == theirs["epoch"] == 3
    assert ours["rng"] == [1, "a"]
    assert sorted(p.name for p in direct.parent.iterdir()) == ["direct.ckpt"]  # no .part left


def test_a_failed_save_leaves_no_file(tmp_path):
    target = tmp_path / "x.ckpt"
    with pytest.raises((AttributeError, pickle.PicklingError)):  # a lambda does not pickle
        DirectCheckpointIO().save_checkpoint({"bad": lambda: 0}, target)
    assert list(tmp_path.iterdir()) == []


def test_storage_options_are_refused_as_lightning_does(tmp_path):
    with pytest.raises(TypeError, match="storage_options"):
        DirectCheckpointIO().save_checkpoint({}, tmp_path / "x.ckpt", storage_options={})


def test_only_the_default_writer_is_replaced():
    default = SimpleNamespace(checkpoint_io=TorchCheckpointIO())
    assert use_direct_io(default)
    assert type(default.checkpoint_io) is DirectCheckpointIO

    class Own(TorchCheckpointIO):
        pass

    own = SimpleNamespace(checkpoint_io=Own())
    assert not use_direct_io(own)
    assert type(own.checkpoint_io) is Own
