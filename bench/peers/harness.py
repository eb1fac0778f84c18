"""The timing and I/O around each Python peer's job (bench/peers/*_job.py).

A peer module defines, between "user code" markers, what a user of that
framework writes:
  ingest(spec, corpus_path) -> state          files to a queryable index
  retrievers(spec, state) -> {mode: fn(text, k) -> [doc ids, best first]}
  answerer(spec, state) -> fn(question, on_token) -> answer text
and calls harness.main(ingest, retrievers, answerer). This file measures; it
is not counted as user code.
"""
import json
import resource
import sys
import time


def read_jsonl(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def unique(ids):
    """Chunk hits -> document ids, best first, each once."""
    seen, out = set(), []
    for d in ids:
        if d not in seen:
            seen.add(d)
            out.append(d)
    return out


def main(ingest, retrievers, answerer):
    spec = json.load(open(sys.argv[1]))
    out = {}
    t0 = time.perf_counter()
    state = ingest(spec, spec["corpus"])
    out["ingest_s"] = time.perf_counter() - t0
    out["ingest_peak_rss_mb"] = peak_rss_mb()
    if spec["phase"] == "retrieval":
        queries = read_jsonl(spec["queries"])
        k = spec.get("k", 100)
        out["modes"] = {}
        for mode, search in retrievers(spec, state).items():
            lat, run = [], {}
            for warm in (True, False):  # an untimed pass over a few queries first
                for q in queries[:20] if warm else queries:
                    t = time.perf_counter()
                    ids = search(q["text"], k)
                    ms = (time.perf_counter() - t) * 1000
                    if not warm:
                        lat.append(ms)
                        run[q["_id"]] = unique(ids)
            out["modes"][mode] = {"latency_ms": lat, "run": run}
            print(f"  {mode}: {len(lat)} queries", file=sys.stderr, flush=True)
    else:
        answer = answerer(spec, state)
        out["answers"] = []
        for q in read_jsonl(spec["questions"]):
            t = time.perf_counter()
            first = []

            def on_token(_piece):
                if not first:
                    first.append((time.perf_counter() - t) * 1000)

            text = answer(q["question"], on_token)
            out["answers"].append({"id": q["id"], "text": text,
                                   "latency_ms": (time.perf_counter() - t) * 1000,
                                   "ttft_ms": first[0] if first else -1})
    out["peak_rss_mb"] = peak_rss_mb()
    with open(sys.argv[2], "w") as f:
        json.dump(out, f)
