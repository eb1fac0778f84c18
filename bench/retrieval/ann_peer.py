"""Raw hnswlib and FAISS HNSW on the vectors retrieval_speed wrote, one thread.

  python ann_peer.py DIR DIM K M EF_CONSTRUCTION EF_SEARCH [BUILD_THREADS]
DIR holds base.f32, queries.f32 (row-major float32) and truth.i32 (exact top-K rows).
Prints {"hnswlib": {...}, "faiss": {...}} with build time, p50 latency and recall@K.
"""
import json
import sys
import time

import numpy as np


def measure(search, queries, truth, k):
    for q in queries[:100]:
        search(q)  # warm-up
    lat, hits = [], 0
    t0 = time.perf_counter()
    for i, q in enumerate(queries):
        s = time.perf_counter()
        ids = search(q)
        lat.append((time.perf_counter() - s) * 1000)
        hits += len(set(int(x) for x in ids[:k]) & set(int(x) for x in truth[i]))
    total = time.perf_counter() - t0
    lat.sort()
    return {"qps": len(queries) / total, "p50_ms": lat[len(lat) // 2], "p99_ms": lat[int(len(lat) * 0.99)],
            "recall_at_10": hits / (len(queries) * k)}


def main():
    d, dim, k, m, efc, efs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
    build_threads = int(sys.argv[7]) if len(sys.argv) > 7 else 1
    base = np.fromfile(f"{d}/base.f32", dtype=np.float32).reshape(-1, dim)
    queries = np.fromfile(f"{d}/queries.f32", dtype=np.float32).reshape(-1, dim)
    truth = np.fromfile(f"{d}/truth.i32", dtype=np.int32).reshape(-1, k)
    out = {}

    import hnswlib
    t = time.perf_counter()
    h = hnswlib.Index(space="ip", dim=dim)
    h.init_index(max_elements=len(base), M=m, ef_construction=efc, random_seed=42)
    h.set_num_threads(build_threads)
    h.add_items(base, np.arange(len(base)))
    build = time.perf_counter() - t
    h.set_num_threads(1)
    h.set_ef(efs)
    r = measure(lambda q: h.knn_query(q, k=k)[0][0], queries, truth, k)
    r["build_seconds"] = build
    out["hnswlib"] = r

    import faiss
    faiss.omp_set_num_threads(build_threads)
    t = time.perf_counter()
    f = faiss.IndexHNSWFlat(dim, m, faiss.METRIC_INNER_PRODUCT)
    f.hnsw.efConstruction = efc
    f.add(base)
    build = time.perf_counter() - t
    faiss.omp_set_num_threads(1)
    f.hnsw.efSearch = efs
    r = measure(lambda q: f.search(q.reshape(1, -1), k)[1][0], queries, truth, k)
    r["build_seconds"] = build
    out["faiss"] = r
    print(json.dumps(out))


if __name__ == "__main__":
    main()
