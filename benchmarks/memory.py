"""Peak memory of a study run: the largest resident set (``ru_maxrss``) of
``python -m lightning_snnpriv fit --config <config>`` for each shipped config that runs offline
(the bundled tabular datasets; image configs need their files, pass them with ``--configs``;
the MNIST-shaped study jobs report their peak in ``benchmarks.study`` and
``benchmarks.paper_job``). Full runs: training, then the membership-inference audit, with wall
and CPU time; the first row is the process that only imports everything (``fit --help``).

    python -m benchmarks.memory
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from benchmarks.common import REPO, parse, parser, report, run_cli


def main(argv: list[str] | None = None) -> None:
    p = parser("memory", __doc__.splitlines()[0], repeats=1)
    p.add_argument("--configs", nargs="+", type=Path,
                   default=sorted(c for pattern in ("iris_*.yaml", "breast_cancer_*.yaml")
                                  for c in (REPO / "configs").glob(pattern)))  # fmt: skip
    args = parse(p, argv)
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:  # the imports alone
        rows.append({"config": "(fit --help: imports only)",
                     **run_cli(["fit", "--help"], Path(tmp), args.threads)})  # fmt: skip
    for config in args.configs:
        with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
            result = run_cli(["fit", "--config", str(config.resolve())], Path(tmp), args.threads)
        rows.append({"config": str(config.resolve().relative_to(REPO)), **result})
    report("memory", args.out, rows, ["config", "peak_rss_mib", "wall_s", "cpu_s"])


if __name__ == "__main__":
    main()
