"""Your own network and data through the CLI: the worked example of the docs, run for real."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from cli_runs import CONFIGS, load_results, run_cli, run_fit
from torch.utils.data import TensorDataset

from lightning_snnpriv.data import DatasetDataModule, TensorFileDataset
from lightning_snnpriv.errors import ConfigError, DataError
from lightning_snnpriv.examples.own_model import MLP, Moons
from lightning_snnpriv.models import NetworkClassifier
from lightning_snnpriv.runs import RunDir

EXAMPLES = CONFIGS / "examples"


@pytest.mark.parametrize("kind", ["snn", "ann"])
def test_the_worked_example_runs_through_fit(kind, tmp_path):
    run = run_fit(EXAMPLES / f"own_{kind}.yaml", tmp_path, "--mia.print_table=false")
    results = load_results(run)
    assert [r["attack"] for r in results["records"]] == ["loss", "shokri"]
    assert results["settings"]["kind"] == kind
    assert results["settings"]["model"] == "NetworkClassifier"
    assert results["settings"]["data"] == "DatasetDataModule"
    loaded = RunDir(run).load()  # the plan and signals of the usual run directory
    assert loaded.outputs.shape == (2, 400, 2)
    assert loaded.plan.num_models == 2
    assert not (loaded.plan.keep[0] & loaded.plan.keep[1]).any()  # shokri: disjoint halves
    saved = torch.load(RunDir(run).last_checkpoint, weights_only=True)["hyper_parameters"]
    assert saved["network"]["class_path"].endswith("SpikingMLP" if kind == "snn" else ".MLP")
    assert run_cli(["attack", "--run", str(run), "--attacks", "loss,gap", "--mia.bootstrap=0",
                    "--print_table=false"]) == 0  # fmt: skip
    assert [r["attack"] for r in load_results(run, ".1")["records"]] == ["loss", "gap"]


def test_a_tensor_file_is_a_dataset(tmp_path):
    moons = Moons(120)
    path = tmp_path / "moons.pt"
    torch.save({"x": moons.data, "y": moons.targets}, path)
    run = run_fit(
        EXAMPLES / "own_ann.yaml",
        tmp_path,
        '--data.init_args.dataset={"class_path": "lightning_snnpriv.data.TensorFileDataset", '
        f'"init_args": {{"path": "{path}"}}}}',
        "--mia.print_table=false",
        "--mia.bootstrap=0",
    )
    loaded = RunDir(run).load()
    assert torch.equal(loaded.labels, moons.targets)  # the pool is the file, in order


def test_a_network_with_the_wrong_output_size_is_refused_naming_the_field(tmp_path, capsys):
    code = run_cli(["fit", "--config", str(EXAMPLES / "own_ann.yaml"),
                    "--model.init_args.network.init_args.num_classes=3",
                    f"--trainer.logger.init_args.save_dir={tmp_path}"])  # fmt: skip
    assert code == 2
    err = capsys.readouterr().err
    assert "model.init_args.network" in err
    assert "expected a tensor of shape (2, 2)" in err
    assert not any(tmp_path.iterdir())  # refused before anything was written


def test_test_dataset_is_the_test_split_and_labels_come_from_targets():
    data = DatasetDataModule(Moons(100, seed=0), test_dataset=Moons(50, seed=1), scheme="paper")
    data.setup("fit")
    assert data.num_classes == 2
    assert data.input_shape == (2,)
    np.testing.assert_array_equal(data.pool.is_train, np.arange(150) < 100)
    assert data.plan.keep[0].sum() == 100  # paper: the target trains on the train split


def test_python_objects_work_as_well():
    model = NetworkClassifier(MLP, num_models=3, num_classes=2, input_shape=(2,))
    assert model(torch.zeros(4, 2)).shape == (3, 4, 2)
    first, second = model.ensemble.members[:2]
    assert not torch.equal(first.layers[0].weight, second.layers[0].weight)  # fresh copies
    assert model.settings()["network"] == "lightning_snnpriv.examples.own_model.MLP"


def test_bad_own_data_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="labels >= 0"):
        DatasetDataModule(TensorDataset(torch.zeros(4, 2), torch.tensor([0, 1, -1, 0])))
    (tmp_path / "bad.pt").write_bytes(b"not a tensor file")
    with pytest.raises(DataError, match="not a readable tensor file"):
        TensorFileDataset(tmp_path / "bad.pt")
