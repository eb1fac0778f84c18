#!/usr/bin/env python3
"""Largest inputs: time and peak RSS of `quarry add --no-embed` on one large
file of each kind, generated here (seeded), one process per file.

    bench/reliability/large_inputs.py [--quarry BIN] [--sizes 10,50] [--out FILE]

Prints a markdown table and writes JSON (default bench/results/reliability_large_inputs.json).
Analysis should be linear in size (50 MB within 5x the time of 10 MB) and peak
RSS within 4x the unpacked size (plus the process itself, measured on a tiny file).
"""
import argparse, json, os, random, re, subprocess, sys, tempfile, time, zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

def words(rng, n):
    vocab = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(3, 9))) for _ in range(20000)]
    return lambda: " ".join(rng.choice(vocab) for _ in range(n))

def text_of(rng, size):
    w, out, n = words(rng, 12), [], 0
    while n < size:
        line = w() + ".\n" + ("\n" if rng.random() < 0.05 else "")
        out.append(line)
        n += len(line)
    return "".join(out)

def make(kind, mb, d, rng):
    """Writes the file; returns (path, unpacked bytes: the file, or a DOCX's document.xml)."""
    size = mb << 20
    path = os.path.join(d, f"big{mb}.{kind}")
    unpacked = None
    if kind == "txt":
        open(path, "w").write(text_of(rng, size))
    elif kind == "md":
        t, parts = text_of(rng, size), []
        for i, para in enumerate(t.split("\n\n")):
            parts.append((f"## Section {i}\n\n" if i % 20 == 0 else "") + para)
        open(path, "w").write("\n\n".join(parts))
    elif kind == "html":
        t = text_of(rng, size * 7 // 10)
        open(path, "w").write("<html><body>" + "".join(f"<p>{p}</p>\n" for p in t.split("\n") if p) + "</body></html>")
    elif kind == "jsonl":
        w = words(rng, 60)
        with open(path, "w") as f:
            i, n = 0, 0
            while n < size:
                line = json.dumps({"_id": str(i), "title": f"Record {i}", "text": w()}) + "\n"
                f.write(line); n += len(line); i += 1
    elif kind == "docx":
        t = text_of(rng, size)
        body = "".join(f"<w:p><w:r><w:t>{p}</w:t></w:r></w:p>" for p in t.split("\n") if p)
        doc = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document xmlns:w="http://schemas.openxmlformats.org/'
               'wordprocessingml/2006/main"><w:body>' + body + "</w:body></w:document>")
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("word/document.xml", doc)
        unpacked = len(doc.encode())
    return path, unpacked or os.path.getsize(path)

def run(quarry, path, db):
    r = subprocess.run(["/usr/bin/time", "-f", "%e %M", quarry, "add", "--no-embed", "--json", "--max-file-size", "1000",
                        "--db", db, path], capture_output=True, text=True)
    wall, rss_kb = r.stderr.strip().splitlines()[-1].split()
    rep = json.loads(r.stdout) if r.stdout.strip() else {}
    return {"ok": r.returncode == 0, "wall_s": float(wall),
            "peak_rss_mb": int(rss_kb) / 1024, "seconds": rep.get("seconds", {}), "chunks": rep.get("chunks"),
            "documents": rep.get("added"), "error": "" if r.returncode == 0 else r.stderr.strip().splitlines()[0]}

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quarry", default=os.path.join(ROOT, "build/release/quarry"))
    ap.add_argument("--sizes", default="10,50")
    ap.add_argument("--kinds", default="txt,md,html,jsonl,docx")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench/results/reliability_large_inputs.json"))
    a = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as d:
        tiny = os.path.join(d, "tiny.txt"); open(tiny, "w").write("tiny")
        base = run(a.quarry, tiny, os.path.join(d, "kb0"))["peak_rss_mb"]
        for kind in a.kinds.split(","):
            for mb in map(int, a.sizes.split(",")):
                # Seeded per file: a file's content does not depend on which others were made first.
                rng = random.Random(f"{kind}-{mb}")
                path, unpacked = make(kind, mb, d, rng)  # mb: the size of the text
                file_mb = os.path.getsize(path) / 2**20
                unpacked_mb = unpacked / 2**20
                r = run(a.quarry, path, os.path.join(d, f"kb-{kind}-{mb}"))
                os.remove(path)
                r.update(kind=kind, mb=mb, file_mb=round(file_mb, 1), unpacked_mb=round(unpacked_mb, 1),
                         rss_over_size=round((r["peak_rss_mb"] - base) / unpacked_mb, 2))
                rows.append(r)
                print(f"{kind:6} {mb:4} MB  {r['wall_s']:7.2f} s  {r['peak_rss_mb']:7.1f} MB  {r['error']}", file=sys.stderr)
    print(f"| input | unpacked MB | wall s | analysis s | peak RSS MB | (RSS - {base:.0f} MB process) / unpacked | chunks |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['kind']} | {r['unpacked_mb']:.1f} | {r['wall_s']:.2f} | {r['seconds'].get('analyze', 0):.2f} | "
              f"{r['peak_rss_mb']:.0f} | {r['rss_over_size']:.1f}x | {r['chunks']} |")
    for kind in a.kinds.split(","):
        k = [r for r in rows if r["kind"] == kind]
        if len(k) >= 2:
            print(f"{kind}: {k[-1]['mb']} MB took {k[-1]['wall_s'] / k[0]['wall_s']:.1f}x the time of {k[0]['mb']} MB "
                  f"({k[-1]['mb'] / k[0]['mb']:.0f}x the size)")
    json.dump({"date": time.strftime("%Y-%m-%d"), "process_rss_mb": base, "rows": rows}, open(a.out, "w"), indent=2)

if __name__ == "__main__":
    main()
