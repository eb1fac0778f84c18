"""LlamaIndex, wired as its docs show for a local, offline setup: the default
SentenceSplitter, VectorStoreIndex over the in-memory SimpleVectorStore,
HuggingFaceEmbedding (sentence-transformers; LlamaIndex has no llama.cpp
embedding integration, so the same all-MiniLM-L6-v2 weights load from a local
folder), BM25Retriever (bm25s, English stemmer), QueryFusionRetriever in
reciprocal-rank mode for hybrid, LlamaCPP (llama-cpp-python) with the model's
ChatML prompt format, RetrieverQueryEngine with streaming.
"""
import harness

# --- user code ---
import json

import Stemmer
from llama_index.core import Document, Settings, VectorStoreIndex
from llama_index.core.node_parser import SentenceSplitter
from llama_index.core.query_engine import RetrieverQueryEngine
from llama_index.core.retrievers import QueryFusionRetriever
from llama_index.embeddings.huggingface import HuggingFaceEmbedding
from llama_index.llms.llama_cpp import LlamaCPP
from llama_index.retrievers.bm25 import BM25Retriever


def ingest(spec, corpus_path):
    Settings.embed_model = HuggingFaceEmbedding(model_name=spec["embed_st_dir"], device="cpu")
    docs = []
    for line in open(corpus_path):
        r = json.loads(line)
        docs.append(Document(text=(r["title"] + "\n" + r["text"]).strip(), metadata={"id": r["_id"]},
                             excluded_embed_metadata_keys=["id"], excluded_llm_metadata_keys=["id"]))
    nodes = SentenceSplitter().get_nodes_from_documents(docs)
    return {"nodes": nodes, "index": VectorStoreIndex(nodes)}


def make_retrievers(state, k):
    bm25 = BM25Retriever.from_defaults(nodes=state["nodes"], similarity_top_k=k,
                                       stemmer=Stemmer.Stemmer("english"), language="english")
    dense = state["index"].as_retriever(similarity_top_k=k)
    hybrid = QueryFusionRetriever([dense, bm25], similarity_top_k=k, num_queries=1,
                                  mode="reciprocal_rerank", use_async=False)
    return bm25, dense, hybrid


def retrievers(spec, state):
    Settings.llm = None  # retrieval only: no LLM (the fusion retriever asks for one)
    made = dict(zip(["bm25", "dense", "hybrid"], make_retrievers(state, spec["k"])))
    return {mode: (lambda text, k, r=r: [n.node.metadata["id"] for n in r.retrieve(text)]) for mode, r in made.items()}


def chatml(messages):
    return "".join(f"<|im_start|>{m.role.value}\n{m.content}<|im_end|>\n" for m in messages) + "<|im_start|>assistant\n"


def answerer(spec, state):
    Settings.llm = LlamaCPP(model_path=spec["gen_gguf"], temperature=0.0, max_new_tokens=spec["max_tokens"],
                            context_window=spec["n_ctx"], model_kwargs={"n_threads": spec["threads"]},
                            messages_to_prompt=chatml,
                            completion_to_prompt=lambda c: f"<|im_start|>user\n{c}<|im_end|>\n<|im_start|>assistant\n",
                            verbose=False)
    engine = RetrieverQueryEngine.from_args(make_retrievers(state, spec["answer_k"])[2], streaming=True)

    def answer(question, on_token):
        text = ""
        for piece in engine.query(question).response_gen:
            on_token(piece)
            text += piece
        return text
    return answer
# --- end user code ---


if __name__ == "__main__":
    harness.main(ingest, retrievers, answerer)
