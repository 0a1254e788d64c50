#!/usr/bin/env bash
# Issue 13 closing note, measurement (c): put defect 1 (reference counts that depend on the
# membership being inferred) or defect 2 (RMIA's `LR >= gamma`, no tie order) back, in a
# throwaway copy of the package (the checkout is never touched), and run the default-suite
# calibration test on it: it must fail. Prints the failing rows.
#   bash benchmarks/issue13/defects.sh 1     # or 2
set -euo pipefail
HERE=$(cd "$(dirname "$0")/../.." && pwd)
N=${1:?defect 1 or 2}
COPY=/tmp/issue13_defect$N
rm -rf "$COPY" && mkdir -p "$COPY"
cp -r "$HERE/lightning_snnpriv" "$HERE/tests" "$HERE/pyproject.toml" "$COPY/"
python - "$COPY" "$N" <<'PY'
import sys
copy, n = sys.argv[1], sys.argv[2]
if n == "1":
    p = f"{copy}/lightning_snnpriv/attacks/reference.py"
    s = open(p).read()
    anchor = "    usable = torch.ones_like(keep) if available is None else available.cpu()\n"
    assert s.count(anchor) == 1
    s = s.replace(anchor, anchor + (
        "    # DEFECT 1 PUT BACK: every IN and OUT reference used, whatever the counts\n"
        "    use_in = keep & usable if need_in else torch.zeros_like(keep)\n"
        "    use_out = ~keep & usable\n"
        "    n_in = int(use_in.sum(0)[audited].min()) if audited.any() else 0\n"
        "    n_out = int(use_out.sum(0)[audited].min()) if audited.any() else 0\n"
        "    return use_in, use_out, n_in, n_out\n"))
else:
    p = f"{copy}/lightning_snnpriv/attacks/rmia.py"
    s = open(p).read()
    start = s.index("def pairwise_fraction")
    i = s.index("    if not gamma > 0:", start)
    s = s[:i] + (
        "    # DEFECT 2 PUT BACK: `LR >= gamma` over the z other than x itself, no tie order\n"
        "    hits = (ratio_x[:, None] / ratio_z[None, :] >= gamma).double().sum(1)\n"
        "    is_z = (ratio_z[left_out] == ratio_x) if left_out is not None "
        "else torch.zeros_like(ratio_x, dtype=torch.bool)\n"
        "    return (hits - is_z.double()) / (ratio_z.numel() - is_z.double())\n") + s[i:]
open(p, "w").write(s)
PY
cd "$COPY"
OMP_NUM_THREADS=1 PYTHONPATH=$COPY nice -n 5 python -m pytest tests/attacks/test_calibration.py \
  -q -p no:warnings -p no:cacheprovider -k every_attack_is_at_chance_in_every_mode \
  | grep -E "FAIL|is not 0.5|chance is|passed|failed" || true
rm -rf "$COPY"
