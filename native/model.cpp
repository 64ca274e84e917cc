#include "model.h"

#include <vector>

namespace icon2 {

static void release_model(void * object) {
    static_cast<AddonModel *>(object)->release();
}

AddonModel::AddonModel(const Napi::CallbackInfo & info) : Napi::ObjectWrap<AddonModel>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsString()) {
        throw Napi::TypeError::New(env, "AddonModel(path, options): path must be a string");
    }
    path = info[0].As<Napi::String>().Utf8Value();
    if (info.Length() > 1 && info[1].IsObject()) {
        Napi::Object options = info[1].As<Napi::Object>();
        if (options.Has("gpuLayers")) {
            n_gpu_layers = options.Get("gpuLayers").As<Napi::Number>().Int32Value();
        }
        if (options.Has("useMmap")) {
            use_mmap = options.Get("useMmap").As<Napi::Boolean>().Value();
        }
        if (options.Has("vocabOnly")) {
            vocab_only = options.Get("vocabOnly").As<Napi::Boolean>().Value();
        }
    }
}

AddonModel::~AddonModel() {
    release();
}

void AddonModel::release() {
    unregister_live(this);
    if (model != nullptr) {
        llama_model_free(model);
        model = nullptr;
        vocab = nullptr;
    }
}

AddonModel * unwrap_loaded_model(const Napi::Value & value) {
    if (!value.IsObject()) {
        throw Napi::TypeError::New(value.Env(), "expected an AddonModel");
    }
    AddonModel * m = Napi::ObjectWrap<AddonModel>::Unwrap(value.As<Napi::Object>());
    if (m == nullptr || m->model == nullptr) {
        throw Napi::Error::New(value.Env(), "Model is not loaded or was disposed");
    }
    return m;
}

class LoadWorker : public Napi::AsyncWorker {
  public:
    LoadWorker(Napi::Env env, AddonModel * owner) :
        Napi::AsyncWorker(env, "icon2.loadModel"), owner(owner), deferred(Napi::Promise::Deferred::New(env)) {
        owner->Ref();
    }
    ~LoadWorker() override { owner->Unref(); }

    Napi::Promise promise() { return deferred.Promise(); }

  protected:
    void Execute() override {
        try {
            clear_llama_errors();
            llama_model_params params = llama_model_default_params();
            params.n_gpu_layers = owner->n_gpu_layers;
            params.load_mode = owner->use_mmap ? LLAMA_LOAD_MODE_MMAP : LLAMA_LOAD_MODE_NONE;
            params.vocab_only = owner->vocab_only;
            // llama.cpp's default progress callback prints dots into the log
            params.progress_callback = [](float, void *) { return true; };
            loaded = llama_model_load_from_file(owner->path.c_str(), params);
            if (loaded == nullptr) {
                std::string why = recent_llama_errors();
                SetError("llama.cpp could not load the model" + (why.empty() ? std::string() : ": " + why));
            }
        } catch (const std::exception & e) {
            SetError(e.what());
        }
    }
    void OnOK() override {
        owner->model = loaded;
        owner->vocab = llama_model_get_vocab(loaded);
        register_live(owner, release_model, 1);
        deferred.Resolve(Env().Undefined());
    }
    void OnError(const Napi::Error & e) override { deferred.Reject(e.Value()); }

  private:
    AddonModel * owner;
    Napi::Promise::Deferred deferred;
    llama_model * loaded = nullptr;
};

Napi::Value AddonModel::Load(const Napi::CallbackInfo & info) {
    if (model != nullptr || loading) {
        throw Napi::Error::New(info.Env(), "Model is already loaded");
    }
    loading = true;
    auto * worker = new LoadWorker(info.Env(), this);
    Napi::Promise promise = worker->promise();
    worker->Queue();
    return promise;
}

static Napi::Value token_or_null(Napi::Env env, llama_token t) {
    if (t == LLAMA_TOKEN_NULL) {
        return env.Null();
    }
    return Napi::Number::New(env, t);
}

static std::string meta_string(const llama_model * model, const char * key) {
    int32_t n = llama_model_meta_val_str(model, key, nullptr, 0);
    if (n < 0) {
        return {};
    }
    std::vector<char> buf(n + 1);
    llama_model_meta_val_str(model, key, buf.data(), buf.size());
    return std::string(buf.data(), n);
}

Napi::Value AddonModel::Info(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    unwrap_loaded_model(Value());
    Napi::Object out = Napi::Object::New(env);
    out.Set("architecture", meta_string(model, "general.architecture"));
    out.Set("name", meta_string(model, "general.name"));
    char desc[256];
    llama_model_desc(model, desc, sizeof(desc));
    out.Set("description", std::string(desc));
    out.Set("nLayer", llama_model_n_layer(model));
    out.Set("nEmbd", llama_model_n_embd(model));
    out.Set("nCtxTrain", llama_model_n_ctx_train(model));
    out.Set("nVocab", llama_vocab_n_tokens(vocab));
    out.Set("sizeBytes", Napi::Number::New(env, (double) llama_model_size(model)));
    out.Set("nParams", Napi::Number::New(env, (double) llama_model_n_params(model)));
    out.Set("bos", token_or_null(env, llama_vocab_bos(vocab)));
    out.Set("eos", token_or_null(env, llama_vocab_eos(vocab)));
    out.Set("eot", token_or_null(env, llama_vocab_eot(vocab)));
    out.Set("addBos", llama_vocab_get_add_bos(vocab));
    out.Set("addEos", llama_vocab_get_add_eos(vocab));
    const char * tmpl = llama_model_chat_template(model, nullptr);
    out.Set("chatTemplate", tmpl == nullptr ? env.Null() : Napi::String::New(env, tmpl));
    return out;
}

// tokenize(text, addSpecial, parseSpecial): addSpecial adds BOS/EOS as the vocabulary asks;
// parseSpecial turns special-token texts such as "<|im_start|>" into their single tokens.
Napi::Value AddonModel::Tokenize(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    unwrap_loaded_model(Value());
    std::string text = info[0].As<Napi::String>().Utf8Value();
    bool add_special = info.Length() > 1 && info[1].ToBoolean().Value();
    bool parse_special = info.Length() > 2 && info[2].ToBoolean().Value();
    int32_t n = -llama_tokenize(vocab, text.data(), (int32_t) text.size(), nullptr, 0, add_special, parse_special);
    if (n < 0) {
        throw Napi::Error::New(env, "tokenize failed: text too long");
    }
    Napi::Int32Array out = Napi::Int32Array::New(env, n);
    if (n > 0) {
        int32_t got = llama_tokenize(vocab, text.data(), (int32_t) text.size(), out.Data(), n, add_special, parse_special);
        if (got != n) {
            throw Napi::Error::New(env, "tokenize failed");
        }
    }
    return out;
}

// detokenize(tokens, special): special = render special tokens as their text.
Napi::Value AddonModel::Detokenize(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    unwrap_loaded_model(Value());
    Napi::Int32Array tokens = info[0].As<Napi::Int32Array>();
    bool special = info.Length() > 1 && info[1].ToBoolean().Value();
    const int32_t n_vocab = llama_vocab_n_tokens(vocab);
    for (size_t i = 0; i < tokens.ElementLength(); i++) {
        if (tokens[i] < 0 || tokens[i] >= n_vocab) {
            throw Napi::RangeError::New(env, "token " + std::to_string(tokens[i]) + " is outside the vocabulary [0, " + std::to_string(n_vocab) + ")");
        }
    }
    std::vector<char> buf(tokens.ElementLength() * 8 + 16);
    int32_t n = llama_detokenize(vocab, tokens.Data(), (int32_t) tokens.ElementLength(), buf.data(), (int32_t) buf.size(), false, special);
    if (n < 0) {
        buf.resize(-n);
        n = llama_detokenize(vocab, tokens.Data(), (int32_t) tokens.ElementLength(), buf.data(), (int32_t) buf.size(), false, special);
    }
    return Napi::String::New(env, buf.data(), n < 0 ? 0 : n);
}

Napi::Value AddonModel::TokenPiece(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    unwrap_loaded_model(Value());
    llama_token token = info[0].As<Napi::Number>().Int32Value();
    if (token < 0 || token >= llama_vocab_n_tokens(vocab)) {
        throw Napi::RangeError::New(env, "token " + std::to_string(token) + " is outside the vocabulary");
    }
    char buf[256];
    int32_t n = llama_token_to_piece(vocab, token, buf, sizeof(buf), 0, true);
    return Napi::String::New(env, buf, n < 0 ? 0 : n);
}

Napi::Value AddonModel::IsEog(const Napi::CallbackInfo & info) {
    unwrap_loaded_model(Value());
    return Napi::Boolean::New(info.Env(), llama_vocab_is_eog(vocab, info[0].As<Napi::Number>().Int32Value()));
}

Napi::Value AddonModel::MetaString(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    unwrap_loaded_model(Value());
    std::string key = info[0].As<Napi::String>().Utf8Value();
    if (llama_model_meta_val_str(model, key.c_str(), nullptr, 0) < 0) {
        return env.Null();
    }
    return Napi::String::New(env, meta_string(model, key.c_str()));
}

Napi::Value AddonModel::Dispose(const Napi::CallbackInfo & info) {
    if (contexts > 0) {
        throw Napi::Error::New(info.Env(), "dispose the model's contexts before the model");
    }
    release();
    return info.Env().Undefined();
}

void AddonModel::Register(Napi::Env env, Napi::Object exports) {
    exports.Set("AddonModel", DefineClass(env, "AddonModel", {
        InstanceMethod("load", &AddonModel::Load),
        InstanceMethod("info", &AddonModel::Info),
        InstanceMethod("tokenize", &AddonModel::Tokenize),
        InstanceMethod("detokenize", &AddonModel::Detokenize),
        InstanceMethod("tokenPiece", &AddonModel::TokenPiece),
        InstanceMethod("isEog", &AddonModel::IsEog),
        InstanceMethod("metaString", &AddonModel::MetaString),
        InstanceMethod("dispose", &AddonModel::Dispose),
    }));
}

}  // namespace icon2
