#!/usr/bin/env bash
# Issue 13 closing note, measurement (a): every attack on the 16-model breast-cancer ANN and SNN
# runs (lira scheme, mia.targets: all), with the code before the issue-13 fixes (commit 80e6961,
# a throwaway worktree) and after (this checkout). Same configs, same seeds.
#   bash benchmarks/issue13/before_after.sh [OUT_DIR]   (default /tmp/issue13_runs)
# Then: python benchmarks/issue13/before_after_table.py OUT_DIR
set -euo pipefail
HERE=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${1:-/tmp/issue13_runs}
BEFORE=/tmp/before
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
ATTACKS='[loss, confidence, entropy, modified_entropy, gap, shokri, reference, lira_online, lira_online_fixvar, lira_offline, lira_offline_fixvar, rmia_online, rmia_offline]'
[ -d "$BEFORE" ] || git -C "$HERE" worktree add "$BEFORE" 80e6961
lscpu | grep 'Model name' > "$OUT.cpu" || true
for side in before after; do
  code=$HERE; [ "$side" = before ] && code=$BEFORE
  for kind in ann snn; do
    ( cd "$code" && PYTHONPATH=$code nice -n 5 python -m lightning_snnpriv fit \
        --config "$HERE/configs/breast_cancer_$kind.yaml" \
        --data.init_args.scheme lira --data.init_args.num_shadows 15 \
        --mia.targets all --mia.attacks "$ATTACKS" --mia.save_signals true \
        --trainer.enable_progress_bar false \
        --trainer.logger.init_args.save_dir "$OUT/$side" ) > "$OUT.$side.$kind.log" 2>&1
    echo "$side $kind done"
  done
done
git -C "$HERE" worktree remove --force "$BEFORE"
