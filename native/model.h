#pragma once

#include <mutex>
#include <string>

#include "common.h"

namespace icon2 {

// One loaded GGUF model (weights + vocabulary). JS handle: `AddonModel`.
class AddonModel : public Napi::ObjectWrap<AddonModel> {
  public:
    static void Register(Napi::Env env, Napi::Object exports);
    explicit AddonModel(const Napi::CallbackInfo & info);
    ~AddonModel() override;

    llama_model * model = nullptr;
    const llama_vocab * vocab = nullptr;
    std::string path;
    int32_t n_gpu_layers = 0;
    bool use_mmap = true;
    bool vocab_only = false;
    int contexts = 0;  // live contexts using this model; disposing the model waits for them

    void release();

  private:
    Napi::Value Load(const Napi::CallbackInfo & info);
    Napi::Value Info(const Napi::CallbackInfo & info);
    Napi::Value Tokenize(const Napi::CallbackInfo & info);
    Napi::Value Detokenize(const Napi::CallbackInfo & info);
    Napi::Value TokenPiece(const Napi::CallbackInfo & info);
    Napi::Value IsEog(const Napi::CallbackInfo & info);
    Napi::Value MetaString(const Napi::CallbackInfo & info);
    Napi::Value Dispose(const Napi::CallbackInfo & info);

    bool loading = false;
};

AddonModel * unwrap_loaded_model(const Napi::Value & value);

}  // namespace icon2
