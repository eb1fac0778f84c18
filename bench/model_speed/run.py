#!/usr/bin/env python3
"""Model speed: Quarry next to llama.cpp's own tools, same model files, same machine, same run.

Embedding: `quarry embed -` against `llama-embedding -f`, both as whole commands on the same
texts (16/64/256 tokens each), with the cost of a one-text run (process start and model load)
subtracted from both, so the ratio is about embedding work. Plus Quarry's in-process
throughput across batch sizes and thread counts (bench/model_speed binary).

Generation: Quarry's generator (in-process, `model_speed`) against `llama-bench` on the
default chat model: prompt tokens/s (512-token prompt), generated tokens/s (128 tokens after
that prompt, i.e. llama-bench -d 512), time to first token.

  bench/model_speed/run.py [--quick]     # writes bench/results/model_speed.json + docs table
"""
import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "build" / "release"
QUARRY = BUILD / "quarry"
MODEL_SPEED = BUILD / "bench" / "model_speed"


def cache_dir():
    if os.environ.get("QUARRY_CACHE_DIR"):
        return Path(os.environ["QUARRY_CACHE_DIR"])
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "quarry"


def models_dir():
    return Path(os.environ.get("QUARRY_MODELS_DIR", cache_dir() / "models"))


def llama_bin(name):
    prefix = Path((cache_dir() / "llama.cpp" / "CURRENT").read_text().strip())
    return str(prefix / "bin" / name)


def best_wall(cmd, stdin_path=None, reps=3):
    times = []
    for _ in range(reps):
        with open(stdin_path or os.devnull, "rb") as inp:
            t0 = time.perf_counter()
            subprocess.run(cmd, stdin=inp, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
            times.append(time.perf_counter() - t0)
    return min(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer repetitions and sizes")
    args = ap.parse_args()
    reps = 2 if args.quick else 3
    emb = str(models_dir() / "all-MiniLM-L6-v2.gguf")
    gen = str(models_dir() / "SmolLM2-135M-Instruct.Q4_1.gguf")
    threads = [1, 2]
    lengths = [16, 64, 256]
    texts = 64

    tmp = Path(tempfile.mkdtemp(prefix="quarry-bench-"))
    print("in-process Quarry measurements ...", file=sys.stderr)
    inproc = json.loads(subprocess.run(
        [str(MODEL_SPEED), "--embed-model", emb, "--gen-model", gen, "--threads", "1,2",
         "--lengths", ",".join(map(str, lengths)), "--batches", "1,8,32", "--texts", str(texts),
         "--reps", str(reps), "--prompt-tokens", "512", "--gen-tokens", "128", "--dump-texts", str(tmp)],
        check=True, capture_output=True, text=True).stdout)

    print("embedding: quarry embed vs llama-embedding ...", file=sys.stderr)
    one = tmp / "one.txt"
    one.write_text("one short text\n")
    embed_rows = []
    for t in threads:
        q_base = best_wall([str(QUARRY), "embed", "-m", emb, "-t", str(t), "-"], one, reps)
        l_cmd = [llama_bin("llama-embedding"), "-m", emb, "-t", str(t), "-c", "512", "-b", "512", "-ub", "512",
                 "-np", "32", "--log-disable", "-f"]
        l_base = best_wall(l_cmd + [str(one)], None, reps)
        for n in lengths:
            f = tmp / f"texts_{n}.txt"
            q = best_wall([str(QUARRY), "embed", "-m", emb, "-t", str(t), "-"], f, reps) - q_base
            l = best_wall(l_cmd + [str(f)], None, reps) - l_base
            embed_rows.append({"threads": t, "tokens_per_text": n, "texts": texts,
                               "quarry_texts_per_s": texts / q, "llama_embedding_texts_per_s": texts / l,
                               "ratio_quarry_over_llama": l / q})

    print("generation: llama-bench ...", file=sys.stderr)
    lb = json.loads(subprocess.run(
        [llama_bin("llama-bench"), "-m", gen, "-t", "1,2", "-p", "512", "-n", "0", "-r", str(reps), "-o", "json"],
        check=True, capture_output=True, text=True).stdout)
    lb_tg = json.loads(subprocess.run(
        [llama_bin("llama-bench"), "-m", gen, "-t", "1,2", "-p", "0", "-n", "128", "-d", "512", "-r", str(reps), "-o", "json"],
        check=True, capture_output=True, text=True).stdout)
    gen_rows = []
    for g in inproc["generation"]:
        t = g["threads"]
        pp = next(r["avg_ts"] for r in lb if r["n_threads"] == t and r["n_prompt"] == 512)
        tg = next(r["avg_ts"] for r in lb_tg if r["n_threads"] == t and r["n_gen"] == 128)
        gen_rows.append({"threads": t,
                         "quarry_prompt_tokens_per_s": g["prompt_tokens_per_s"], "llama_bench_prompt_tokens_per_s": pp,
                         "prompt_ratio": g["prompt_tokens_per_s"] / pp,
                         "quarry_generated_tokens_per_s": g["generated_tokens_per_s"], "llama_bench_generated_tokens_per_s": tg,
                         "generation_ratio": g["generated_tokens_per_s"] / tg,
                         "quarry_time_to_first_token_ms": g["time_to_first_token_ms"]})

    result = {"date": time.strftime("%Y-%m-%d"), "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform(),
                                                          "processor": platform.processor()},
              "embed_model": emb, "gen_model": gen, "embedding_vs_llama_embedding": embed_rows,
              "generation_vs_llama_bench": gen_rows, "quarry_in_process": inproc}
    out = ROOT / "bench" / "results" / "model_speed.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}", file=sys.stderr)

    lines = ["| threads | tokens/text | Quarry texts/s | llama-embedding texts/s | ratio |", "|---|---|---|---|---|"]
    for r in embed_rows:
        lines.append(f"| {r['threads']} | {r['tokens_per_text']} | {r['quarry_texts_per_s']:.0f} | "
                     f"{r['llama_embedding_texts_per_s']:.0f} | {r['ratio_quarry_over_llama']:.2f} |")
    lines += ["", "| threads | Quarry prompt tok/s | llama-bench pp512 | ratio | Quarry gen tok/s | llama-bench tg128@d512 | ratio | Quarry TTFT ms |",
              "|---|---|---|---|---|---|---|---|"]
    for r in gen_rows:
        lines.append(f"| {r['threads']} | {r['quarry_prompt_tokens_per_s']:.0f} | {r['llama_bench_prompt_tokens_per_s']:.0f} | "
                     f"{r['prompt_ratio']:.2f} | {r['quarry_generated_tokens_per_s']:.1f} | {r['llama_bench_generated_tokens_per_s']:.1f} | "
                     f"{r['generation_ratio']:.2f} | {r['quarry_time_to_first_token_ms']:.0f} |")
    lines += ["", "Quarry in-process embedding throughput (texts/s):", "",
              "| threads | batch texts | 16 tok | 64 tok | 256 tok |", "|---|---|---|---|---|"]
    by = {}
    for r in inproc["embedding"]:
        by.setdefault((r["threads"], r["batch_texts"]), {})[r["tokens_per_text"]] = r["texts_per_s"]
    for (t, b), v in sorted(by.items()):
        lines.append(f"| {t} | {b} | " + " | ".join(f"{v.get(n, 0):.0f}" for n in lengths) + " |")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
