"""The official OpenAI Python client against `quarry serve`, unchanged.

    python openai_client.py BASE_URL API_KEY QUESTION EXPECTED_SOURCE

Prints one JSON object: what each call returned. Exits 1 on a failed check.
"""
import json
import sys

from openai import OpenAI


def main() -> int:
    base_url, key, question, expected_source = sys.argv[1:5]
    client = OpenAI(base_url=base_url, api_key=key, max_retries=0)
    out = {"models": sorted(m.id for m in client.models.list())}

    r = client.chat.completions.create(
        model="quarry", messages=[{"role": "user", "content": question}], max_tokens=48
    )
    extra = r.model_extra or {}
    out["answer"] = r.choices[0].message.content
    out["finish_reason"] = r.choices[0].finish_reason
    out["citations"] = [c["source"] for c in extra.get("citations", [])]
    out["completion_tokens"] = r.usage.completion_tokens

    streamed, last = [], None
    for chunk in client.chat.completions.create(
        model="quarry", messages=[{"role": "user", "content": question}], max_tokens=48, stream=True
    ):
        if chunk.choices and chunk.choices[0].delta.content:
            streamed.append(chunk.choices[0].delta.content)
        last = chunk
    out["streamed"] = "".join(streamed)
    out["stream_citations"] = [c["source"] for c in (last.model_extra or {}).get("citations", [])]

    embedder = next(m for m in out["models"] if not m.startswith("quarry"))
    e = client.embeddings.create(model=embedder, input=["tea", "coffee"])
    out["embeddings"] = [len(d.embedding) for d in e.data]
    out["embedding_tokens"] = e.usage.prompt_tokens  # each word and the model's two special tokens

    try:
        OpenAI(base_url=base_url, api_key="not-the-key", max_retries=0).models.list()
        out["bad_key"] = "accepted"
    except Exception as ex:  # openai.AuthenticationError
        out["bad_key"] = type(ex).__name__

    print(json.dumps(out))
    ok = (
        out["answer"]
        and out["streamed"] == out["answer"]
        and any(expected_source in s for s in out["citations"])
        and out["citations"] == out["stream_citations"]
        and len(set(out["embeddings"])) == 1
        and out["embeddings"][0] > 0
        and out["embedding_tokens"] >= 6
        and out["bad_key"] == "AuthenticationError"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
