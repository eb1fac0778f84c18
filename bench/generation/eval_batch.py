#!/usr/bin/env python3
"""Evaluation throughput: the same examples, modes and settings evaluated the way `quarry
eval` did before (`--batch 1 --separate-modes`: one example at a time, every mode decoding
its own prompts) and with what it does now (`--batch N`: N examples decoded together, and a
mode X run with X+candidates taking candidate 1, the greedy answer to the same prompt,
instead of decoding it again), in one invocation, default generator. Throughput counts every
mode's evaluation time (model load and ingest excluded, the same for both). Also reports how
far the scores moved (batched decoding changes floating-point rounding, so a greedy answer
can differ in a token).

  bench/generation/eval_batch.py [--batches 1,4] [--only qa,summarize,translate] [--limit N] [--quarry BIN] [--out FILE]

Writes bench/results/eval_batch.json (or --out) and prints a markdown table.
"""
import argparse, json, subprocess, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
QUARRY = ROOT / "build" / "release" / "quarry"
DATA = ROOT.parent / "shared" / "data"
# Every task with its default modes: the closed-book / lead / zero-shot baseline, the grounded
# mode and the grounded mode with candidates.
RUNS = [
    ("qa", "nq-open-oracle", ["--data", DATA / "nq-open-oracle"], 8, "contains"),
    ("summarize", "dialogsum-dev", ["--data", DATA / "dialogsum-dev"], 8, "rouge_l"),
    ("translate", "flores200-eng-fra", ["--data", DATA / "flores200", "--to", "fra_Latn", "--tm-data", DATA / "ntrex128"], 12, "chrf"),
]


def run(quarry, task, extra, n, flags):
    t = time.time()
    out = subprocess.run([str(quarry), "eval", task, "--json", "--limit", str(n)] + flags + [str(x) for x in extra],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out), time.time() - t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batches", default="4", help="batch sizes to run with shared modes (the old path always runs)")
    ap.add_argument("--only", default="qa,summarize,translate")
    ap.add_argument("--limit", type=int)
    ap.add_argument("--quarry", type=Path, default=QUARRY,
                    help="quarry binary (default build/release/quarry; give a copy to keep rebuilding while it runs)")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "eval_batch.json", help="JSON results file")
    a = ap.parse_args()
    if not DATA.is_dir():
        sys.exit(f"{DATA}: not found (the public datasets live in ../shared/data)")
    configs = [("one at a time, modes separate", ["--batch", "1", "--separate-modes"])]
    configs += [(f"batch {b}, modes shared", ["--batch", str(b)]) for b in map(int, a.batches.split(","))]
    rows = []
    for task, name, extra, limit, metric in RUNS:
        if task not in a.only.split(","):
            continue
        n = a.limit or limit
        for label, flags in configs:
            print(f"{task} {name} ({n} examples), {label} ...", file=sys.stderr, flush=True)
            res, wall = run(a.quarry, task, extra, n, flags)
            modes = {m: v for m, v in res["modes"].items() if ":" not in m}  # selector rows share their mode's pass
            seconds = sum(v["seconds"] for v in modes.values())
            rows.append({"task": task, "dataset": name, "config": label, "flags": flags, "examples": n,
                         "modes": list(modes), "seconds": seconds, "examples_per_s": n / seconds if seconds else 0,
                         "wall_s_with_load": wall, "metric": metric,
                         "scores": {m: v.get(metric) for m, v in modes.items()},
                         "mode_seconds": {m: v["seconds"] for m, v in modes.items()}})
    print("| task | config | examples | modes | s/example (all modes) | speedup | " + "scores |")
    print("|---|---|---:|---|---:|---:|---|")
    for r in rows:
        base = next(x for x in rows if x["task"] == r["task"] and x["flags"] == configs[0][1])
        r["speedup"] = r["examples_per_s"] / base["examples_per_s"] if base["examples_per_s"] else float("nan")
        scores = ", ".join(f"{m} {v:.3f}" for m, v in r["scores"].items() if v is not None)
        print(f"| {r['task']} {r['dataset']} | {r['config']} | {r['examples']} | {len(r['modes'])} | "
              f"{r['seconds'] / r['examples']:.2f} | {r['speedup']:.2f}x | {r['metric']}: {scores} |")
    a.out.write_text(
        json.dumps({"date": time.strftime("%Y-%m-%d"), "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
