// The official OpenAI JavaScript client against `quarry serve`, unchanged.
//
//   node openai_client.mjs BASE_URL API_KEY QUESTION EXPECTED_SOURCE
//
// Prints one JSON object: what each call returned. Exits 1 on a failed check.
import OpenAI from "openai";

const [baseURL, apiKey, question, expectedSource] = process.argv.slice(2);
const client = new OpenAI({ baseURL, apiKey, maxRetries: 0 });
const out = {};

const models = [];
for await (const m of client.models.list()) models.push(m.id);
out.models = models.sort();

const r = await client.chat.completions.create({
  model: "quarry",
  messages: [{ role: "user", content: question }],
  max_tokens: 48,
});
out.answer = r.choices[0].message.content;
out.citations = (r.citations ?? []).map((c) => c.source);

let streamed = "";
let last = null;
const stream = await client.chat.completions.create({
  model: "quarry",
  messages: [{ role: "user", content: question }],
  max_tokens: 48,
  stream: true,
});
for await (const chunk of stream) {
  streamed += chunk.choices?.[0]?.delta?.content ?? "";
  last = chunk;
}
out.streamed = streamed;
out.stream_citations = (last?.citations ?? []).map((c) => c.source);

const embedder = out.models.find((m) => !m.startsWith("quarry"));
const e = await client.embeddings.create({ model: embedder, input: ["tea", "coffee"], encoding_format: "float" });
out.embeddings = e.data.map((d) => d.embedding.length);

try {
  await new OpenAI({ baseURL, apiKey: "not-the-key", maxRetries: 0 }).models.list();
  out.bad_key = "accepted";
} catch (err) {
  out.bad_key = err?.constructor?.name ?? String(err);
}

console.log(JSON.stringify(out));
const ok =
  out.answer &&
  out.streamed === out.answer &&
  out.citations.some((s) => s.includes(expectedSource)) &&
  JSON.stringify(out.citations) === JSON.stringify(out.stream_citations) &&
  new Set(out.embeddings).size === 1 &&
  out.embeddings[0] > 0 &&
  out.bad_key === "AuthenticationError";
process.exit(ok ? 0 : 1);
