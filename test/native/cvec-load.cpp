// Loads control-vector GGUF files with llama.cpp's own loader, common_control_vector_load
// (common/common.cpp), from the prebuilt libllama-common that node-llama-cpp ships, and prints
// what llama.cpp would pass to llama_set_adapter_cvec:
//   line 1: n_embd (-1 when the loader rejects the files)
//   line 2: number of floats in data (data[(il - 1) * n_embd + k] is block il, as the loader fills it)
//   then one line per float: its IEEE-754 bits as 8 hex digits, so the comparison is exact.
// Usage: cvec-load <file> [<strength>] [<file> <strength> ...]
#include "common.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

int main(int argc, char ** argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s <file> [<strength>] [<file> <strength> ...]\n", argv[0]);
        return 1;
    }

    std::vector<common_control_vector_load_info> infos;
    for (int i = 1; i < argc; i += 2) {
        const float strength = i + 1 < argc ? std::strtof(argv[i + 1], nullptr) : 1.0f;
        infos.push_back({ strength, argv[i] });
    }

    const common_control_vector_data cvec = common_control_vector_load(infos);

    printf("%d\n%zu\n", cvec.n_embd, cvec.data.size());
    for (const float x : cvec.data) {
        uint32_t bits;
        std::memcpy(&bits, &x, sizeof(bits));
        printf("%08x\n", bits);
    }
    return 0;
}
