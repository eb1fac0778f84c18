#!/usr/bin/env python3
"""Builds retrieval sets in BEIR layout from the public QA data in ../shared/data.

  cmrc2018:  CMRC 2018 trial questions -> the paragraph each was written on
             (corpus: every paragraph of the file).
  rgb-zh:    RGB zh_refine queries -> their positive passages (corpus: every
             positive and negative passage of all queries, deduplicated, so the
             noise written for one question competes for all of them).
  rgb-en:    the same from RGB en_fact.
  nq-oracle: NQ-open oracle questions -> their gold Wikipedia passage (corpus:
             every question's gold passage, deduplicated).

  bench/retrieval/qa_beir.py [--data ../shared/data] [--out DIR] [--sets cmrc2018,rgb-zh,rgb-en,nq-oracle]
then: quarry eval retrieval --beir DIR/cmrc2018 --split test
"""
import argparse
import gzip
import hashlib
import json
import os


def write(out, name, corpus, queries, qrels):
    d = os.path.join(out, name)
    os.makedirs(os.path.join(d, "qrels"), exist_ok=True)
    with open(os.path.join(d, "corpus.jsonl"), "w", encoding="utf-8") as f:
        for cid, text in corpus.items():
            f.write(json.dumps({"_id": cid, "title": "", "text": text}, ensure_ascii=False) + "\n")
    with open(os.path.join(d, "queries.jsonl"), "w", encoding="utf-8") as f:
        for qid, text in queries.items():
            f.write(json.dumps({"_id": qid, "text": text}, ensure_ascii=False) + "\n")
    with open(os.path.join(d, "qrels", "test.tsv"), "w", encoding="utf-8") as f:
        f.write("query-id\tcorpus-id\tscore\n")
        for qid, cids in qrels.items():
            for cid in sorted(cids):
                f.write(f"{qid}\t{cid}\t1\n")
    print(f"{d}: {len(corpus)} passages, {len(queries)} queries, {sum(len(c) for c in qrels.values())} judgments")


def cmrc(data, out):
    doc = json.load(open(os.path.join(data, "cmrc2018-trial", "cmrc2018_trial.json"), encoding="utf-8"))
    corpus, queries, qrels = {}, {}, {}
    for article in doc["data"]:
        for i, para in enumerate(article["paragraphs"]):
            cid = para.get("id") or f"{article.get('id', len(corpus))}-{i}"
            corpus[cid] = para["context"]
            for qa in para["qas"]:
                queries[qa["id"]] = qa["question"]
                qrels.setdefault(qa["id"], set()).add(cid)
    write(out, "cmrc2018", corpus, queries, qrels)


def rgb(data, out, limit, file, name):
    corpus, queries, qrels = {}, {}, {}

    def cid_of(text):
        cid = hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
        corpus[cid] = text
        return cid

    for line in open(os.path.join(data, "rgb", file), encoding="utf-8"):
        if not line.strip():
            continue
        if limit and len(queries) >= limit:
            break
        r = json.loads(line)
        qid = str(r["id"])
        queries[qid] = r["query"]
        qrels[qid] = {cid_of(p) for p in r["positive"] if p.strip()}
        for p in r.get("negative", []):
            if p.strip():
                cid_of(p)
    # A passage written as noise for one query but positive for another stays positive only where judged.
    write(out, name + (f"-{limit}" if limit else ""), corpus, queries, qrels)


def nq_oracle(data, out):
    corpus, queries, qrels = {}, {}, {}
    with gzip.open(os.path.join(data, "nq-open-oracle", "nq-open-oracle.jsonl.gz"), "rt", encoding="utf-8") as f:
        for n, line in enumerate(f):
            r = json.loads(line)
            gold = [c for c in r["ctxs"] if c.get("isgold") or c.get("hasanswer")]
            if not gold:
                continue
            qid = str(n)
            queries[qid] = r["question"]
            qrels[qid] = set()
            for c in gold:
                cid = hashlib.sha256((c["title"] + "\n" + c["text"]).encode("utf-8")).hexdigest()[:16]
                corpus[cid] = (c["title"] + "\n" + c["text"]).strip()
                qrels[qid].add(cid)
    write(out, "nq-oracle", corpus, queries, qrels)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=os.path.join(here, "..", "..", "..", "shared", "data"))
    ap.add_argument("--rgb-limit", type=int, default=0, help="RGB: only the first N queries (and their passages)")
    ap.add_argument("--out", default=os.path.join(os.path.expanduser("~"), ".cache", "quarry", "bench", "qa-beir"))
    ap.add_argument("--sets", default="cmrc2018,rgb-zh,rgb-en,nq-oracle")
    a = ap.parse_args()
    sets = a.sets.split(",")
    if "cmrc2018" in sets:
        cmrc(a.data, a.out)
    if "rgb-zh" in sets:
        rgb(a.data, a.out, a.rgb_limit, "zh_refine.json", "rgb-zh")
    if "rgb-en" in sets:
        rgb(a.data, a.out, a.rgb_limit, "en_fact.json", "rgb-en")
    if "nq-oracle" in sets:
        nq_oracle(a.data, a.out)


if __name__ == "__main__":
    main()
