"""txtai, wired as its docs show for a local, offline setup: Embeddings with the
GGUF embedder (txtai's llama.cpp vectors, through llama-cpp-python), content
storage, hybrid=True (its BM25 scoring fused with the Faiss vector index); a
keyword=True index for BM25 alone; dense alone is the hybrid index searched
with weights=1.0 (txtai still runs both searches, so that latency includes the
sparse side). No splitter: txtai indexes each record whole, as its examples
do. Answers: the RAG pipeline with the same GGUF generator (llama.cpp).
"""
import harness

# --- user code ---
import json

from txtai import RAG, Embeddings


def ingest(spec, corpus_path):
    rows = []
    for line in open(corpus_path):
        r = json.loads(line)
        rows.append((r["_id"], (r["title"] + "\n" + r["text"]).strip()))
    vectors = {"n_threads": spec["threads"], "n_ctx": 512, "n_batch": 512}
    hybrid = Embeddings(path=spec["embed_gguf"], content=True, hybrid=True, vectors=vectors)
    hybrid.index(rows)
    return {"rows": rows, "hybrid": hybrid}


def retrievers(spec, state):
    keyword = Embeddings(keyword=True, content=True)
    keyword.index(state["rows"])
    hybrid = state["hybrid"]
    return {"bm25": lambda text, k: [r["id"] for r in keyword.search(text, k)],
            "dense": lambda text, k: [r["id"] for r in hybrid.search(text, k, weights=1.0)],
            "hybrid": lambda text, k: [r["id"] for r in hybrid.search(text, k)]}


def answerer(spec, state):
    template = ("Answer the following question using only the context below. Only include information "
                "specifically discussed.\n\nquestion: {question}\ncontext: {context}")
    rag = RAG(state["hybrid"], spec["gen_gguf"], template=template, context=spec["answer_k"], output="flatten",
              n_ctx=spec["n_ctx"], n_threads=spec["threads"])

    def answer(question, on_token):
        text = ""
        for piece in rag(question, maxlength=spec["max_tokens"], stream=True, temperature=0.0):
            on_token(piece)
            text += piece
        return text
    return answer
# --- end user code ---


if __name__ == "__main__":
    harness.main(ingest, retrievers, answerer)
