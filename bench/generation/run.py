#!/usr/bin/env python3
"""Grounded-generation quality on the public datasets in ../shared/data, each task in its
modes side by side (quarry eval qa | summarize | translate), with the default models.

  bench/generation/run.py [--limit N] [--only qa,summarize,translate] [--runs NAME,...]
                          [--llm MODEL] [--modes M,...] [--batch N] [--predictions DIR]
                          [--quarry BINARY]

Writes bench/results/<task>_<dataset>[-<N>_<model>].json (the suffix when --limit or --llm
is given) and prints one markdown table per run, then the paired-bootstrap differences.
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
    # RGB's negative rejection: noise passages only; "contains" is the share refused.
    ("qa", "rgb-en_fact-noise-only", ["--data", DATA / "rgb" / "en_fact.json", "--noise-only", "--modes", "rag"], 100),
    ("qa", "rgb-zh_refine-noise-only", ["--data", DATA / "rgb" / "zh_refine.json", "--noise-only", "--modes", "rag"], 100),
    ("qa", "cmrc2018-trial", ["--data", DATA / "cmrc2018-trial"], 30),
    ("summarize", "dialogsum-dev", ["--data", DATA / "dialogsum-dev"], 30),
    ("summarize", "lcsts-test", ["--data", DATA / "lcsts-test"], 30),
    ("translate", "flores200-eng-fra", ["--data", DATA / "flores200", "--to", "fra_Latn", "--tm-data", DATA / "ntrex128"], 30),
    ("translate", "flores200-eng-zho_Hans", ["--data", DATA / "flores200", "--to", "zho_Hans", "--tm-data", DATA / "ntrex128"], 30),
]
METRICS = {"qa": ["exact_match", "f1", "contains"], "summarize": ["rouge_l"], "translate": ["chrf", "bleu"]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=int, help="override every run's example count")
    ap.add_argument("--only", default="qa,summarize,translate", help="tasks to run")
    ap.add_argument("--runs", help="comma-separated run names (e.g. rgb-en_fact,lcsts-test); default all")
    ap.add_argument("--llm", help="generator (registry name or GGUF path); default: quarry's default")
    ap.add_argument("--modes", help="comma-separated modes (default: each task's default modes)")
    ap.add_argument("--batch", type=int, default=4, help="examples decoded together (quarry eval --batch)")
    ap.add_argument("--predictions", type=Path, help="directory for each run's --predictions JSON lines")
    ap.add_argument("--quarry", type=Path, default=QUARRY,
                    help="quarry binary (default build/release/quarry; give a copy to keep rebuilding while it runs)")
    args = ap.parse_args()
    if not DATA.is_dir():
        sys.exit(f"{DATA}: not found (the public datasets live in ../shared/data)")
    only = args.only.split(",")
    for task, name, extra, limit in RUNS:
        if task not in only or (args.runs and name not in args.runs.split(",")):
            continue
        n = args.limit or limit
        print(f"{task} {name} ({n} examples) ...", file=sys.stderr)
        cmd = [str(args.quarry), "eval", task, "--json", "--limit", str(n), "--batch", str(args.batch)] + [str(x) for x in extra]
        if args.llm:
            cmd += ["--llm", args.llm]
        if args.modes and "--modes" not in extra:  # a run that names its own modes keeps them
            cmd += ["--modes", args.modes]
        if args.predictions:
            args.predictions.mkdir(parents=True, exist_ok=True)
            cmd += ["--predictions", str(args.predictions / f"{task}_{name}-{n}.jsonl")]
        res = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
        res["command"] = " ".join("quarry" if c == str(args.quarry) else str(c).replace(str(ROOT.parent) + "/", "../")
                                  for c in cmd)
        suffix = f"-{n}_{Path(res.get('model', args.llm or 'default')).stem.replace('-instruct-q4_k_m', '')}" \
            if args.limit or args.llm else ""
        (ROOT / "bench" / "results" / f"{task}_{name}{suffix}.json").write_text(json.dumps(res, indent=2) + "\n")
        cols = METRICS[task]
        print(f"\n{task}: {name}, {res['examples']} examples\n")
        print("| mode | " + " | ".join(cols) + " | s/example |")
        print("|---|" + "---|" * (len(cols) + 1))
        for mode, m in res["modes"].items():
            print(f"| {mode} | " + " | ".join("-" if c not in m else f"{m[c]:.3f}" if c not in ("chrf", "bleu")
                                             else f"{m[c]:.1f}" for c in cols) +
                  f" | {m['seconds_per_example']:.2f} |")
        for d in res.get("differences", []):
            if d["metric"] in cols:
                print(f"- {d['mode']} vs {d['baseline']}, {d['metric']}: {d['difference']:+.3f} "
                      f"[{d['ci95'][0]:+.3f}, {d['ci95'][1]:+.3f}] (n={d['examples']})"
                      f"{' significant' if d['significant'] else ''}")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
