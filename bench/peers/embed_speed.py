"""One embedding measurement in a fresh process (run by bench/peers/run).

  embed_speed.py SYSTEM MODEL_DIR THREADS TEXTS_FILE REPS OUT.json

SYSTEM: fastembed (ONNX Runtime, the fp32 ONNX of all-MiniLM-L6-v2 from the
langchain4j Maven jar) or sentence-transformers (PyTorch CPU, the safetensors
Quarry imports). Prints texts/s (best of REPS after one warm-up pass) and the
first text's vector, so run can check every system computes the same thing.
"""
import json
import sys
import time

system, model_dir, threads, texts_file, reps, out = sys.argv[1:7]
threads, reps = int(threads), int(reps)
texts = [line.rstrip("\n") for line in open(texts_file) if line.strip()]

if system == "fastembed":
    from fastembed import TextEmbedding
    model = TextEmbedding("sentence-transformers/all-MiniLM-L6-v2", specific_model_path=model_dir, threads=threads)

    def embed(xs):
        return [list(map(float, v)) for v in model.embed(xs)]
elif system == "sentence-transformers":
    import torch
    from sentence_transformers import SentenceTransformer
    torch.set_num_threads(threads)
    model = SentenceTransformer(model_dir, device="cpu")

    def embed(xs):
        return model.encode(xs, normalize_embeddings=True).tolist()
else:
    sys.exit(f"unknown system {system}")

first = embed(texts)[0]  # warm-up
best = float("inf")
for _ in range(reps):
    t = time.perf_counter()
    embed(texts)
    best = min(best, time.perf_counter() - t)
json.dump({"texts_per_s": len(texts) / best, "seconds": best, "first_vector": first}, open(out, "w"))
