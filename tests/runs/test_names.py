"""Run and sweep-point names: shell-safe, bounded, unique per settings, the same everywhere."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys

from cli_runs import CONFIGS, REPO
from hypothesis import given
from hypothesis import strategies as st

from lightning_snnpriv.runs.names import (
    HASH_LENGTH,
    MAX_READABLE,
    MAX_TOKEN,
    is_safe_name,
    point_dir_name,
    run_name,
    setting_token,
)
from lightning_snnpriv.sweeps.spec import load_spec, point_id

KEYS = st.sampled_from(
    [
        "config",
        "seed_everything",
        "data.class_path",
        "data.init_args.scheme",
        "data.init_args.num_shadows",
        "model.init_args.weight_bits",
        "model.init_args.act_bits",
        "model.init_args.surrogate",
        "model.init_args.hidden_sizes",
        "model.init_args.optimizer.init_args.lr",
        "mia.attacks",
        "trainer.max_epochs",
        "x.weird key/with$(rm -rf ~)",
    ]
)
SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
SETTINGS = st.dictionaries(KEYS, VALUES, max_size=8)


@given(KEYS, VALUES)
def test_a_token_is_shell_safe_and_short(key, value):
    token = setting_token(key, value)
    assert is_safe_name(token), token
    assert len(token) <= MAX_TOKEN
    assert shlex.quote(token) == token  # the shell needs no quoting


@given(SETTINGS, st.text(alphabet="0123456789abcdef", min_size=10, max_size=10))
def test_a_point_dir_name_is_safe_bounded_and_ends_with_the_id(swept, pid):
    name = point_dir_name(swept, pid)
    assert is_safe_name(name), name
    assert shlex.quote(name) == name
    assert len(name) <= MAX_READABLE + 1 + len(pid)
    assert name.endswith(pid)


@given(SETTINGS, SETTINGS)
def test_run_names_are_safe_bounded_and_tell_different_settings_apart(one, two):
    a, b = run_name("base", one), run_name("base", two)
    for name, changed in ((a, one), (b, two)):
        assert is_safe_name(name), name
        assert len(name) <= len("base-") + MAX_READABLE
        assert (name == "base") == (not changed)
    if a == b:  # equal names: equal tokens, never two settings cut to the same hash
        assert [setting_token(k, v) for k, v in sorted(one.items())] == [
            setting_token(k, v) for k, v in sorted(two.items())
        ]


def test_a_long_run_name_is_cut_and_hashed():
    changed = {f"model.init_args.setting_{i}": i for i in range(20)}
    name = run_name("breast_cancer_snn", changed)
    suffix = name.removeprefix("breast_cancer_snn-")
    assert len(suffix) <= MAX_READABLE
    assert suffix.startswith("setting_0")
    other = run_name("breast_cancer_snn", {**changed, "model.init_args.setting_19": 99})
    assert other != name
    assert other[:-HASH_LENGTH] == name[:-HASH_LENGTH]


def test_the_readable_tokens_of_the_common_settings():
    assert (
        run_name(
            "cfg",
            {
                "seed_everything": 1,
                "model.init_args.act_bits": 2,
                "model.init_args.weight_bits": 2,
                "data.init_args.num_shadows": 15,
                "data.init_args.scheme": "lira",
                "model.class_path": "lightning_snnpriv.models.ANNClassifier",
                "model.init_args.surrogate": "atan",
            },
        )
        == "cfg-ann-lira-m16-w2-a2-atan-s1"
    )


def test_the_shipped_sweeps_get_short_unique_names():
    names = {}
    for path in sorted((CONFIGS / "sweeps").glob("*.yaml")):
        for point in load_spec(path).expand():
            assert is_safe_name(point.name), point.name
            assert len(point.name) <= MAX_READABLE + 11, point.name
            assert "=" not in point.name
            assert "," not in point.name
            names.setdefault(point.name, set()).add(point.id)
    assert all(len(ids) == 1 for ids in names.values())


def test_names_are_the_same_in_another_process():
    """Hashes are SHA-1 of sorted JSON: no dependence on the process's hash seed."""
    swept = {"model.init_args.hidden_sizes": [16, 8], "mia.attacks": [{"class_path": "A"}]}
    code = (
        "import json, sys; from lightning_snnpriv.runs.names import point_dir_name, run_name; "
        "from lightning_snnpriv.sweeps.spec import point_id; s = json.loads(sys.argv[1]); "
        "print(point_dir_name(s, point_id(s)), run_name('b', s))"
    )
    expected = f"{point_dir_name(swept, point_id(swept))} {run_name('b', swept)}"
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(REPO)}
        out = subprocess.run(
            [sys.executable, "-c", code, json.dumps(swept)],
            env=env, capture_output=True, text=True, check=True,
        )  # fmt: skip
        assert out.stdout.strip() == expected
