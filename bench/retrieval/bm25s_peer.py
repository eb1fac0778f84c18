"""bm25s on a BEIR corpus, one thread: index, then time retrieval of every query.

  python bm25s_peer.py CORPUS.jsonl QUERIES.jsonl RUN.txt K1 B HITS BACKEND
prints {"qps", "p50_ms", ...}; writes a TREC run for the quality check.
Tokenisation: bm25s' own (regex split, English stopwords, PyStemmer English).
"""
import json
import os
import sys
import time

os.environ.setdefault("NUMBA_NUM_THREADS", "1")
import bm25s  # noqa: E402
import numpy as np  # noqa: E402
import Stemmer  # noqa: E402


def main():
    corpus_path, queries_path, run_path, k1, b, hits, backend = sys.argv[1:8]
    k1, b, hits = float(k1), float(b), int(hits)
    ids, texts = [], []
    for line in open(corpus_path):
        d = json.loads(line)
        ids.append(str(d["_id"]))
        texts.append((d.get("title", "") + " " + d["text"]).strip())
    queries = [(str(q["_id"]), q["text"]) for q in map(json.loads, open(queries_path))]
    stemmer = Stemmer.Stemmer("english")
    retriever = bm25s.BM25(k1=k1, b=b, method="lucene", backend=backend)
    retriever.index(bm25s.tokenize(texts, stopwords="en", stemmer=stemmer, show_progress=False), show_progress=False)
    # Warm-up (numba compiles on first use), then time query by query.
    for _, q in queries[:50]:
        retriever.retrieve(bm25s.tokenize([q], stopwords="en", stemmer=stemmer, show_progress=False), k=hits,
                           n_threads=1, show_progress=False)
    lat, results = [], []
    t0 = time.perf_counter()
    for _, q in queries:
        s = time.perf_counter()
        docs, scores = retriever.retrieve(bm25s.tokenize([q], stopwords="en", stemmer=stemmer, show_progress=False),
                                          k=hits, n_threads=1, show_progress=False)
        lat.append((time.perf_counter() - s) * 1000)
        results.append((docs[0], scores[0]))
    total = time.perf_counter() - t0
    with open(run_path, "w") as out:
        for (qid, _), (docs, scores) in zip(queries, results):
            for rank, (d, s) in enumerate(zip(docs, scores), 1):
                out.write(f"{qid} Q0 {ids[int(d)]} {rank} {float(s):.6f} bm25s\n")
    lat.sort()
    print(json.dumps({"queries": len(queries), "seconds": total, "qps": len(queries) / total,
                      "p50_ms": lat[len(lat) // 2], "p99_ms": lat[int(len(lat) * 0.99)], "backend": backend}))


if __name__ == "__main__":
    main()
