// Quarry: an embeddable retrieval-augmented generation engine. Front ends
// (the quarry CLI, `quarry serve`) are built against these headers only.
#pragma once

#include "quarry/eval.h"
#include "quarry/knowledge_base.h"
#include "quarry/model.h"
#include "quarry/rag.h"
#include "quarry/registry.h"
#include "quarry/status.h"
// quarry/json.h (the JSON shape of documents, hits and citations) is left out:
// it makes nlohmann/json a dependency of whoever includes it.
