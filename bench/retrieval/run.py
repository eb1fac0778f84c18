#!/usr/bin/env python3
"""Retrieval benchmarks, Quarry next to its peers in the same run (one thread each).

  bench/retrieval/run.py [--beir DIR] [--split train] [--ann-n 100000] [--skip-dense]

1. BM25 effectiveness: Quarry (one chunk per document, as Lucene indexes BEIR "flat")
   vs Lucene via Anserini (IndexCollection + BM25 k1 0.9 b 0.4, DefaultEnglishAnalyzer)
   vs bm25s, nDCG@10 / Recall@100 from the same metric code on each run file.
2. BM25 speed: queries/s and p50 latency, search loop only, warm, one thread.
3. Quarry's own modes (chunked corpus, dense, hybrid) via `quarry eval retrieval`.
4. ANN: Quarry's vector index vs raw hnswlib and FAISS HNSW (same M, efConstruction,
   efSearch) on synthetic clustered 384-d vectors: p50 latency and recall@10 vs exact.
5. Ingest: `quarry add` of a corpus slice with the default embedder: chunks/s and where
   the time goes.

Peers come from PyPI into a venv under the cache (bm25s, numba, PyStemmer, hnswlib,
faiss-cpu) and from the pyserini sdist (its Anserini fat jar, run with a Java 21+ JDK).
Writes bench/results/retrieval.json and prints a markdown table.
"""
import argparse
import collections
import glob
import hashlib
import json
import math
import os
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "build" / "release"
QUARRY = BUILD / "quarry"
SPEED = BUILD / "bench" / "retrieval_speed"
HERE = Path(__file__).resolve().parent
CACHE = Path(os.environ.get("QUARRY_CACHE_DIR") or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "quarry")
BENCH = CACHE / "bench"
VENV = CACHE / "bench-venv"
PYSERINI = ("pyserini", "2.4.0", "pyserini-2.4.0.tar.gz", "45979fa5fc8d54a35dce15cfd59d4d3dc4b4b29d8f0442e1e1f3a9ab0a303541",
            "pyserini-2.4.0/pyserini/resources/jars/anserini-2.3.0-fatjar.jar")
PEERS = ["numpy", "bm25s==0.3.16", "PyStemmer", "numba", "hnswlib==0.8.0", "faiss-cpu==1.15.1"]


def log(msg):
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def run(cmd, **kw):
    return subprocess.run([str(c) for c in cmd], check=True, capture_output=True, text=True, **kw).stdout


def venv_python():
    py = VENV / "bin" / "python"
    if not py.exists():
        log(f"creating {VENV} with {', '.join(PEERS)}")
        run([sys.executable, "-m", "venv", VENV])
    try:
        run([py, "-c", "import bm25s, Stemmer, numba, hnswlib, faiss"])
    except subprocess.CalledProcessError:
        run([py, "-m", "pip", "install", "-q"] + PEERS)
    return py


def anserini_jar():
    name, version, sdist, sha, member = PYSERINI
    jar = BENCH / Path(member).name
    if jar.exists():
        return jar
    BENCH.mkdir(parents=True, exist_ok=True)
    dl = CACHE / "downloads" / sdist
    if not dl.exists():
        log(f"downloading {name}=={version} (it carries Anserini's fat jar)")
        dl.parent.mkdir(parents=True, exist_ok=True)
        run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary=:all:", "--ignore-requires-python",
             "-d", dl.parent, f"{name}=={version}"])
    if hashlib.sha256(dl.read_bytes()).hexdigest() != sha:
        sys.exit(f"{dl}: sha256 mismatch (want {sha})")
    with tarfile.open(dl) as t:
        with t.extractfile(member) as src, open(jar, "wb") as dst:
            shutil.copyfileobj(src, dst)
    return jar


def java21():
    for j in sorted(glob.glob("/usr/lib/jvm/*/bin/java")) + [shutil.which("java") or ""]:
        if not j:
            continue
        out = subprocess.run([j, "-version"], capture_output=True, text=True).stderr
        try:
            major = int(out.split('"')[1].split(".")[0])
        except (IndexError, ValueError):
            continue
        if major >= 21:
            return j
    sys.exit("Anserini needs a Java 21+ JDK (none found under /usr/lib/jvm or on PATH)")


def metrics(qrels_path, run_path):
    qrels = collections.defaultdict(dict)
    with open(qrels_path) as f:
        for i, line in enumerate(f):
            parts = line.strip().split("\t")
            if i == 0 and parts[0] == "query-id":
                continue
            qrels[parts[0]][parts[1]] = int(parts[2])
    ranked = collections.defaultdict(list)
    for line in open(run_path):
        q, _, d, *_ = line.split()
        ranked[q].append(d)
    nd, rc = [], []
    for q, rel in qrels.items():
        r = ranked.get(q, [])
        ideal = sorted((v for v in rel.values() if v > 0), reverse=True)
        dcg = sum(rel.get(d, 0) / math.log2(i + 2) for i, d in enumerate(r[:10]))
        idcg = sum(v / math.log2(i + 2) for i, v in enumerate(ideal[:10]))
        nd.append(dcg / idcg if idcg else 0.0)
        rc.append(sum(1 for d in r[:100] if rel.get(d, 0) > 0) / len(ideal) if ideal else 0.0)
    return {"ndcg@10": sum(nd) / len(nd), "recall@100": sum(rc) / len(rc), "queries": len(nd)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--beir", default=str(ROOT.parent / "shared" / "data" / "scifact-beir-train"))
    ap.add_argument("--split", default="train")
    ap.add_argument("--ann-n", type=int, default=100000)
    ap.add_argument("--ingest-docs", type=int, default=500)
    ap.add_argument("--embed-model", default="multilingual-e5-small",
                    help="for the modes and ingest parts (the default embedder; minilm-l6 for the tables measured before 2026-11-30)")
    ap.add_argument("--skip-dense", action="store_true", help="skip the embedding-based parts (slow on 2 cores)")
    ap.add_argument("--million", action="store_true", help="also measure BM25 at 1M synthetic chunks (slow)")
    ap.add_argument("--parts", default="bm25,synthetic,ann,modes,ingest",  # also: ann1m (1M vectors, long)
                    help="comma-separated parts to (re)measure; the others keep their values in bench/results/retrieval.json")
    args = ap.parse_args()
    beir = Path(args.beir)
    qrels = beir / "qrels" / f"{args.split}.tsv"
    work = BENCH / "work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    py = venv_python()
    parts = set(args.parts.split(","))
    out_path = ROOT / "bench" / "results" / "retrieval.json"
    result = json.loads(out_path.read_text()) if out_path.exists() and not parts >= {"bm25", "synthetic", "ann", "modes", "ingest"} else {}
    result.update({"date": time.strftime("%Y-%m-%d"), "dataset": beir.name, "split": args.split, "cpu_count": os.cpu_count(),
                   "embed_model": args.embed_model})

    # Judged queries only, the same list for every system.
    judged = {line.split("\t")[0] for i, line in enumerate(open(qrels)) if i or not line.startswith("query-id")}
    queries = [json.loads(l) for l in open(beir / "queries.jsonl")]
    queries = [q for q in queries if str(q["_id"]) in judged]
    with open(work / "queries.jsonl", "w") as f:
        for q in queries:
            f.write(json.dumps({"_id": str(q["_id"]), "text": q["text"]}) + "\n")
    with open(work / "topics.tsv", "w") as f:
        for q in queries:
            f.write(f"{q['_id']}\t{' '.join(q['text'].split())}\n")

    if "bm25" in parts:
        bm25_part(result, beir, qrels, work, py)
    if "synthetic" in parts:
        for n in [args.ann_n] + ([1000000] if args.million else []):
            log(f"bm25: {n} synthetic chunks")
            result[f"quarry_bm25_synthetic_{n}"] = json.loads(run([SPEED, "bm25-synthetic", "--dir", work / f"syn{n}", "--n", str(n)]))
            shutil.rmtree(work / f"syn{n}", ignore_errors=True)
    if "ann" in parts:
        ann_part(result, work, py, args.ann_n, "", 1)
    if "ann1m" in parts:
        # A million-node graph per system: build with every core (queries stay on one).
        ann_part(result, work, py, 1000000, "_1000000", os.cpu_count() or 1)
    if "modes" in parts and not args.skip_dense:
        log("quarry eval retrieval (chunked corpus, bm25 / dense / hybrid; embeds the corpus once, then cached)")
        result["quarry_modes"] = json.loads(run([QUARRY, "eval", "retrieval", "--beir", beir, "--split", args.split, "--json",
                                                  "--embed-model", args.embed_model]))
    if "ingest" in parts and not args.skip_dense:
        log(f"ingest: {args.ingest_docs} documents with the default embedder")
        with open(work / "slice.jsonl", "w") as f:
            for i, line in enumerate(open(beir / "corpus.jsonl")):
                if i >= args.ingest_docs:
                    break
                f.write(line)
        result["quarry_ingest"] = json.loads(run([QUARRY, "add", work / "slice.jsonl", "--db", work / "ingest", "--json",
                                                   "--embed-model", args.embed_model]))
    write_and_print(result, out_path)


def bm25_part(result, beir, qrels, work, py):
    log("quarry: indexing for BM25 (one chunk per document)")
    run([QUARRY, "add", beir / "corpus.jsonl", "--no-embed", "--chunk-tokens", "8192", "--db", work / "quarry-doc", "--json"])
    q = json.loads(run([SPEED, "bm25", "--db", work / "quarry-doc", "--queries", work / "queries.jsonl", "--run", work / "quarry.run"]))
    q.update(metrics(qrels, work / "quarry.run"))
    result["quarry_bm25"] = q

    # --- Lucene via Anserini.
    log("lucene: indexing with Anserini")
    java, jar = java21(), anserini_jar()
    (work / "jsonl").mkdir()
    with open(work / "jsonl" / "docs.jsonl", "w") as out:
        for line in open(beir / "corpus.jsonl"):
            d = json.loads(line)
            out.write(json.dumps({"id": str(d["_id"]), "contents": (d.get("title", "") + " " + d["text"]).strip()}) + "\n")
    run([java, "-cp", jar, "io.anserini.index.IndexCollection", "-collection", "JsonCollection", "-input", work / "jsonl",
         "-index", work / "lucene", "-generator", "DefaultLuceneDocumentGenerator", "-threads", "1", "-storePositions",
         "-storeDocvectors"])
    out = run([java, "-cp", jar, HERE / "LuceneBm25.java", work / "lucene", work / "topics.tsv", work / "lucene.run", "0.9", "0.4", "100"])
    l = json.loads(out.strip().splitlines()[-1])
    l.update(metrics(qrels, work / "lucene.run"))
    result["lucene_bm25"] = l

    # --- bm25s.
    for backend in ["numba", "numpy"]:
        log(f"bm25s ({backend})")
        out = run([py, HERE / "bm25s_peer.py", beir / "corpus.jsonl", work / "queries.jsonl", work / f"bm25s-{backend}.run",
                   "0.9", "0.4", "100", backend])
        b = json.loads(out.strip().splitlines()[-1])
        b.update(metrics(qrels, work / f"bm25s-{backend}.run"))
        result[f"bm25s_{backend}"] = b



def ann_part(result, work, py, n, suffix, build_threads):
    log(f"ann: {n} synthetic vectors through Quarry's vector index")
    a = json.loads(run([SPEED, "ann", "--dir", work / "ann", "--n", str(n), "--dim", "384", "--queries", "1000",
                        "--build-threads", str(build_threads)]))
    a["build_threads"] = build_threads
    result["quarry_ann" + suffix] = a
    log("ann: raw hnswlib and FAISS")
    peers = json.loads(run([py, HERE / "ann_peer.py", work / "ann", "384", "10", "16", "200", "96", str(build_threads)]))
    for k, v in peers.items():
        v["build_threads"] = build_threads
        result[f"{k}_ann{suffix}"] = v
    shutil.rmtree(work / "ann", ignore_errors=True)



def write_and_print(result, out_path):
    out_path.parent.mkdir(exist_ok=True)
    out_path.write_text(json.dumps(result, indent=2) + "\n")
    log("wrote bench/results/retrieval.json")

    r = result
    print(f"BM25 on {r['dataset']} ({r['split']}, {r['quarry_bm25']['queries']} queries), one thread:\n")
    print("| system | nDCG@10 | Recall@100 | queries/s | p50 ms |")
    print("|---|---|---|---|---|")
    for key, name in [("quarry_bm25", "Quarry"), ("lucene_bm25", "Lucene (Anserini 2.3.0)"),
                      ("bm25s_numba", "bm25s 0.3.16 (numba)"), ("bm25s_numpy", "bm25s 0.3.16 (numpy)")]:
        x = r[key]
        print(f"| {name} | {x['ndcg@10']:.4f} | {x['recall@100']:.4f} | {x['qps']:.0f} | {x['p50_ms']:.3f} |")
    print(f"\nQuarry / Lucene queries/s: {r['quarry_bm25']['qps'] / r['lucene_bm25']['qps']:.1f}x; "
          f"Quarry / bm25s (numba): {r['quarry_bm25']['qps'] / r['bm25s_numba']['qps']:.2f}x; "
          f"nDCG@10 difference to Lucene: {r['quarry_bm25']['ndcg@10'] - r['lucene_bm25']['ndcg@10']:+.4f}")
    print(f"\nANN, {r['quarry_ann']['n']} x 384-d, k=10, one thread (M=16, efConstruction=200, efSearch=96):\n")
    print("| system | p50 ms | p99 ms | recall@10 | build s |")
    print("|---|---|---|---|---|")
    for key, name in [("quarry_ann", "Quarry (hnswlib 0.6.2, Debian)"), ("hnswlib_ann", "hnswlib 0.8.0 (PyPI)"), ("faiss_ann", "FAISS 1.15.1 HNSWFlat")]:
        x = r[key]
        print(f"| {name} | {x['p50_ms']:.3f} | {x['p99_ms']:.3f} | {x['recall_at_10']:.3f} | {x.get('build_seconds', 0):.0f} |")
    print(f"\nexact search p50 over the same vectors: {r['quarry_ann']['exact_p50_ms']:.2f} ms")
    if "quarry_ann_1000000" in r:
        print("\nANN, 1,000,000 x 384-d (graphs built with all cores, queries on one):\n")
        print("| system | p50 ms | p99 ms | recall@10 | build s |\n|---|---|---|---|---|")
        for key, name in [("quarry_ann_1000000", "Quarry"), ("hnswlib_ann_1000000", "hnswlib 0.8.0"), ("faiss_ann_1000000", "FAISS 1.15.1")]:
            x = r[key]
            print(f"| {name} | {x['p50_ms']:.3f} | {x['p99_ms']:.3f} | {x['recall_at_10']:.3f} | {x.get('build_seconds', 0):.0f} |")
        print(f"exact search p50 over 1M: {r['quarry_ann_1000000']['exact_p50_ms']:.1f} ms")
    for key in sorted(k for k in r if k.startswith("quarry_bm25_synthetic_")):
        x = r[key]
        print(f"BM25 over {x['chunks']} synthetic chunks ({x['words_per_chunk']} Zipfian words each, 4-8 word queries): "
              f"p50 {x['p50_ms']:.3f} ms, p99 {x['p99_ms']:.3f} ms, {x['qps']:.0f} queries/s; index build {x['build_seconds']:.1f} s, "
              f"load {x['load_seconds']:.2f} s")
    if "quarry_modes" in r:
        print("\nQuarry modes (default chunking, 256 tokens):\n\n| mode | nDCG@10 | Recall@100 | MRR@10 |\n|---|---|---|---|")
        for m, v in r["quarry_modes"]["modes"].items():
            print(f"| {m} | {v['ndcg@10']:.4f} | {v['recall@100']:.4f} | {v['mrr@10']:.4f} |")
        ing = r["quarry_ingest"]
        s = ing["seconds"]
        other = s["parse"] + s["chunk"] + s["analyze"] + s["store"] + s["index"]
        print(f"\nIngest of {ing['added']} documents ({ing['chunks']} chunks): {ing['chunks'] / s['total']:.1f} chunks/s; "
              f"embedding {s['embed'] / s['total']:.0%} of the time, parsing + chunking + storage + BM25 {other / s['total']:.0%}")


if __name__ == "__main__":
    main()
