"""The Python API returns the records the command line writes, and refuses bad input."""

from __future__ import annotations

import json

import pytest
import torch
from cli_runs import DEFAULT_CONFIG

from lightning_snnpriv import api
from lightning_snnpriv.errors import ConfigError, UsageError
from lightning_snnpriv.runs import RunDir

#: The default job, made small (as tests/cli_runs.SMALL), as API overrides.
SMALL = {
    "model.init_args.hidden_sizes": [16],
    "model.init_args.num_steps": 3,
    "trainer.max_epochs": 2,
    "mia.bootstrap": 20,
}


def _plain(records):
    return json.loads(json.dumps(records))


@pytest.fixture(scope="module")
def api_run(tmp_path_factory):
    logs = tmp_path_factory.mktemp("api") / "logs"
    return api.fit(DEFAULT_CONFIG, {**SMALL, "trainer.logger.init_args.save_dir": str(logs)})


def test_fit_returns_the_records_it_wrote(api_run):
    assert api_run.run_dir.path.is_dir()
    written = RunDir(api_run.run_dir.path).load_results()
    assert _plain(api_run.records) == written["records"]
    assert [r["attack"] for r in api_run.records] == ["loss", "shokri"]


def test_fit_from_a_config_dict(tmp_path):
    config = api.load_config(DEFAULT_CONFIG)
    config["trainer"]["logger"]["init_args"]["save_dir"] = str(tmp_path / "logs")
    config["mia"] = {"attacks": ["loss"], "bootstrap": 0}
    result = api.fit(config, {"model.init_args.hidden_sizes": [8], "trainer.max_epochs": 1})
    assert result.run_dir.path.parent.parent == tmp_path / "logs"
    assert [r["attack"] for r in result.records] == ["loss"]
    assert result.run_dir.load().config["model"]["init_args"]["hidden_sizes"] == [8]


def test_audit_run_with_its_own_settings_gives_its_records(api_run):
    again = api.audit_run(api_run.run_dir)
    assert _plain(again.records) == RunDir(api_run.run_dir.path).load_results()["records"]


def test_own_tensors_give_the_records_of_the_run(api_run):
    run = api_run.run_dir.load()
    mine = api.audit(
        run.outputs, run.labels, run.keep, run.audit, attacks=["loss", "shokri"], bootstrap=20
    )
    strip = [{k: v for k, v in r.items() if k != "settings"} for r in api_run.records]
    assert _plain([{k: v for k, v in r.items() if k != "settings"} for r in mine.records]) == (
        _plain(strip)
    )


def test_own_tensors_of_the_target_alone():
    torch.manual_seed(0)
    logits, labels = torch.randn(200, 3), torch.randint(0, 3, (200,))
    member = torch.arange(200) < 100
    result = api.audit(logits, labels, member, attacks=["loss", "entropy"], bootstrap=0)
    assert [r["n_members"] for r in result.records] == [100, 100]
    assert all(0.3 < r["auc"] < 0.7 for r in result.records)  # no signal: about chance


def test_shadow_attack_on_the_target_alone_is_refused():
    with pytest.raises(ConfigError, match="needs shadow models"):
        api.audit(torch.zeros(4, 2), torch.zeros(4, dtype=torch.long), torch.ones(4, dtype=bool))


def test_mismatched_shapes_are_refused():
    with pytest.raises(ConfigError, match="`membership` must be"):
        api.audit(torch.zeros(4, 2), torch.zeros(4, dtype=torch.long), torch.ones(5, dtype=bool))


def test_bad_config_value_names_the_field(tmp_path):
    with pytest.raises(ConfigError, match="hiden_sizes"):
        api.fit(DEFAULT_CONFIG, {"model.init_args.hiden_sizes": [4]})
    with pytest.raises(ConfigError, match="beta"):
        api.fit(DEFAULT_CONFIG, {"model.init_args.beta": 1.5})


def test_query_settings_of_a_run_cannot_change(api_run):
    with pytest.raises(UsageError, match="query_dropout"):
        api.audit_run(api_run.run_dir, query_dropout=0.5)


def test_the_package_exports_the_api():
    import lightning_snnpriv

    assert lightning_snnpriv.fit is api.fit
    assert lightning_snnpriv.audit is api.audit
