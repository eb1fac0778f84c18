// Quarry's web UI: plain JavaScript against the server's own API, no
// dependencies. Text from documents and models is always set as text, never
// parsed as HTML.
"use strict";

const $ = (id) => document.getElementById(id);
let apiKey = localStorage.getItem("quarry.key") || "";

function headers(extra = {}) {
  return apiKey ? { ...extra, Authorization: "Bearer " + apiKey } : extra;
}

// fetch that asks for an API key when the server wants one.
async function api(path, options = {}) {
  const res = await fetch(path, { ...options, headers: headers(options.headers) });
  if (res.status === 401) {
    $("keybox").hidden = false;
    throw new Error("this server needs an API key");
  }
  return res;
}

async function errorText(res) {
  try {
    const j = await res.json();
    return (j.error && j.error.message) || res.statusText;
  } catch {
    return res.status + " " + res.statusText;
  }
}

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

// ---- stats and documents

async function refreshStats() {
  try {
    const res = await api("/v1/stats");
    if (!res.ok) return;
    const s = await res.json();
    $("stats").textContent = `${s.documents} documents · ${s.chunks} chunks · ${s.embed_model || "BM25 only"} · ${s.generator}`;
  } catch (e) { /* the key box is showing */ }
}

async function refreshDocuments() {
  const body = $("documents").querySelector("tbody");
  try {
    const res = await api("/v1/documents");
    if (!res.ok) return;
    const docs = (await res.json()).data;
    body.replaceChildren();
    for (const d of docs) {
      const tr = document.createElement("tr");
      tr.dataset.id = d.id;
      const updated = el("td", d.updated_at.slice(0, 10));
      updated.title = d.updated_at;
      tr.append(el("td", String(d.id)), el("td", d.source), el("td", String(d.chunks)), updated);
      const del = el("button", "Delete");
      del.type = "button";
      del.className = "delete";
      del.addEventListener("click", async () => {
        if (!confirm(`Delete ${d.source}?`)) return;
        const r = await api(`/v1/documents/${d.id}`, { method: "DELETE" });
        if (!r.ok) alert(await errorText(r));
        refreshDocuments();
        refreshStats();
      });
      const td = document.createElement("td");
      td.append(del);
      tr.append(td);
      body.append(tr);
    }
  } catch (e) { /* the key box is showing */ }
}

// ---- upload, with progress (XMLHttpRequest reports upload progress; fetch does not)

$("upload").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const files = $("files").files;
  if (!files.length) return;
  const form = new FormData();
  for (const f of files) form.append("file", f, f.name);
  const xhr = new XMLHttpRequest();
  const progress = $("upload-progress");
  progress.hidden = false;
  progress.value = 0;
  $("upload-status").textContent = "uploading…";
  $("upload-report").replaceChildren();
  xhr.upload.onprogress = (e) => {
    if (e.lengthComputable) progress.value = e.loaded / e.total;
  };
  xhr.upload.onload = () => {
    progress.value = 1;
    $("upload-status").textContent = "indexing…";
  };
  xhr.onload = () => {
    progress.hidden = true;
    let j = {};
    try { j = JSON.parse(xhr.responseText); } catch { /* not JSON */ }
    if (xhr.status === 401) $("keybox").hidden = false;
    if (j.error) {
      $("upload-status").textContent = j.error.message;
      return;
    }
    $("upload-status").textContent = `added ${j.added}, replaced ${j.replaced}, unchanged ${j.unchanged}, failed ${j.failed}`;
    for (const f of j.files || []) {
      $("upload-report").append(el("li", `${f.filename}: ${f.status}${f.reason ? " (" + f.reason + ")" : ""}`, f.status));
    }
    refreshDocuments();
    refreshStats();
  };
  xhr.onerror = () => { $("upload-status").textContent = "upload failed (connection lost)"; };
  xhr.open("POST", "/v1/documents");
  if (apiKey) xhr.setRequestHeader("Authorization", "Bearer " + apiKey);
  xhr.send(form);
});

// ---- ask, streamed; [n] in the answer opens source n

let citations = [];

function showPassage(n) {
  const c = citations.find((x) => x.n === n);
  if (!c) return;
  $("passage-title").textContent = `[${n}] ${c.title || c.source}`;
  $("passage-where").textContent = `${c.source}, characters ${c.start}–${c.end}`;
  $("passage-text").textContent = c.text;
  $("passage").hidden = false;
}

function citeLink(n) {
  const a = el("a", `[${n}]`, "cite");
  a.href = "#";
  a.dataset.n = n;
  a.addEventListener("click", (e) => { e.preventDefault(); showPassage(n); });
  return a;
}

function renderAnswer(text) {
  const out = $("answer");
  out.replaceChildren();
  const known = new Set(citations.map((c) => c.n));
  let last = 0;
  for (const m of text.matchAll(/\[(\d+)\]/g)) {
    const n = Number(m[1]);
    if (!known.has(n)) continue;
    out.append(document.createTextNode(text.slice(last, m.index)), citeLink(n));
    last = m.index + m[0].length;
  }
  out.append(document.createTextNode(text.slice(last)));
}

function renderSources() {
  const list = $("sources");
  list.replaceChildren();
  for (const c of citations) {
    const li = el("li", undefined, c.cited ? "cited" : "");
    li.append(citeLink(c.n), document.createTextNode(` ${c.title || c.source} (${c.start}–${c.end})`));
    list.append(li);
  }
}

$("ask").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const question = $("question").value.trim();
  if (!question) return;
  $("ask-error").textContent = "";
  $("passage").hidden = true;
  delete $("answer").dataset.done;
  citations = [];
  renderSources();
  let text = "";
  renderAnswer("…");
  $("ask-button").disabled = true;
  try {
    const res = await api("/v1/chat/completions", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ model: "quarry", stream: true, messages: [{ role: "user", content: question }] }),
    });
    if (!res.ok) throw new Error(await errorText(res));
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buf = "";
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      buf += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = buf.indexOf("\n\n")) >= 0) {
        const event = buf.slice(0, cut);
        buf = buf.slice(cut + 2);
        if (!event.startsWith("data: ")) continue;
        const data = event.slice(6);
        if (data === "[DONE]") continue;
        const j = JSON.parse(data);
        if (j.error) throw new Error(j.error.message);
        const piece = j.choices && j.choices[0] && j.choices[0].delta && j.choices[0].delta.content;
        if (piece) text += piece;
        if (j.citations) {
          citations = j.citations;
          renderSources();
        }
        renderAnswer(text);
      }
    }
    $("answer").dataset.done = "1";
  } catch (e) {
    $("ask-error").textContent = e.message;
  } finally {
    $("ask-button").disabled = false;
  }
});

$("passage-close").addEventListener("click", () => { $("passage").hidden = true; });
$("savekey").addEventListener("click", () => {
  apiKey = $("key").value.trim();
  localStorage.setItem("quarry.key", apiKey);
  $("keybox").hidden = true;
  refreshStats();
  refreshDocuments();
});

refreshStats();
refreshDocuments();
