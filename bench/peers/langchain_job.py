"""LangChain, wired as its RAG tutorial and integration docs show for a local,
offline setup: RecursiveCharacterTextSplitter, LlamaCppEmbeddings (the GGUF
embedder through llama-cpp-python), a FAISS vector store, BM25Retriever
(rank_bm25), EnsembleRetriever for hybrid (weighted reciprocal rank fusion),
ChatLlamaCpp with the tutorial's RAG prompt.
"""
import harness

# --- user code ---
import json

from langchain_classic.retrievers import EnsembleRetriever
from langchain_community.chat_models import ChatLlamaCpp
from langchain_community.embeddings import LlamaCppEmbeddings
from langchain_community.retrievers import BM25Retriever
from langchain_community.vectorstores import FAISS
from langchain_core.documents import Document
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnablePassthrough
from langchain_text_splitters import RecursiveCharacterTextSplitter


def ingest(spec, corpus_path):
    docs = []
    for line in open(corpus_path):
        r = json.loads(line)
        docs.append(Document(page_content=(r["title"] + "\n" + r["text"]).strip(), metadata={"id": r["_id"]}))
    chunks = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200).split_documents(docs)
    embeddings = LlamaCppEmbeddings(model_path=spec["embed_gguf"], n_threads=spec["threads"], verbose=False)
    return {"chunks": chunks, "faiss": FAISS.from_documents(chunks, embeddings)}


def retrievers(spec, state):
    bm25 = BM25Retriever.from_documents(state["chunks"])
    dense = state["faiss"].as_retriever()
    hybrid = EnsembleRetriever(retrievers=[bm25, dense], weights=[0.5, 0.5])

    def with_k(retriever):
        def search(text, k):
            bm25.k, dense.search_kwargs = k, {"k": k}
            return [d.metadata["id"] for d in retriever.invoke(text)]
        return search
    return {"bm25": with_k(bm25), "dense": with_k(dense), "hybrid": with_k(hybrid)}


def answerer(spec, state):
    bm25 = BM25Retriever.from_documents(state["chunks"], k=spec["answer_k"])
    dense = state["faiss"].as_retriever(search_kwargs={"k": spec["answer_k"]})
    retriever = EnsembleRetriever(retrievers=[bm25, dense], weights=[0.5, 0.5])
    llm = ChatLlamaCpp(model_path=spec["gen_gguf"], n_ctx=spec["n_ctx"], n_threads=spec["threads"],
                       temperature=0, max_tokens=spec["max_tokens"], verbose=False)
    prompt = ChatPromptTemplate.from_messages([("human",
        "You are an assistant for question-answering tasks. Use the following pieces of retrieved context "
        "to answer the question. If you don't know the answer, just say that you don't know. Use three "
        "sentences maximum and keep the answer concise.\nQuestion: {question}\nContext: {context}\nAnswer:")])

    def format_docs(docs):
        return "\n\n".join(d.page_content for d in docs)

    chain = {"context": retriever | format_docs, "question": RunnablePassthrough()} | prompt | llm | StrOutputParser()

    def answer(question, on_token):
        text = ""
        for piece in chain.stream(question):
            on_token(piece)
            text += piece
        return text
    return answer
# --- end user code ---


if __name__ == "__main__":
    harness.main(ingest, retrievers, answerer)
