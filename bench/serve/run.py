#!/usr/bin/env python3
"""Load bench for `quarry serve`, on loopback, in one run:

1. search: wrk against POST /v1/search (BM25, a knowledge base of --chunks
   synthetic one-chunk documents) at 1, 8, 32 and 64 connections, next to the
   in-process rate of the same queries (bench/serve/search_rate, 2 threads).
2. chat: quarry-chat (no retrieval) against llama-server on the same GGUF with
   the same parallel slots: aggregate and per-stream completion tokens/s.
3. embeddings: POST /v1/embeddings against llama-server --embedding, same GGUF.
4. soak: --soak-seconds of mixed search (wrk), uploads and chat; RSS sampled
   every 5 s; errors counted (429 is the only status allowed).

  bench/serve/run.py [--chunks 100000] [--seconds 10] [--soak-seconds 600] [--only search,chat,embed,soak]

Writes bench/results/serve.json and prints markdown tables.
"""
import argparse, json, os, random, re, shutil, signal, subprocess, sys, tempfile, threading, time, urllib.request, urllib.error
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "build" / "release"
QUARRY = BUILD / "quarry"
SEARCH_RATE = BUILD / "bench" / "search_rate"
HERE = Path(__file__).resolve().parent
CACHE = Path(os.environ.get("QUARRY_CACHE_DIR", Path.home() / ".cache" / "quarry"))


def log(*a):
    print("[serve-bench]", *a, file=sys.stderr, flush=True)


def llama_bin():
    cmake_cache = (BUILD / "CMakeCache.txt").read_text()
    prefix = re.search(r"^QUARRY_LLAMA_PREFIX:PATH=(.*)$", cmake_cache, re.M).group(1)
    return Path(prefix) / "bin"


def model_path(name):
    out = subprocess.run([str(QUARRY), "model", "info", name], capture_output=True, text=True, check=True).stdout
    return json.loads(out)["path"]


def post(url, body, timeout=600, key=None):
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, None


# ---------------------------------------------------------------------------
# Corpus: Zipfian words, one chunk per record (BM25 only).

def make_corpus(n, work, embed=False):
    db = CACHE / "bench" / (f"serve-kb-{n}" + ("-embedded" if embed else ""))
    queries = CACHE / "bench" / f"serve-queries-{n}.txt"
    if (db / "quarry.db").exists() and queries.exists():
        return db, queries
    rng = random.Random(7)
    vocab = [f"w{i}" + "".join(rng.choice("aeioubcdfgklmnprst") for _ in range(rng.randint(2, 6))) for i in range(30000)]
    weights = [1.0 / (i + 1) for i in range(len(vocab))]
    corpus = work / "corpus.jsonl"
    log(f"writing {n} synthetic documents")
    with corpus.open("w") as f:
        for i in range(n):
            words = rng.choices(vocab, weights, k=rng.randint(40, 80))
            f.write(json.dumps({"_id": str(i), "text": " ".join(words)}) + "\n")
    log("ingesting them" + ("" if embed else " (BM25 only)"))
    # Into a scratch directory renamed at the end: an interrupted run leaves
    # no half-filled base for the next one to take as the cached corpus.
    partial = db.with_name(db.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    subprocess.run([str(QUARRY), "add", str(corpus), "--db", str(partial)] + ([] if embed else ["--no-embed"]), check=True,
                   stdout=subprocess.DEVNULL)
    shutil.rmtree(db, ignore_errors=True)
    partial.rename(db)
    with queries.open("w") as f:
        for _ in range(1000):
            f.write(" ".join(rng.choices(vocab[50:5000], k=rng.randint(4, 8))) + "\n")
    return db, queries


class Serve:
    def __init__(self, args):
        self.p = subprocess.Popen([str(QUARRY), "serve", "--port", "0"] + [str(a) for a in args], stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, text=True)
        line = self.p.stdout.readline()
        self.url = re.search(r"http://\S+", line).group(0)

    def rss_mb(self, field="VmRSS"):
        # VmRSS = RssAnon (heap) + RssFile (mapped files: the catalog, read
        # through SQLite's memory map, and the model) + RssShmem.
        for line in Path(f"/proc/{self.p.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024

    def cpu_seconds(self):
        fields = Path(f"/proc/{self.p.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime

    def stop(self):
        self.p.send_signal(signal.SIGTERM)
        return self.p.wait(timeout=120)


class LlamaServer:
    def __init__(self, model, extra):
        self.port = 18000 + random.randint(0, 999)
        self.p = subprocess.Popen([str(llama_bin() / "llama-server"), "-m", model, "--host", "127.0.0.1", "--port", str(self.port),
                                   "--no-webui"] + extra, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.url = f"http://127.0.0.1:{self.port}"
        for _ in range(600):
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=1) as r:
                    if r.status == 200:
                        return
            except Exception:
                time.sleep(0.2)
        raise RuntimeError("llama-server did not start")

    def stop(self):
        self.p.terminate()
        self.p.wait()


def wrk(url, path, bodies_file, connections, seconds, threads=2):
    with tempfile.NamedTemporaryFile("r", suffix=".json") as out:
        env = dict(os.environ, WRK_BODIES=str(bodies_file), WRK_PATH=path, WRK_OUT=out.name)
        subprocess.run(["wrk", f"-t{min(threads, connections)}", f"-c{connections}", f"-d{seconds}s", "--timeout", "30s",
                        "-s", str(HERE / "wrk_post.lua"), url], env=env, check=True, stdout=subprocess.DEVNULL)
        return json.loads(Path(out.name).read_text())


# ---------------------------------------------------------------------------

def search_rows(db, queries, work, mode, connections, seconds):
    bodies = work / f"search_bodies_{mode}.jsonl"
    bodies.write_text("".join(json.dumps({"query": q, "k": 10, "mode": mode}) + "\n" for q in queries.read_text().splitlines()))
    log(f"in-process search rate, {mode}, 2 threads")
    before = os.times()
    inproc = json.loads(subprocess.run([str(SEARCH_RATE), "--db", str(db), "--queries", str(queries), "--threads", "2",
                                        "--seconds", str(seconds), "--mode", mode], capture_output=True, text=True, check=True).stdout)
    after = os.times()
    # CPU time per query (user + system; loading included): the HTTP rows put
    # the server's next to it, which is what HTTP and JSON add, whatever the
    # load generator takes of the two cores.
    inproc["cpu_ms_per_query"] = ((after.children_user - before.children_user) + (after.children_system - before.children_system)) \
        * 1000 / inproc["queries"]
    rows = []
    s = Serve(["--db", db, "--http-threads", "64", "--searchers", "2"] + (["--no-embed"] if mode == "bm25" else []))
    try:
        wrk(s.url, "/v1/search", bodies, 8, 3)  # warm-up: indexes loaded in every handle
        for c in connections:
            log(f"wrk /v1/search, {mode}, {c} connections")
            cpu0 = s.cpu_seconds()
            r = wrk(s.url, "/v1/search", bodies, c, seconds)
            r["server_cpu_ms_per_request"] = (s.cpu_seconds() - cpu0) * 1000 / max(r["requests"], 1)
            r["connections"] = c
            r["of_in_process"] = r["rps"] / inproc["qps"]
            rows.append(r)
    finally:
        s.stop()
    return inproc, rows


def bench_search(a, work, result):
    db, queries = make_corpus(a.chunks, work)
    inproc, rows = search_rows(db, queries, work, "bm25", (1, 8, 32, 64), a.seconds)
    result["search"] = {"chunks": a.chunks, "in_process": inproc, "http": rows,
                        "server_flags": "--http-threads 64 --searchers 2", "wrk_threads": 2}
    # The default mode, where a query's cost is mostly embedding it.
    db, queries = make_corpus(a.hybrid_chunks, work, embed=True)
    inproc, rows = search_rows(db, queries, work, "hybrid", (8, 32), a.seconds)
    result["search_hybrid"] = {"chunks": a.hybrid_chunks, "in_process": inproc, "http": rows,
                               "server_flags": "--http-threads 64 --searchers 2", "wrk_threads": 2}


PROMPTS = ["Explain how tides work.", "Write a short poem about rain.", "What is a prime number?", "Describe a cat.",
           "Why is the sky blue?", "Give three tips for sleeping well.", "What does a compiler do?", "Describe the sea."]


def chat_load(url, model, clients, per_client, max_tokens, extra=None):
    lat, toks, errors = [], [], 0
    lock = threading.Lock()

    def client(ci):
        nonlocal errors
        for i in range(per_client):
            body = {"model": model, "messages": [{"role": "user", "content": PROMPTS[(ci + i) % len(PROMPTS)]}],
                    "max_tokens": max_tokens, "temperature": 0, **(extra or {})}
            t = time.time()
            status, j = post(url + "/v1/chat/completions", body)
            with lock:
                if status != 200:
                    errors += 1
                    continue
                lat.append(time.time() - t)
                toks.append(j["usage"]["completion_tokens"])

    t0 = time.time()
    ths = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
    [t.start() for t in ths]
    [t.join() for t in ths]
    wall = time.time() - t0
    per_stream = sorted(n / s for n, s in zip(toks, lat))
    return {"clients": clients, "requests": len(lat), "errors": errors, "completion_tokens": sum(toks),
            "aggregate_tokens_per_s": sum(toks) / wall, "per_stream_tokens_per_s_p50": per_stream[len(per_stream) // 2] if per_stream else 0,
            "latency_p50_s": sorted(lat)[len(lat) // 2] if lat else 0}


def bench_chat(a, work, result):
    # Both servers stay up and take turns, round after round: this machine's
    # speed drifts by 10-20% over minutes, so one run of each, minutes apart,
    # cannot tell a 10% difference. Each round's ratio compares runs seconds apart.
    model = model_path(a.llm)
    rows = []
    for slots in (1, 2):
        per_client = a.chat_requests
        log(f"chat: quarry serve --generators {slots} and llama-server -np {slots}, {a.chat_rounds} rounds")
        s = Serve(["--db", work / f"chatkb{slots}", "--no-embed", "--llm", model, "--generators", slots, "--queue", 64, "--ctx", 2048])
        ls = LlamaServer(model, ["-np", str(slots), "-c", str(2048 * slots), "-t", str(os.cpu_count())])
        rounds = []
        try:
            chat_load(s.url, "quarry-chat", 1, 1, 8)  # loads the model
            chat_load(ls.url, "m", 1, 1, 8)
            for r in range(a.chat_rounds):
                q = chat_load(s.url, "quarry-chat", slots, per_client, a.max_tokens)
                l = chat_load(ls.url, "m", slots, per_client, a.max_tokens)
                rounds.append({"quarry": q, "llama_server": l,
                               "aggregate_ratio": q["aggregate_tokens_per_s"] / l["aggregate_tokens_per_s"],
                               "per_stream_ratio": q["per_stream_tokens_per_s_p50"] / l["per_stream_tokens_per_s_p50"]})
                log(f"  round {r + 1}: {rounds[-1]['aggregate_ratio']:.2f}")
        finally:
            s.stop()
            ls.stop()

        def total(side):
            toks = sum(x[side]["completion_tokens"] for x in rounds)
            secs = sum(x[side]["completion_tokens"] / x[side]["aggregate_tokens_per_s"] for x in rounds)
            return {"requests": sum(x[side]["requests"] for x in rounds), "errors": sum(x[side]["errors"] for x in rounds),
                    "completion_tokens": toks, "aggregate_tokens_per_s": toks / secs,
                    "per_stream_tokens_per_s_p50": median([x[side]["per_stream_tokens_per_s_p50"] for x in rounds])}

        agg = sorted(x["aggregate_ratio"] for x in rounds)
        rows.append({"slots": slots, "rounds": rounds, "quarry": total("quarry"), "llama_server": total("llama_server"),
                     "aggregate_ratio_median": median(agg), "aggregate_ratio_min": agg[0], "aggregate_ratio_max": agg[-1],
                     "per_stream_ratio_median": median([x["per_stream_ratio"] for x in rounds])})
    result["chat"] = {"model": a.llm, "max_tokens": a.max_tokens, "requests_per_client_per_round": a.chat_requests,
                      "rounds": a.chat_rounds, "rows": rows}


def median(xs):
    xs = sorted(xs)
    n = len(xs)
    return (xs[n // 2] + xs[(n - 1) // 2]) / 2 if n else 0


def bench_embed(a, work, result):
    model = model_path("minilm-l6")
    rng = random.Random(3)
    texts = [" ".join(rng.choice(["river", "stone", "light", "market", "engine", "garden", "storm", "paper"]) for _ in range(24))
             for _ in range(64)]
    bodies = work / "embed_bodies.jsonl"
    bodies.write_text("".join(json.dumps({"input": texts[i:i + 16]}) + "\n" for i in range(0, 64, 16)))
    out = {}
    s = Serve(["--db", work / "embedkb", "--embed-model", "minilm-l6"])
    try:
        post(s.url + "/v1/embeddings", {"input": ["warm up"]})
        out["quarry"] = wrk(s.url, "/v1/embeddings", bodies, 4, a.seconds)
    finally:
        s.stop()
    ls = LlamaServer(model, ["--embedding", "-t", str(os.cpu_count()), "-np", "4", "-c", "2048", "-b", "2048", "-ub", "2048"])
    try:
        out["llama_server"] = wrk(ls.url, "/v1/embeddings", bodies, 4, a.seconds)
    finally:
        ls.stop()
    for k in out:
        out[k]["texts_per_s"] = out[k]["rps"] * 16
    out["ratio"] = out["quarry"]["texts_per_s"] / out["llama_server"]["texts_per_s"]
    result["embeddings"] = out


def bench_soak(a, work, result):
    db, queries = make_corpus(a.chunks, work)
    soak_db = work / "soakkb"
    subprocess.run(["cp", "-r", str(db), str(soak_db)], check=True)
    bodies = work / "soak_search.jsonl"
    bodies.write_text("".join(json.dumps({"query": q, "k": 10, "mode": "bm25"}) + "\n" for q in queries.read_text().splitlines()))
    s = Serve(["--db", soak_db, "--no-embed", "--llm", model_path(a.llm), "--http-threads", "32", "--searchers", "2", "--ctx", 2048])
    samples, stop = [], threading.Event()
    counts = {"uploads": 0, "upload_errors": 0, "chats": 0, "chat_errors": 0, "chat_429": 0}

    def uploader():
        i = 0
        while not stop.is_set():
            name = f"note{i % 20}.md"
            text = f"# Note {i}\n\n" + " ".join(random.choice(["alpha", "beta", "gamma", "delta"]) for _ in range(2000))
            r = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-F", f"file=@-;filename={name}", s.url + "/v1/documents"],
                               input=text, capture_output=True, text=True)
            counts["uploads"] += 1
            counts["upload_errors"] += r.stdout != "200"
            i += 1
            stop.wait(5)

    def chatter():
        while not stop.is_set():
            status, _ = post(s.url + "/v1/chat/completions",
                             {"model": "quarry-chat", "messages": [{"role": "user", "content": "Describe the sea."}], "max_tokens": 32})
            counts["chats"] += 1
            counts["chat_429"] += status == 429
            counts["chat_errors"] += status not in (200, 429)

    def sampler():
        t0 = time.time()
        while not stop.is_set():
            samples.append((time.time() - t0, s.rss_mb(), s.rss_mb("RssAnon"), s.rss_mb("RssFile")))
            stop.wait(5)

    ths = [threading.Thread(target=f) for f in (uploader, chatter, sampler)]
    [t.start() for t in ths]
    try:
        log(f"soak: {a.soak_seconds} s of search (wrk, 8 connections), uploads every 5 s, chat back to back")
        search = wrk(s.url, "/v1/search", bodies, 8, a.soak_seconds)
    finally:
        stop.set()
        [t.join() for t in ths]
        code = s.stop()
    def mean(col, lo, hi):
        xs = [x[col] for x in samples if lo <= x[0] < hi] or [samples[0][col]]
        return sum(xs) / len(xs)

    end = samples[-1][0] + 1
    out = {"seconds": a.soak_seconds, "search": search, **counts, "exit_code": code}
    for col, name in ((1, "rss"), (2, "rss_anon"), (3, "rss_file")):
        out[f"{name}_mb_minute_2"] = mean(col, 60, 120)
        out[f"{name}_mb_minutes_4_5"] = mean(col, 180, 300)
        out[f"{name}_mb_last_minute"] = mean(col, end - 60, end)
        out[f"{name}_change"] = out[f"{name}_mb_last_minute"] / out[f"{name}_mb_minute_2"] - 1
    out["rss_samples"] = samples  # [seconds, VmRSS, RssAnon, RssFile] in MB
    result["soak"] = out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--chunks", type=int, default=100000)
    ap.add_argument("--hybrid-chunks", type=int, default=5000, help="embedded documents for the hybrid search rows")
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--soak-seconds", type=int, default=600)
    ap.add_argument("--llm", default="smollm2-135m")
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--chat-requests", type=int, default=12, help="per client and round")
    ap.add_argument("--chat-rounds", type=int, default=8, help="turns each server takes, alternating")
    ap.add_argument("--only", default="search,chat,embed,soak")
    a = ap.parse_args()
    if {"search", "soak"} & set(a.only.split(",")) and not shutil.which("wrk"):
        sys.exit("bench/serve/run.py: wrk not found on PATH; the search and soak parts drive the server with it "
                 "(Debian: apt-get install wrk), or leave them out with --only chat,embed")
    out_path = ROOT / "bench" / "results" / "serve.json"
    result = json.loads(out_path.read_text()) if out_path.exists() else {}
    # "date" at the top is the last run's; each part carries the date it was measured
    # (--only reruns some parts and keeps the others from earlier runs).
    result.update({"date": time.strftime("%Y-%m-%d"), "cpus": os.cpu_count()})
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for part, fn in [("search", bench_search), ("chat", bench_chat), ("embed", bench_embed), ("soak", bench_soak)]:
            if part in a.only.split(","):
                before = {k: id(v) for k, v in result.items()}
                fn(a, work, result)
                for k, v in result.items():
                    if isinstance(v, dict) and before.get(k) != id(v):
                        v["date"] = time.strftime("%Y-%m-%d")
                out_path.write_text(json.dumps(result, indent=2) + "\n")
    report(result)


def report(r):
    for key in ("search", "search_hybrid"):
        if key not in r:
            continue
        s = r[key]
        ip = s["in_process"]
        mode = "BM25" if key == "search" else "hybrid"
        print(f"\n/v1/search, {mode} over {s['chunks']} chunks; in-process {ip['qps']:.0f} q/s (2 threads, p50 {ip['p50_ms']:.2f} ms, "
              f"{ip.get('cpu_ms_per_query', 0):.3f} CPU ms per query)\n")
        print("| connections | req/s | of in-process | p50 ms | p99 ms | p99/p50 | server CPU ms per request | errors |")
        print("|---:|---:|---:|---:|---:|---:|---:|---:|")
        for x in s["http"]:
            e = sum(x["errors"].values())
            print(f"| {x['connections']} | {x['rps']:.0f} | {x['of_in_process']:.0%} | {x['p50_ms']:.2f} | {x['p99_ms']:.2f} | "
                  f"{x['p99_ms'] / x['p50_ms']:.1f} | {x.get('server_cpu_ms_per_request', 0):.3f} | {e} |")
    if "chat" in r:
        c = r["chat"]
        print(f"\nChat ({c['model']}, max {c['max_tokens']} tokens, greedy), quarry-chat vs llama-server on the same GGUF\n")
        print(f"{c['rounds']} alternating rounds of {c['requests_per_client_per_round']} requests per client\n")
        print("| slots = clients | Quarry tok/s (aggregate) | llama-server | ratio: median of rounds (min-max) | Quarry tok/s per stream | llama-server | ratio (median) | errors |")
        print("|---:|---:|---:|---|---:|---:|---:|---:|")
        for x in c["rows"]:
            q, l = x["quarry"], x["llama_server"]
            print(f"| {x['slots']} | {q['aggregate_tokens_per_s']:.1f} | {l['aggregate_tokens_per_s']:.1f} | "
                  f"{x['aggregate_ratio_median']:.2f} ({x['aggregate_ratio_min']:.2f}-{x['aggregate_ratio_max']:.2f}) | "
                  f"{q['per_stream_tokens_per_s_p50']:.1f} | {l['per_stream_tokens_per_s_p50']:.1f} | {x['per_stream_ratio_median']:.2f} | "
                  f"{q['errors'] + l['errors']} |")
    if "embeddings" in r:
        e = r["embeddings"]
        print(f"\nEmbeddings (all-MiniLM-L6-v2, 16 texts per request, 4 connections): Quarry {e['quarry']['texts_per_s']:.0f} texts/s, "
              f"llama-server {e['llama_server']['texts_per_s']:.0f} texts/s ({e['ratio']:.2f}x)")
    if "soak" in r:
        s = r["soak"]
        print(f"\nSoak {s['seconds']} s: {s['search']['requests']} searches ({sum(s['search']['errors'].values())} errors), "
              f"{s['uploads']} uploads ({s['upload_errors']} errors), {s['chats']} chats ({s['chat_errors']} errors, {s['chat_429']} 429s); "
              f"RSS {s['rss_mb_minute_2']:.0f} MB in minute 2, {s['rss_mb_last_minute']:.0f} MB in the last ({s['rss_change']:+.1%}; "
              f"heap {s['rss_anon_mb_minute_2']:.0f} -> {s['rss_anon_mb_last_minute']:.0f} MB, {s['rss_anon_change']:+.1%}); "
              f"exit code after SIGTERM {s['exit_code']}")


if __name__ == "__main__":
    main()
