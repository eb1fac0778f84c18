#!/usr/bin/env python3
"""Grounded-generation quality on the public datasets in ../shared/data, each task in its
modes side by side (quarry eval qa | summarize | translate), with the default models.

  bench/generation/run.py [--limit N] [--only qa,summarize,translate] [--runs NAME,...]

Writes bench/results/<task>_<dataset>.json and prints one markdown table per run.
"""
import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
QUARRY = ROOT / "build" / "release" / "quarry"
DATA = ROOT.parent / "shared" / "data"

RUNS = [
    ("qa", "nq-open-oracle", ["--data", DATA / "nq-open-oracle"], 100),
    ("qa", "rgb-en_fact", ["--data", DATA / "rgb" / "en_fact.json"], 50),
    ("qa", "rgb-zh_refine", ["--data", DATA / "rgb" / "zh_refine.json"], 30),
    ("qa", "cmrc2018-trial", ["--data", DATA / "cmrc2018-trial"], 30),
    ("summarize", "dialogsum-dev", ["--data", DATA / "dialogsum-dev"], 30),
    ("summarize", "lcsts-test", ["--data", DATA / "lcsts-test", "--language", "Chinese"], 30),
    ("translate", "flores200-eng-fra", ["--data", DATA / "flores200", "--to", "fra_Latn", "--tm-data", DATA / "ntrex128"], 30),
    ("translate", "flores200-eng-zho_Hans", ["--data", DATA / "flores200", "--to", "zho_Hans", "--tm-data", DATA / "ntrex128"], 30),
]
METRICS = {"qa": ["exact_match", "f1", "contains"], "summarize": ["rouge_l"], "translate": ["chrf", "bleu"]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=int, help="override every run's example count")
    ap.add_argument("--only", default="qa,summarize,translate", help="tasks to run")
    ap.add_argument("--runs", help="comma-separated run names (e.g. rgb-en_fact,lcsts-test); default all")
    args = ap.parse_args()
    if not DATA.is_dir():
        sys.exit(f"{DATA}: not found (the public datasets live in ../shared/data)")
    only = args.only.split(",")
    for task, name, extra, limit in RUNS:
        if task not in only or (args.runs and name not in args.runs.split(",")):
            continue
        n = args.limit or limit
        print(f"{task} {name} ({n} examples) ...", file=sys.stderr)
        out = subprocess.run([str(QUARRY), "eval", task, "--json", "--limit", str(n)] + [str(x) for x in extra],
                             check=True, capture_output=True, text=True).stdout
        res = json.loads(out)
        (ROOT / "bench" / "results" / f"{task}_{name}.json").write_text(json.dumps(res, indent=2) + "\n")
        cols = METRICS[task]
        print(f"\n{task}: {name}, {res['examples']} examples\n")
        print("| mode | " + " | ".join(cols) + " | s/example |")
        print("|---|" + "---|" * (len(cols) + 1))
        for mode, m in res["modes"].items():
            print(f"| {mode} | " + " | ".join(f"{m[c]:.3f}" if c not in ("chrf", "bleu") else f"{m[c]:.1f}" for c in cols) +
                  f" | {m['seconds_per_example']:.2f} |")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
