"""Pattern rows with a suspicious ingredient neutralised in both arms (issue 18's checks).

    .venv/bin/python benchmarks/patterns_neutralised.py

Runs pattern 1, A4 and contamination with ``exchange.source_relevance=1`` (every tie weighted
alike), and pattern 1 with ``network.informal=false`` (no informal ties in either arm), each
with 10 pairs per root over the roots of docs/ODD.md §1's table, and prints each row's
difference, 95% interval, n and verdict.  ODD §1 quotes its output.
"""

from simulation.experiment.patterns import PATTERNS, pattern_table, run_patterns

ROOTS = (2013, 1742226718, 827332758)
CHECKS = (("source_relevance=1 (equal weights)", ["exchange.source_relevance=1.0"],
           ("1", "A4", "contamination")),
          ("no informal ties in both arms", ["network.informal=false"], ("1",)))


def main() -> None:
    for label, extra, keys in CHECKS:
        chosen = [p for p in PATTERNS if p.key in keys]
        run = run_patterns(chosen, replicates=10, roots=ROOTS, extra=extra, workers=2)[0]
        for r in pattern_table(run, chosen).itertuples():
            print(f"{label} | {r.pattern} {r.metric} {r.difference:+.4g} [{r.ci_low:+.4g}, "
                  f"{r.ci_high:+.4g}] n={r.n} {r.verdict}", flush=True)


if __name__ == "__main__":
    main()
