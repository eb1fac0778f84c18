#!/usr/bin/env python3
"""Evaluation throughput: the same examples and settings with `quarry eval --batch 1`
(one example at a time) and `--batch N` (N examples decoded together), in the same run,
with the default generator. Also reports how far the scores moved (batched decoding
changes floating-point rounding, so a greedy answer can differ in a token).

  bench/generation/eval_batch.py [--batches 1,4,8] [--only qa,summarize,translate] [--limit N]

Writes bench/results/eval_batch.json and prints a markdown table.
"""
import argparse, json, subprocess, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
QUARRY = ROOT / "build" / "release" / "quarry"
DATA = ROOT.parent / "shared" / "data"
RUNS = [
    ("qa", "nq-open-oracle", ["--data", DATA / "nq-open-oracle", "--modes", "closed-book,rag"], 24, "contains"),
    ("summarize", "dialogsum-dev", ["--data", DATA / "dialogsum-dev", "--modes", "summary"], 16, "rouge_l"),
    ("translate", "flores200-eng-fra", ["--data", DATA / "flores200", "--to", "fra_Latn", "--modes", "zero-shot"], 32, "chrf"),
]

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batches", default="1,4,8")
    ap.add_argument("--only", default="qa,summarize,translate")
    ap.add_argument("--limit", type=int)
    a = ap.parse_args()
    if not DATA.is_dir():
        sys.exit(f"{DATA}: not found (the public datasets live in ../shared/data)")
    rows = []
    for task, name, extra, limit, metric in RUNS:
        if task not in a.only.split(","):
            continue
        n = a.limit or limit
        for b in map(int, a.batches.split(",")):
            print(f"{task} {name} ({n} examples), batch {b} ...", file=sys.stderr)
            t = time.time()
            out = subprocess.run([str(QUARRY), "eval", task, "--json", "--limit", str(n), "--batch", str(b)] + [str(x) for x in extra],
                                 check=True, capture_output=True, text=True).stdout
            wall = time.time() - t
            res = json.loads(out)
            for mode, m in res["modes"].items():
                rows.append({"task": task, "dataset": name, "mode": mode, "batch": b, "examples": m["examples"],
                             "seconds": m["seconds"], "examples_per_s": m["examples"] / m["seconds"] if m["seconds"] else 0,
                             "metric": metric, "score": m[metric], "wall_s_with_load": wall})
    base = {(r["task"], r["mode"]): r for r in rows if r["batch"] == 1}
    print("| task | mode | batch | examples | s/example | examples/s | speedup vs batch 1 | " + "score |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        b1 = base.get((r["task"], r["mode"]))
        sp = r["examples_per_s"] / b1["examples_per_s"] if b1 and b1["examples_per_s"] else float("nan")
        r["speedup"] = sp
        print(f"| {r['task']} {r['dataset']} | {r['mode']} | {r['batch']} | {r['examples']} | {r['seconds'] / r['examples']:.2f} | "
              f"{r['examples_per_s']:.3f} | {sp:.2f}x | {r['metric']} {r['score']:.3f} |")
    (ROOT / "bench" / "results" / "eval_batch.json").write_text(json.dumps({"date": time.strftime("%Y-%m-%d"), "rows": rows}, indent=2) + "\n")

if __name__ == "__main__":
    main()
