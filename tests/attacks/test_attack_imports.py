import subprocess
import sys

FORBIDDEN = (
    "lightning",
    "pytorch_lightning",
    "snntorch",
    "brevitas",
    "lightning_snnpriv.models",
    "lightning_snnpriv.data",
    "lightning_snnpriv.callbacks",
)


def test_attacks_import_no_lightning_or_models():
    code = (
        "import sys, lightning_snnpriv.attacks as a, lightning_snnpriv.attacks.shadow; "
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r} "
        f"or any(m.startswith(f + '.') or m == f for f in {FORBIDDEN!r})))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
