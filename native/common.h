// Shared declarations of the icon2 addon: a thin N-API layer over llama.cpp's public C API.
// Mechanism only (load, tokenize, batched decode, capture rows, add per-sequence vectors, sample);
// every policy decision lives in TypeScript.
#pragma once

#include <napi.h>

#include <string>

#include "llama.h"

namespace icon2 {

// Last error/warning lines llama.cpp logged, so a failed call can say why (llama.cpp reports most
// load failures only through its log).
std::string recent_llama_errors();
void clear_llama_errors();

// Process-wide teardown: live contexts are freed before the models they use.
void register_live(void * object, void (*release)(void *), int order);
void unregister_live(void * object);

}  // namespace icon2
