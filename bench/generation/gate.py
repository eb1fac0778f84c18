#!/usr/bin/env python3
"""The "I don't know" gate, per embedder and language, without generating anything.

`quarry ask` answers "I don't know" without running the generator when the best
question-passage cosine among the retrieved passages is below the embedding model's
threshold (MiniLM 0.25; E5 0.80, 0.86 for a Chinese question). This measures how often
that happens where it should not and where it should, on RGB (../shared/data/rgb) and
NQ-open oracle (../shared/data/nq-open-oracle, first --nq questions):

  answerable: the question's own pool (RGB: positives and negatives, its noisy setting;
              NQ: the gold passages); refusing here loses an answer the passages hold.
  noise:      RGB only: the question's negatives alone (RGB's negative rejection); on-topic
              passages without the answer; refusing here is right.
  unrelated:  another question's pool (question i searches the pool of question i + n/2):
              off-topic passages, what the gate is for; refusing here is right.

Each question searches only one pool (`where qid=...`, dense mode, top 1), as `quarry eval
qa` does for RGB.

  bench/generation/gate.py [--models minilm-l6,multilingual-e5-small] [--sets en_fact,zh_fact,nq]
"""
import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
QUARRY = ROOT / "build" / "release" / "quarry"
DATA = ROOT.parent / "shared" / "data" / "rgb"
THRESHOLDS = {"minilm-l6": {"en": 0.25, "zh": 0.25}, "multilingual-e5-small": {"en": 0.80, "zh": 0.86}}


def serve(db):
    p = subprocess.Popen([str(QUARRY), "serve", "--db", db, "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    for line in p.stdout:
        if "http://" in line:
            url = line[line.index("http://"):].split()[0]
            return p, url
    raise SystemExit(f"quarry serve on {db} did not start")


def best(url, qid, query):
    body = json.dumps({"query": query, "mode": "dense", "k": 1, "where": [f"qid={qid}"]}).encode()
    req = urllib.request.Request(url + "/v1/search", body, {"Content-Type": "application/json"})
    res = json.loads(urllib.request.urlopen(req).read())["results"]
    return res[0]["dense_score"] if res else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default="minilm-l6,multilingual-e5-small")
    ap.add_argument("--sets", default="en_fact,zh_fact,nq")
    ap.add_argument("--nq", type=int, default=300, help="NQ-open oracle questions")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "gate.json"))
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="quarry-gate-"))
    result = {"date": time.strftime("%Y-%m-%d"), "thresholds": THRESHOLDS, "runs": {}}
    for s in args.sets.split(","):
        lang = "zh" if s.startswith("zh") else "en"
        if s == "nq":
            rows = []
            with gzip.open(DATA.parent / "nq-open-oracle" / "nq-open-oracle.jsonl.gz", "rt", encoding="utf-8") as f:
                for i, line in enumerate(f):
                    if i >= args.nq:
                        break
                    r = json.loads(line)
                    rows.append({"id": i, "query": r["question"], "positive": [c["text"] for c in r["ctxs"]], "negative": []})
        else:
            rows = [json.loads(l) for l in open(DATA / f"{s}.json", encoding="utf-8")]
        corpus = {"answerable": [], "noise": []} if s != "nq" else {"answerable": []}
        for r in rows:
            for kind, texts in (("answerable", r["positive"] + r["negative"]), ("noise", r["negative"])):
                if kind not in corpus:
                    continue
                for i, t in enumerate(texts):
                    corpus[kind].append({"_id": f"{r['id']}-{i}", "text": t, "metadata": {"qid": str(r["id"])}})
        for m in args.models.split(","):
            run = {}
            for kind, recs in corpus.items():
                f = tmp / f"{s}-{kind}.jsonl"
                f.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in recs), encoding="utf-8")
                db = str(tmp / f"{s}-{kind}-{m}")
                print(f"{s} {kind} {m}: ingest ...", file=sys.stderr)
                subprocess.run([str(QUARRY), "add", str(f), "--db", db, "--embed-model", m], check=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                p, url = serve(db)
                try:
                    pools = {kind: [r["id"] for r in rows]}
                    if kind == "answerable":  # the same base answers "unrelated" too: another question's pool
                        pools["unrelated"] = [rows[(i + len(rows) // 2) % len(rows)]["id"] for i in range(len(rows))]
                    for k, qids in pools.items():
                        scores = [best(url, q, r["query"]) for q, r in zip(qids, rows)]
                        scores = [x for x in scores if x is not None]
                        th = THRESHOLDS[m][lang]
                        run[k] = {"questions": len(scores), "refused": sum(x < th for x in scores) / len(scores),
                                  "best_cosine": sorted(scores)}
                finally:
                    p.terminate()
                    p.wait()
            a = run["answerable"]["best_cosine"]
            n = run["noise"]["best_cosine"] if "noise" in run else run["unrelated"]["best_cosine"]
            # Best threshold in hindsight: most questions on the right side of it.
            cands = sorted(set(a + n))
            acc, at = max((sum(x >= t for x in a) + sum(x < t for x in n), t) for t in cands)
            run["best_threshold_in_hindsight"] = {"threshold": at, "right_side": acc / (len(a) + len(n))}
            result["runs"][f"{s} {m}"] = run
            print(f"{s} {m}: threshold {THRESHOLDS[m][lang]}: refused: " +
                  ", ".join(f"{k} {v['refused']:.2f}" for k, v in run.items() if isinstance(v, dict) and "refused" in v) +
                  f"; hindsight best (answerable vs {'noise' if 'noise' in run else 'unrelated'}) {at:.3f} "
                  f"({acc}/{len(a) + len(n)} right)", file=sys.stderr)
    Path(args.out).write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
