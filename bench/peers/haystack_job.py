"""Haystack, wired as its docs show for a local, offline setup: an indexing
pipeline of DocumentSplitter (its defaults) -> SentenceTransformersDocumentEmbedder
(Haystack has no llama.cpp embedder, so the same all-MiniLM-L6-v2 weights load
from a local folder) -> DocumentWriter into the InMemoryDocumentStore;
InMemoryBM25Retriever, InMemoryEmbeddingRetriever, and a DocumentJoiner in
reciprocal_rank_fusion mode for hybrid; LlamaCppChatGenerator
(llama-cpp-haystack) behind a ChatPromptBuilder with Haystack's RAG template.
"""
import harness

# --- user code ---
import json

from haystack import Document, Pipeline
from haystack.components.builders import ChatPromptBuilder
from haystack_integrations.components.embedders.sentence_transformers import (
    SentenceTransformersDocumentEmbedder, SentenceTransformersTextEmbedder)
from haystack.components.joiners import DocumentJoiner
from haystack.components.preprocessors import DocumentSplitter
from haystack.components.retrievers.in_memory import InMemoryBM25Retriever, InMemoryEmbeddingRetriever
from haystack.components.writers import DocumentWriter
from haystack.dataclasses import ChatMessage
from haystack.document_stores.in_memory import InMemoryDocumentStore
from haystack_integrations.components.generators.llama_cpp import LlamaCppChatGenerator


def ingest(spec, corpus_path):
    store = InMemoryDocumentStore()
    docs = []
    for line in open(corpus_path):
        r = json.loads(line)
        docs.append(Document(content=(r["title"] + "\n" + r["text"]).strip(), meta={"id": r["_id"]}))
    indexing = Pipeline()
    indexing.add_component("splitter", DocumentSplitter())
    indexing.add_component("embedder", SentenceTransformersDocumentEmbedder(model=spec["embed_st_dir"]))
    indexing.add_component("writer", DocumentWriter(document_store=store))
    indexing.connect("splitter", "embedder")
    indexing.connect("embedder", "writer")
    indexing.run({"splitter": {"documents": docs}})
    return store


def search_pipeline(store, mode, k, model):
    p = Pipeline()
    if mode in ("bm25", "hybrid"):
        p.add_component("bm25", InMemoryBM25Retriever(document_store=store, top_k=k))
    if mode in ("dense", "hybrid"):
        p.add_component("text_embedder", SentenceTransformersTextEmbedder(model=model, progress_bar=False))
        p.add_component("dense", InMemoryEmbeddingRetriever(document_store=store, top_k=k))
        p.connect("text_embedder.embedding", "dense.query_embedding")
    if mode == "hybrid":
        p.add_component("joiner", DocumentJoiner(join_mode="reciprocal_rank_fusion", top_k=k))
        p.connect("bm25", "joiner")
        p.connect("dense", "joiner")
    return p


def run_search(p, mode, text):
    inputs = {}
    if mode in ("bm25", "hybrid"):
        inputs["bm25"] = {"query": text}
    if mode in ("dense", "hybrid"):
        inputs["text_embedder"] = {"text": text}
    out = p.run(inputs)
    return out["joiner" if mode == "hybrid" else mode]["documents"]


def retrievers(spec, store):
    pipes = {mode: search_pipeline(store, mode, spec["k"], spec["embed_st_dir"]) for mode in ("bm25", "dense", "hybrid")}
    return {mode: (lambda text, k, mode=mode: [d.meta["id"] for d in run_search(pipes[mode], mode, text)])
            for mode in pipes}


def answerer(spec, store):
    p = search_pipeline(store, "hybrid", spec["answer_k"], spec["embed_st_dir"])
    template = [ChatMessage.from_user(
        "Given the following information, answer the question.\n\nContext:\n"
        "{% for document in documents %}\n    {{ document.content }}\n{% endfor %}\n\n"
        "Question: {{question}}\nAnswer:")]
    p.add_component("prompt_builder", ChatPromptBuilder(template=template, required_variables=["question", "documents"]))
    streamed = []
    llm = LlamaCppChatGenerator(model=spec["gen_gguf"], n_ctx=spec["n_ctx"],
                                model_kwargs={"n_threads": spec["threads"], "verbose": False},
                                generation_kwargs={"max_tokens": spec["max_tokens"], "temperature": 0.0},
                                streaming_callback=lambda chunk: streamed[-1](chunk.content))
    p.add_component("llm", llm)
    p.connect("joiner", "prompt_builder.documents")
    p.connect("prompt_builder", "llm")

    def answer(question, on_token):
        streamed.append(on_token)
        out = p.run({"bm25": {"query": question}, "text_embedder": {"text": question},
                     "prompt_builder": {"question": question}})
        return out["llm"]["replies"][0].text
    return answer

# --- end user code ---


if __name__ == "__main__":
    harness.main(ingest, retrievers, answerer)
