#!/usr/bin/env python3
"""Independent float64 reference for all-MiniLM-L6-v2 (mean pooling, L2-normalised).

Reads the packaged safetensors directly and runs a plain numpy BERT, so the
integration test's reference vectors do not depend on llama.cpp or on Quarry.
Needs numpy. Token ids are those of the model's WordPiece tokenizer.

  python3 scripts/reference/minilm_reference.py ~/.cache/quarry/hf/minilm-l6
"""
import json
import math
import struct
import sys

import numpy as np

SENTENCES = {
    "This is an example sentence": [101, 2023, 2003, 2019, 2742, 6251, 102],
    "Each sentence is converted": [101, 2169, 6251, 2003, 4991, 102],
}


def main(model_dir):
    raw = open(f"{model_dir}/model.safetensors", "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    cfg = json.load(open(f"{model_dir}/config.json"))

    def t(name):
        e = header[name]
        b, end = e["data_offsets"]
        dt = {"F32": np.float32, "F16": np.float16}[e["dtype"]]
        return np.frombuffer(raw[8 + n + b:8 + n + end], dtype=dt).reshape(e["shape"]).astype(np.float64)

    def ln(x, w, b, eps=cfg.get("layer_norm_eps", 1e-12)):
        m = x.mean(-1, keepdims=True)
        v = ((x - m) ** 2).mean(-1, keepdims=True)
        return (x - m) / np.sqrt(v + eps) * w + b

    erf = np.vectorize(math.erf)
    heads = cfg["num_attention_heads"]
    dh = cfg["hidden_size"] // heads

    def embed(ids):
        x = t("embeddings.word_embeddings.weight")[ids] + t("embeddings.position_embeddings.weight")[:len(ids)]
        x = ln(x + t("embeddings.token_type_embeddings.weight")[0], t("embeddings.LayerNorm.weight"), t("embeddings.LayerNorm.bias"))
        for layer in range(cfg["num_hidden_layers"]):
            p = f"encoder.layer.{layer}."
            lin = lambda a, name: a @ t(p + name + ".weight").T + t(p + name + ".bias")
            q, k, v = lin(x, "attention.self.query"), lin(x, "attention.self.key"), lin(x, "attention.self.value")
            out = []
            for h in range(heads):
                sl = slice(h * dh, (h + 1) * dh)
                s = q[:, sl] @ k[:, sl].T / math.sqrt(dh)
                s = np.exp(s - s.max(-1, keepdims=True))
                out.append((s / s.sum(-1, keepdims=True)) @ v[:, sl])
            x = ln(lin(np.concatenate(out, -1), "attention.output.dense") + x,
                   t(p + "attention.output.LayerNorm.weight"), t(p + "attention.output.LayerNorm.bias"))
            f = lin(x, "intermediate.dense")
            f = 0.5 * f * (1 + erf(f / math.sqrt(2)))
            x = ln(lin(f, "output.dense") + x, t(p + "output.LayerNorm.weight"), t(p + "output.LayerNorm.bias"))
        m = x.mean(0)
        return m / np.linalg.norm(m)

    for text, ids in SENTENCES.items():
        print(f"{text!r}: " + ", ".join(f"{x:.7f}" for x in embed(ids)[:6]))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "~/.cache/quarry/hf/minilm-l6".replace("~", __import__("os").path.expanduser("~")))
