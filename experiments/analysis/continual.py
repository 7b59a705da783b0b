"""Paired comparisons over seeds for a continual-learning study's `methods` report.

exp's report gives each method's chosen setting with mean ± std and a 95 % interval over
seeds (`methods.csv`, one row per seed in `methods_runs.csv`). Methods of one study share
each seed's initialisation and pre-training, so the fair test of "A beats B" is the paired
difference A − B seed by seed: its mean and a 95 % Student-t interval. A difference whose
interval holds 0 is within noise.

    python3 experiments/analysis/continual.py RUN_DIR [--metric avg_accuracy]
        [--report methods] [--versus ROW_PREFIX | --against AXIS=VALUE]
        [--evaluation .task3.on1 [--split test]] [--digits 3]

prints a Markdown table of every row of the report against the row whose name starts with
`--versus` (default: the rows whose family ends in `.sfa.run`, one per group: `with_sgd.`,
`with_adamw.`, ...), or, with `--against p=100%`, against the row that differs only in that
axis. Only the Python standard library is used.
"""

import argparse
import csv
import math
import re
import statistics
import sys
from collections import defaultdict
from pathlib import Path

# Two-sided 95 % quantiles of Student's t for 1..30 degrees of freedom.
T95 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
       2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
       2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042]


def t95(degrees):
    return T95[degrees - 1] if degrees <= len(T95) else 1.96


def split_node(name):
    """`with_sgd.l2.run[seed=0,lambda=0.01]` -> ("with_sgd.l2.run", {"seed": "0", ...})."""
    match = re.fullmatch(r"([^\[]+)(?:\[(.*)\])?", name)
    family, point = match.group(1), match.group(2) or ""
    axes = dict(part.split("=", 1) for part in point.split(",") if part)
    return family, axes


def interval(values):
    mean = statistics.fmean(values)
    if len(values) < 2:
        return mean, float("nan"), (float("nan"), float("nan"))
    std = statistics.stdev(values)
    half = t95(len(values) - 1) * std / math.sqrt(len(values))
    return mean, std, (mean - half, mean + half)


def evaluations(run_dir, metric, split):
    """{evaluation node: value} of `metric` on `split` from the run's metrics.jsonl."""
    import json
    values = {}
    with open(Path(run_dir) / "metrics.jsonl") as file:
        for line in file:
            record = json.loads(line)
            if record["name"] == metric and record["split"] == split and record["step"] is None:
                values[record["node"]] = record["value"]
    return values


def per_seed(run_dir, report, metric, evaluation=None, split="test"):
    """{row label (family with its chosen setting): {seed: value}} from REPORT_runs.csv, or,
    with `evaluation` (a suffix such as `.task3.on1`), from that evaluation of each copy."""
    rows = defaultdict(dict)
    evaluated = evaluations(run_dir, metric, split) if evaluation else None
    with open(Path(run_dir) / f"{report}_runs.csv", newline="") as file:
        for record in csv.DictReader(file):
            family, axes = split_node(record["node"])
            seed = axes.pop("seed", "0")
            setting = ",".join(f"{k}={v}" for k, v in axes.items())
            label = f"{family}[{setting}]" if setting else family
            if evaluated is None:
                rows[label][seed] = float(record[metric])
            elif record["node"] + evaluation in evaluated:
                rows[label][seed] = evaluated[record["node"] + evaluation]
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir")
    parser.add_argument("--report", default="methods")
    parser.add_argument("--metric", default="avg_accuracy")
    parser.add_argument("--versus", default=None,
                        help="the reference row's name prefix (default: each group's SFA row)")
    parser.add_argument("--against", default=None, metavar="AXIS=VALUE",
                        help="the reference of each row: the row of the same family and setting "
                             "but AXIS=VALUE (e.g. p=100%%, to compare every p with p = 1)")
    parser.add_argument("--evaluation", default=None, metavar="SUFFIX",
                        help="read --metric from this evaluation of each copy in metrics.jsonl "
                             "(e.g. .task3.on1: after the last of three tasks, on the first)")
    parser.add_argument("--split", default="test", help="the split of --evaluation")
    parser.add_argument("--digits", type=int, default=3)
    args = parser.parse_args()
    rows = per_seed(args.run_dir, args.report, args.metric, args.evaluation, args.split)
    d = args.digits

    def reference_for(label):
        if args.against:
            axis, value = args.against.split("=", 1)
            family, axes = split_node(label)
            axes[axis] = value
            setting = ",".join(f"{k}={v}" for k, v in axes.items())
            wanted = f"{family}[{setting}]"
            return wanted if wanted in rows else None
        if args.versus:
            return next((r for r in rows if r.startswith(args.versus)), None)
        # Each SFA row leads the rows that share its prefix (`with_sgd.`, or none).
        leaders = [r for r in rows if split_node(r)[0].endswith("sfa.run")]
        matching = [r for r in leaders
                    if label.startswith(split_node(r)[0][:-len("sfa.run")])]
        return max(matching, key=lambda r: len(split_node(r)[0]), default=None)

    print(f"| row | {args.metric} (mean ± std [95 % interval]) | reference − row, paired "
          f"(mean [95 % interval]) | verdict |")
    print("|---|---|---|---|")
    for label, values in rows.items():
        mean, std, (low, high) = interval(list(values.values()))
        reference = reference_for(label)
        cell = "—"
        verdict = ""
        if reference and reference != label:
            seeds = sorted(set(values) & set(rows[reference]))
            differences = [rows[reference][s] - values[s] for s in seeds]
            dm, _, (dl, dh) = interval(differences)
            cell = f"{dm:+.{d}f} [{dl:+.{d}f}, {dh:+.{d}f}] (n = {len(seeds)})"
            if dl > 0:
                verdict = "reference higher"
            elif dh < 0:
                verdict = "reference lower"
            else:
                verdict = "within noise"
        print(f"| `{label}` | {mean:.{d}f} ± {std:.{d}f} [{low:.{d}f}, {high:.{d}f}] | "
              f"{cell} | {verdict} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
