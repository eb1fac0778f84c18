// Quarry: an embeddable retrieval-augmented generation engine.
#pragma once

#include "quarry/model.h"
#include "quarry/status.h"
#include "quarry/knowledge_base.h"
