#pragma once

#include <atomic>
#include <string>
#include <vector>

#include "common.h"
#include "ggml-backend.h"

namespace icon2 {

class AddonModel;

// Steering of one sequence: rows of its tokens flagged "steer" get scale·vector added at l_out-<il>.
struct seq_steering {
    std::vector<float> vectors;      // [n_layer][n_embd], already multiplied by the scale
    std::vector<uint8_t> layer_on;   // [n_layer]
    bool any = false;
};

// What the eval callback needs to know about the batch being decoded. The ubatch tensors carry no
// sequence ids, so the row -> sequence map is recorded when the batch is built.
struct decode_plan {
    int32_t n_tokens = 0;
    int32_t n_outputs = 0;
    std::vector<int32_t> row_seq;       // [n_tokens] sequence of each batch row
    std::vector<uint8_t> row_steer;     // [n_tokens] 1 = add the sequence's vectors to this row
    std::vector<int32_t> output_rows;   // [n_outputs] batch row of each output, in batch order
    std::vector<int32_t> capture_slot;  // [n_layer] slot in the capture buffer, -1 = not captured
    int32_t n_capture_layers = 0;
    std::vector<float> captured;        // [n_outputs][n_capture_layers][n_embd]
    std::vector<uint8_t> watch;         // [n_layer] 1 = the callback must stop at l_out-<il>
};

// One llama_context with n_seq_max parallel sequences and the eval callback that captures and
// steers. JS handle: `AddonContext`. Only one decode runs at a time (the TypeScript engine holds a
// lock); steering and samplers must not change while a decode runs.
class AddonContext : public Napi::ObjectWrap<AddonContext> {
  public:
    static void Register(Napi::Env env, Napi::Object exports);
    explicit AddonContext(const Napi::CallbackInfo & info);
    ~AddonContext() override;

    void release();
    void attach_threadpool(int32_t n_threads);
    int decode_prepared(std::string & error);  // runs on a worker thread

    AddonModel * owner = nullptr;
    llama_context * ctx = nullptr;
    ggml_threadpool_t threadpool = nullptr;
    void (*threadpool_free)(ggml_threadpool_t) = nullptr;
    llama_batch batch{};
    int32_t n_batch = 0;
    int32_t n_seq_max = 0;
    int32_t n_embd = 0;
    int32_t n_layer = 0;
    int32_t n_ctx = 0;
    std::vector<seq_steering> steering;      // [n_seq_max]
    std::vector<llama_sampler *> samplers;   // [n_seq_max]
    std::vector<int32_t> sample_seq;         // [n_outputs] sampler to use per output, -1 = none
    std::vector<llama_token> sampled;        // [n_outputs]
    decode_plan plan;
    std::string callback_error;
    std::vector<float> row_buffer;
    std::atomic<bool> abort_requested{false};
    std::atomic<bool> busy{false};

    static bool eval_callback(struct ggml_tensor * t, bool ask, void * user_data);
    static bool abort_callback(void * user_data);

  private:
    Napi::Value Decode(const Napi::CallbackInfo & info);
    Napi::Value GetLogits(const Napi::CallbackInfo & info);
    Napi::Value TokenLogProbs(const Napi::CallbackInfo & info);
    Napi::Value SetSteering(const Napi::CallbackInfo & info);
    Napi::Value ClearSteering(const Napi::CallbackInfo & info);
    Napi::Value SetSampler(const Napi::CallbackInfo & info);
    Napi::Value SamplerAccept(const Napi::CallbackInfo & info);
    Napi::Value ClearSampler(const Napi::CallbackInfo & info);
    Napi::Value MemorySeqRm(const Napi::CallbackInfo & info);
    Napi::Value MemorySeqCp(const Napi::CallbackInfo & info);
    Napi::Value MemoryClear(const Napi::CallbackInfo & info);
    Napi::Value SetAdapterCvec(const Napi::CallbackInfo & info);
    Napi::Value Abort(const Napi::CallbackInfo & info);
    Napi::Value Dispose(const Napi::CallbackInfo & info);

    Napi::ObjectReference model_ref;
    void check_usable(Napi::Env env);
    int32_t checked_seq(Napi::Env env, const Napi::Value & v);
};

}  // namespace icon2
