#!/usr/bin/env python3
"""Model speed: Quarry next to llama.cpp's own tools, same model files, same machine, same run.

Embedding: `quarry embed -` against `llama-embedding -f`, both as whole commands on the same
texts (16/64/256 tokens each), with the cost of a one-text run (process start and model load)
subtracted from both, so the ratio is about embedding work. Plus Quarry's in-process
throughput across batch sizes and thread counts (bench/model_speed binary).

Generation: Quarry's generator (in-process, `model_speed`) against `llama-bench` on the
default chat model: prompt tokens/s (512-token prompt), generated tokens/s (128 tokens after
that prompt, i.e. llama-bench -d 512), time to first token.

Candidates: N answers to one ~600-token chat prompt, 128 tokens each, decoded together by
Quarry's ChatBatch (shared prompt, one decode batch per step) against one answer, and against
N answers one after another; llama-batched-bench with the same shapes (-pps: shared prompt)
is the peer for how much parallel decoding llama.cpp itself gains.

  bench/model_speed/run.py [--quick]     # writes bench/results/model_speed.json + docs table
  bench/model_speed/run.py --sections generate --gen-model qwen2.5-coder-1.5b-instruct-q4_k_m.gguf \
      --prompt-tokens 1500 --rounds 2 --reps 1 --out bench/results/model_speed_qwen1.5b.json
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
    ap.add_argument("--sections", default="embed,generate,candidates", help="comma-separated: embed, generate, candidates")
    ap.add_argument("--gen-model", default="SmolLM2-135M-Instruct.Q4_1.gguf", help="GGUF file in the model cache (or a path)")
    ap.add_argument("--prompt-tokens", type=int, default=512, help="generation: prompt length (and llama-bench -d)")
    ap.add_argument("--rounds", type=int, default=0, help="generation: Quarry/llama-bench turns (default 5, 2 with --quick)")
    ap.add_argument("--reps", type=int, default=0, help="repetitions per measurement (default 3, 2 with --quick)")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "model_speed.json"))
    args = ap.parse_args()
    reps = args.reps or (2 if args.quick else 3)
    sections = set(args.sections.split(","))
    emb = str(models_dir() / "all-MiniLM-L6-v2.gguf")
    gen = args.gen_model if os.path.sep in args.gen_model else str(models_dir() / args.gen_model)
    pt = args.prompt_tokens
    threads = [1, 2]
    lengths = [16, 64, 256]
    texts = 64

    tmp = Path(tempfile.mkdtemp(prefix="quarry-bench-"))
    inproc = {"embedding": [], "candidates": []}
    pre = ",".join(x for x in ("embed", "candidates") if x in sections)
    if pre:
        print("in-process Quarry measurements ...", file=sys.stderr)
        inproc = json.loads(subprocess.run(
            [str(MODEL_SPEED), "--embed-model", emb, "--gen-model", gen, "--threads", "1,2",
             "--lengths", ",".join(map(str, lengths)), "--batches", "1,8,32", "--texts", str(texts),
             "--reps", str(reps), "--sections", pre, "--dump-texts", str(tmp),
             "--candidates", "1,2,4", "--cand-prompt-tokens", "600", "--cand-gen-tokens", "128"],
            check=True, capture_output=True, text=True).stdout)
        inproc.setdefault("embedding", [])
        inproc.setdefault("candidates", [])

    print("embedding: quarry embed vs llama-embedding ...", file=sys.stderr)
    one = tmp / "one.txt"
    one.write_text("one short text\n")
    embed_rows = []
    for t in threads if "embed" in sections else []:
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

    # Generation on a 2-core machine drifts by +-10% from minute to minute: Quarry and
    # llama-bench take turns (5 rounds) and each keeps its best.
    print("generation: Quarry and llama-bench in turns ...", file=sys.stderr)
    best_q, lb, lb_tg = {}, {}, {}
    rounds = args.rounds or (2 if args.quick else 5)
    for _ in range(rounds if "generate" in sections else 0):
        q = json.loads(subprocess.run(
            [str(MODEL_SPEED), "--gen-model", gen, "--threads", "1,2", "--sections", "generate", "--reps", str(reps),
             "--prompt-tokens", str(pt), "--gen-tokens", "128"], check=True, capture_output=True, text=True).stdout)
        for g in q["generation"]:
            b = best_q.setdefault(g["threads"], dict(g))
            b["prompt_tokens_per_s"] = max(b["prompt_tokens_per_s"], g["prompt_tokens_per_s"])
            b["generated_tokens_per_s"] = max(b["generated_tokens_per_s"], g["generated_tokens_per_s"])
            b["time_to_first_token_ms"] = min(b["time_to_first_token_ms"], g["time_to_first_token_ms"])
        for r in json.loads(subprocess.run(
                [llama_bin("llama-bench"), "-m", gen, "-t", "1,2", "-p", str(pt), "-n", "0", "-r", str(reps), "-o", "json"],
                check=True, capture_output=True, text=True).stdout):
            lb[r["n_threads"]] = max(lb.get(r["n_threads"], 0), r["avg_ts"])
        for r in json.loads(subprocess.run(
                [llama_bin("llama-bench"), "-m", gen, "-t", "1,2", "-p", "0", "-n", "128", "-d", str(pt), "-r", str(reps), "-o", "json"],
                check=True, capture_output=True, text=True).stdout):
            lb_tg[r["n_threads"]] = max(lb_tg.get(r["n_threads"], 0), r["avg_ts"])
    inproc["generation"] = [best_q[t] for t in sorted(best_q)]
    gen_rows = []
    for g in inproc["generation"]:
        t = g["threads"]
        pp, tg = lb[t], lb_tg[t]
        gen_rows.append({"threads": t,
                         "quarry_prompt_tokens_per_s": g["prompt_tokens_per_s"], "llama_bench_prompt_tokens_per_s": pp,
                         "prompt_ratio": g["prompt_tokens_per_s"] / pp,
                         "quarry_generated_tokens_per_s": g["generated_tokens_per_s"], "llama_bench_generated_tokens_per_s": tg,
                         "generation_ratio": g["generated_tokens_per_s"] / tg,
                         "quarry_time_to_first_token_ms": g["time_to_first_token_ms"]})

    cand_rows = []
    if "candidates" in sections:
        print("candidates: llama-batched-bench ...", file=sys.stderr)
        cand_prompt = inproc["candidates"][0]["prompt_tokens"]
        bb = subprocess.run(
            [llama_bin("llama-batched-bench"), "-m", gen, "-c", "4096", "-b", "512", "-ub", "512", "-npp", str(cand_prompt),
             "-ntg", "128", "-npl", "1,2,4", "-pps", "-kvu", "-t", "2", "--output-format", "jsonl"],
            check=True, capture_output=True, text=True).stdout
        bb_rows = [json.loads(l) for l in bb.splitlines() if l.startswith("{")]
        bb_one = next(r["t"] for r in bb_rows if r["pl"] == 1)
    for c in inproc["candidates"]:
        peer = next(r["t"] for r in bb_rows if r["pl"] == c["n"])
        cand_rows.append({**c, "llama_batched_bench_seconds": peer, "llama_batched_bench_ratio_to_one": peer / bb_one})

    result = {"date": time.strftime("%Y-%m-%d"), "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform(),
                                                          "processor": platform.processor()},
              "embed_model": emb, "gen_model": gen, "prompt_tokens": pt, "rounds": rounds, "reps": reps,
              "embedding_vs_llama_embedding": embed_rows,
              "generation_vs_llama_bench": gen_rows, "candidates": cand_rows,
              "quarry_in_process": inproc}
    out = Path(args.out)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}", file=sys.stderr)

    lines = ["| threads | tokens/text | Quarry texts/s | llama-embedding texts/s | ratio |", "|---|---|---|---|---|"]
    for r in embed_rows:
        lines.append(f"| {r['threads']} | {r['tokens_per_text']} | {r['quarry_texts_per_s']:.0f} | "
                     f"{r['llama_embedding_texts_per_s']:.0f} | {r['ratio_quarry_over_llama']:.2f} |")
    lines += ["", f"| threads | Quarry prompt tok/s | llama-bench pp{pt} | ratio | Quarry gen tok/s | llama-bench tg128@d{pt} | ratio | Quarry TTFT ms |",
              "|---|---|---|---|---|---|---|---|"]
    for r in gen_rows:
        lines.append(f"| {r['threads']} | {r['quarry_prompt_tokens_per_s']:.0f} | {r['llama_bench_prompt_tokens_per_s']:.0f} | "
                     f"{r['prompt_ratio']:.2f} | {r['quarry_generated_tokens_per_s']:.1f} | {r['llama_bench_generated_tokens_per_s']:.1f} | "
                     f"{r['generation_ratio']:.2f} | {r['quarry_time_to_first_token_ms']:.0f} |")
    lines += ["", "| N candidates | prompt tokens | Quarry together s | x one answer | one after another s | llama-batched-bench s | x one |",
              "|---|---|---|---|---|---|---|"]
    for r in cand_rows:
        lines.append(f"| {r['n']} | {r['prompt_tokens']} | {r['seconds_together']:.2f} | {r['ratio_to_one_answer']:.2f} | "
                     f"{r['seconds_one_after_another']:.2f} | {r['llama_batched_bench_seconds']:.2f} | "
                     f"{r['llama_batched_bench_ratio_to_one']:.2f} |")
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
