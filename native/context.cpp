#include "context.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "ggml-cpu.h"
#include "model.h"

namespace icon2 {

static void release_context(void * object) {
    static_cast<AddonContext *>(object)->release();
}

static int32_t get_int(const Napi::Object & o, const char * key, int32_t fallback) {
    if (!o.Has(key) || o.Get(key).IsUndefined() || o.Get(key).IsNull()) {
        return fallback;
    }
    return o.Get(key).As<Napi::Number>().Int32Value();
}

static double get_double(const Napi::Object & o, const char * key, double fallback) {
    if (!o.Has(key) || o.Get(key).IsUndefined() || o.Get(key).IsNull()) {
        return fallback;
    }
    return o.Get(key).As<Napi::Number>().DoubleValue();
}

// new AddonContext(model, {contextSize, batchSize, sequences, threads, threadsBatch})
AddonContext::AddonContext(const Napi::CallbackInfo & info) : Napi::ObjectWrap<AddonContext>(info) {
    Napi::Env env = info.Env();
    owner = unwrap_loaded_model(info[0]);
    Napi::Object options = info.Length() > 1 && info[1].IsObject() ? info[1].As<Napi::Object>() : Napi::Object::New(env);

    n_embd = llama_model_n_embd(owner->model);
    n_layer = llama_model_n_layer(owner->model);
    n_seq_max = get_int(options, "sequences", 1);
    n_batch = get_int(options, "batchSize", 512);
    if (n_seq_max < 1 || n_seq_max > 256) {
        throw Napi::RangeError::New(env, "sequences must be in [1, 256], got " + std::to_string(n_seq_max));
    }
    if (n_batch < 1) {
        throw Napi::RangeError::New(env, "batchSize must be positive");
    }

    llama_context_params params = llama_context_default_params();
    params.n_ctx = (uint32_t) get_int(options, "contextSize", 4096);
    params.n_batch = (uint32_t) n_batch;
    // One llama_decode must be one ubatch in batch order: the callback maps rows to sequences by
    // the batch we built (the tensors carry no sequence ids), and a unified KV cache keeps that order.
    params.n_ubatch = (uint32_t) n_batch;
    params.kv_unified = true;
    params.n_seq_max = (uint32_t) n_seq_max;
    params.n_outputs_max = (uint32_t) n_batch;
    params.n_outputs_max_per_seq = (uint32_t) n_batch;
    params.n_threads = get_int(options, "threads", params.n_threads);
    params.n_threads_batch = get_int(options, "threadsBatch", params.n_threads);
    params.no_perf = true;
    params.cb_eval = &AddonContext::eval_callback;
    params.cb_eval_user_data = this;
    params.abort_callback = &AddonContext::abort_callback;
    params.abort_callback_data = this;

    clear_llama_errors();
    ctx = llama_init_from_model(owner->model, params);
    if (ctx == nullptr) {
        std::string why = recent_llama_errors();
        throw Napi::Error::New(env, "llama.cpp could not create a context (contextSize " + std::to_string(params.n_ctx) + ", " + std::to_string(n_seq_max) + " sequences)" + (why.empty() ? "" : ": " + why));
    }
    n_ctx = (int32_t) llama_n_ctx(ctx);
    attach_threadpool(params.n_threads);
    batch = llama_batch_init(n_batch, 0, 1);
    steering.resize(n_seq_max);
    samplers.assign(n_seq_max, nullptr);
    plan.capture_slot.assign(n_layer, -1);
    plan.watch.assign(n_layer, 0);
    row_buffer.resize(n_embd);
    owner->contexts++;
    model_ref = Napi::Persistent(info[0].As<Napi::Object>());
    register_live(this, release_context, 0);
}

AddonContext::~AddonContext() {
    release();
}

// Without a pool of its own, ggml starts and joins threads for every graph compute, and each layer
// the callback watches splits the graph: a steered single-sequence decode then spends most of its
// time creating threads. llama.cpp's own tools attach a persistent pool the same way.
void AddonContext::attach_threadpool(int32_t n_threads) {
    ggml_backend_dev_t cpu = ggml_backend_dev_by_type(GGML_BACKEND_DEVICE_TYPE_CPU);
    if (cpu == nullptr) {
        return;
    }
    ggml_backend_reg_t reg = ggml_backend_dev_backend_reg(cpu);
    auto * new_fn = (decltype(ggml_threadpool_new) *) ggml_backend_reg_get_proc_address(reg, "ggml_threadpool_new");
    auto * free_fn = (decltype(ggml_threadpool_free) *) ggml_backend_reg_get_proc_address(reg, "ggml_threadpool_free");
    if (new_fn == nullptr || free_fn == nullptr) {
        return;
    }
    ggml_threadpool_params tpp = ggml_threadpool_params_default(n_threads);
    threadpool = new_fn(&tpp);
    if (threadpool == nullptr) {
        return;
    }
    threadpool_free = free_fn;
    llama_attach_threadpool(ctx, threadpool, nullptr);
}

void AddonContext::release() {
    unregister_live(this);
    for (auto *& s : samplers) {
        if (s != nullptr) {
            llama_sampler_free(s);
            s = nullptr;
        }
    }
    if (ctx != nullptr) {
        llama_batch_free(batch);
        llama_free(ctx);
        ctx = nullptr;
        if (threadpool != nullptr) {
            threadpool_free(threadpool);
            threadpool = nullptr;
        }
        owner->contexts--;
    }
}

void AddonContext::check_usable(Napi::Env env) {
    if (ctx == nullptr) {
        throw Napi::Error::New(env, "Context is disposed");
    }
    if (busy) {
        throw Napi::Error::New(env, "Context is busy: a decode is running (the engine serializes calls; this is a bug)");
    }
}

int32_t AddonContext::checked_seq(Napi::Env env, const Napi::Value & v) {
    int32_t seq = v.As<Napi::Number>().Int32Value();
    if (seq < 0 || seq >= n_seq_max) {
        throw Napi::RangeError::New(env, "sequence id " + std::to_string(seq) + " is outside [0, " + std::to_string(n_seq_max) + ")");
    }
    return seq;
}

// Parses "l_out-<il>" exactly; returns -1 for every other tensor name.
static int32_t layer_of(const char * name) {
    if (std::strncmp(name, "l_out-", 6) != 0) {
        return -1;
    }
    char * end = nullptr;
    long il = std::strtol(name + 6, &end, 10);
    if (end == name + 6 || *end != '\0') {
        return -1;
    }
    return (int32_t) il;
}

bool AddonContext::eval_callback(struct ggml_tensor * t, bool ask, void * user_data) {
    auto * self = static_cast<AddonContext *>(user_data);
    decode_plan & plan = self->plan;
    const int32_t il = layer_of(t->name);
    const bool watched = il >= 0 && il < self->n_layer && plan.watch[il];
    if (ask) {
        // every stop splits the graph: only the layers in use
        return watched;
    }
    if (!watched) {
        return true;
    }
    if (t->type != GGML_TYPE_F32 || t->ne[0] != self->n_embd) {
        self->callback_error = std::string("unexpected tensor ") + t->name + " (type " + ggml_type_name(t->type) + ", ne0 " + std::to_string(t->ne[0]) + ")";
        return false;
    }
    // All rows of the batch, except after the last block's output selection, which keeps only
    // the output rows (in batch order).
    const int64_t n_rows = t->ne[1];
    bool rows_are_outputs;
    if (n_rows == plan.n_tokens) {
        rows_are_outputs = false;
    } else if (n_rows == plan.n_outputs) {
        rows_are_outputs = true;
    } else {
        self->callback_error = std::string(t->name) + " has " + std::to_string(n_rows) + " rows; expected " + std::to_string(plan.n_tokens) + " (batch) or " + std::to_string(plan.n_outputs) + " (outputs): the batch was split into several ubatches";
        return false;
    }
    ggml_backend_buffer_t buffer = t->view_src != nullptr ? t->view_src->buffer : t->buffer;
    const bool host = buffer != nullptr && ggml_backend_buffer_is_host(buffer);
    const size_t row_bytes = (size_t) self->n_embd * sizeof(float);
    const int32_t n_embd = self->n_embd;

    for (int64_t r = 0; r < n_rows; r++) {
        const int32_t b = rows_are_outputs ? plan.output_rows[r] : (int32_t) r;
        if (!plan.row_steer[b]) {
            continue;
        }
        const seq_steering & s = self->steering[plan.row_seq[b]];
        if (!s.any || !s.layer_on[il]) {
            continue;
        }
        const float * v = s.vectors.data() + (size_t) il * n_embd;
        if (host) {
            float * row = reinterpret_cast<float *>(static_cast<char *>(t->data) + r * t->nb[1]);
            for (int32_t k = 0; k < n_embd; k++) {
                row[k] += v[k];
            }
        } else {
            float * row = self->row_buffer.data();
            ggml_backend_tensor_get(t, row, r * t->nb[1], row_bytes);
            for (int32_t k = 0; k < n_embd; k++) {
                row[k] += v[k];
            }
            ggml_backend_tensor_set(t, row, r * t->nb[1], row_bytes);
        }
    }

    const int32_t slot = plan.capture_slot[il];
    if (slot >= 0) {
        for (int32_t o = 0; o < plan.n_outputs; o++) {
            const int64_t r = rows_are_outputs ? o : plan.output_rows[o];
            float * dst = plan.captured.data() + ((size_t) o * plan.n_capture_layers + slot) * n_embd;
            if (host) {
                std::memcpy(dst, static_cast<char *>(t->data) + r * t->nb[1], row_bytes);
            } else {
                ggml_backend_tensor_get(t, dst, r * t->nb[1], row_bytes);
            }
        }
    }
    return true;
}

bool AddonContext::abort_callback(void * user_data) {
    return static_cast<AddonContext *>(user_data)->abort_requested.load();
}

int AddonContext::decode_prepared(std::string & error) {
    callback_error.clear();
    if (abort_requested) {
        error = "aborted";
        return 2;
    }
    clear_llama_errors();
    const int rc = llama_decode(ctx, batch);
    if (!callback_error.empty()) {
        error = "steering/capture callback failed: " + callback_error;
        return -100;
    }
    if (rc != 0) {
        if (rc == 1) {
            error = "no room in the KV cache for this batch: the context (" + std::to_string(n_ctx) + " tokens shared by " + std::to_string(n_seq_max) + " sequences) is too small; raise contextSize or run fewer sequences at once";
        } else if (rc == 2) {
            error = "aborted";
        } else {
            std::string why = recent_llama_errors();
            error = "llama_decode failed with code " + std::to_string(rc) + (why.empty() ? "" : ": " + why);
        }
        return rc;
    }
    for (int32_t o = 0; o < plan.n_outputs; o++) {
        const int32_t seq = sample_seq[o];
        if (seq < 0) {
            sampled[o] = -1;
            continue;
        }
        if (samplers[seq] == nullptr) {
            error = "no sampler set for sequence " + std::to_string(seq);
            return -101;
        }
        sampled[o] = llama_sampler_sample(samplers[seq], ctx, plan.output_rows[o]);
    }
    return 0;
}

class DecodeWorker : public Napi::AsyncWorker {
  public:
    DecodeWorker(Napi::Env env, AddonContext * owner) :
        Napi::AsyncWorker(env, "icon2.decode"), owner(owner), deferred(Napi::Promise::Deferred::New(env)) {
        owner->Ref();
        owner->busy = true;
    }
    ~DecodeWorker() override {
        owner->busy = false;
        owner->Unref();
    }
    Napi::Promise promise() { return deferred.Promise(); }

  protected:
    void Execute() override {
        try {
            rc = owner->decode_prepared(error);
            if (rc != 0) {
                SetError(error);
            }
        } catch (const std::exception & e) {
            SetError(std::string("decode failed: ") + e.what());
        }
    }
    void OnOK() override {
        Napi::Env env = Env();
        owner->busy = false;
        Napi::Object result = Napi::Object::New(env);
        const decode_plan & plan = owner->plan;
        if (plan.n_capture_layers > 0) {
            Napi::Float32Array captured = Napi::Float32Array::New(env, plan.captured.size());
            std::memcpy(captured.Data(), plan.captured.data(), plan.captured.size() * sizeof(float));
            result.Set("captured", captured);
        } else {
            result.Set("captured", env.Null());
        }
        Napi::Int32Array sampled = Napi::Int32Array::New(env, owner->sampled.size());
        for (size_t i = 0; i < owner->sampled.size(); i++) {
            sampled[i] = owner->sampled[i];
        }
        result.Set("sampled", sampled);
        deferred.Resolve(result);
    }
    void OnError(const Napi::Error & e) override {
        owner->busy = false;
        Napi::Error err = Napi::Error::New(Env(), e.Message());
        err.Set("code", Napi::Number::New(Env(), rc));
        deferred.Reject(err.Value());
    }

  private:
    AddonContext * owner;
    Napi::Promise::Deferred deferred;
    std::string error;
    int rc = 0;
};

// decode(tokens, positions, seqIds, flags, captureLayers, sampleSeqs) -> Promise<{captured, sampled}>
// flags per token: bit 0 = output (logits, capture, sampling), bit 1 = steer this row.
// captured: [n_outputs][captureLayers.length][n_embd]; sampleSeqs[o]: sampler sequence for output o or -1.
Napi::Value AddonContext::Decode(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    check_usable(env);
    Napi::Int32Array tokens = info[0].As<Napi::Int32Array>();
    Napi::Int32Array positions = info[1].As<Napi::Int32Array>();
    Napi::Int32Array seq_ids = info[2].As<Napi::Int32Array>();
    Napi::Uint8Array flags = info[3].As<Napi::Uint8Array>();
    const size_t n = tokens.ElementLength();
    if (n == 0 || (int32_t) n > n_batch) {
        throw Napi::RangeError::New(env, "a batch holds 1.." + std::to_string(n_batch) + " tokens, got " + std::to_string(n));
    }
    if (positions.ElementLength() != n || seq_ids.ElementLength() != n || flags.ElementLength() != n) {
        throw Napi::RangeError::New(env, "tokens, positions, seqIds and flags must have the same length");
    }
    const int32_t n_vocab = llama_vocab_n_tokens(owner->vocab);
    plan.n_tokens = (int32_t) n;
    plan.row_seq.resize(n);
    plan.row_steer.resize(n);
    plan.output_rows.clear();
    std::fill(plan.watch.begin(), plan.watch.end(), 0);
    for (size_t i = 0; i < n; i++) {
        if (tokens[i] < 0 || tokens[i] >= n_vocab) {
            throw Napi::RangeError::New(env, "token " + std::to_string(tokens[i]) + " is outside the vocabulary [0, " + std::to_string(n_vocab) + ")");
        }
        const int32_t seq = seq_ids[i];
        if (seq < 0 || seq >= n_seq_max) {
            throw Napi::RangeError::New(env, "sequence id " + std::to_string(seq) + " is outside [0, " + std::to_string(n_seq_max) + ")");
        }
        batch.token[i] = tokens[i];
        batch.pos[i] = positions[i];
        batch.n_seq_id[i] = 1;
        batch.seq_id[i][0] = seq;
        batch.logits[i] = (flags[i] & 1) ? 1 : 0;
        plan.row_seq[i] = seq;
        plan.row_steer[i] = (flags[i] & 2) ? 1 : 0;
        if (flags[i] & 1) {
            plan.output_rows.push_back((int32_t) i);
        }
        if (plan.row_steer[i] && steering[seq].any) {
            for (int32_t il = 0; il < n_layer; il++) {
                plan.watch[il] |= steering[seq].layer_on[il];
            }
        }
    }
    batch.n_tokens = (int32_t) n;
    plan.n_outputs = (int32_t) plan.output_rows.size();

    std::fill(plan.capture_slot.begin(), plan.capture_slot.end(), -1);
    plan.n_capture_layers = 0;
    if (info.Length() > 4 && info[4].IsTypedArray()) {
        Napi::Int32Array layers = info[4].As<Napi::Int32Array>();
        for (size_t k = 0; k < layers.ElementLength(); k++) {
            const int32_t il = layers[k];
            if (il < 0 || il >= n_layer) {
                throw Napi::RangeError::New(env, "capture layer " + std::to_string(il) + " is outside [0, " + std::to_string(n_layer) + ")");
            }
            if (plan.capture_slot[il] >= 0) {
                throw Napi::RangeError::New(env, "capture layer " + std::to_string(il) + " is listed twice");
            }
            plan.capture_slot[il] = (int32_t) k;
            plan.watch[il] = 1;
        }
        plan.n_capture_layers = (int32_t) layers.ElementLength();
    }
    plan.captured.assign((size_t) plan.n_outputs * plan.n_capture_layers * n_embd, 0.0f);

    sample_seq.assign(plan.n_outputs, -1);
    if (info.Length() > 5 && info[5].IsTypedArray()) {
        Napi::Int32Array seqs = info[5].As<Napi::Int32Array>();
        if ((int32_t) seqs.ElementLength() != plan.n_outputs) {
            throw Napi::RangeError::New(env, "sampleSeqs must have one entry per output token");
        }
        for (int32_t o = 0; o < plan.n_outputs; o++) {
            const int32_t seq = seqs[o];
            if (seq >= n_seq_max || (seq >= 0 && samplers[seq] == nullptr)) {
                throw Napi::RangeError::New(env, "no sampler for sequence " + std::to_string(seq));
            }
            sample_seq[o] = seq < 0 ? -1 : seq;
        }
    }
    sampled.assign(plan.n_outputs, -1);

    auto * worker = new DecodeWorker(env, this);
    Napi::Promise promise = worker->promise();
    worker->Queue();
    return promise;
}

// getLogits(batchRow): copy of the logits of an output row of the last decode.
Napi::Value AddonContext::GetLogits(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    check_usable(env);
    const int32_t row = info[0].As<Napi::Number>().Int32Value();
    if (row < 0 || row >= plan.n_tokens || batch.logits[row] == 0) {
        throw Napi::RangeError::New(env, "row " + std::to_string(row) + " of the last batch has no logits");
    }
    const float * logits = llama_get_logits_ith(ctx, row);
    if (logits == nullptr) {
        throw Napi::Error::New(env, "no logits for row " + std::to_string(row));
    }
    const int32_t n_vocab = llama_vocab_n_tokens(owner->vocab);
    Napi::Float32Array out = Napi::Float32Array::New(env, n_vocab);
    std::memcpy(out.Data(), logits, n_vocab * sizeof(float));
    return out;
}

// tokenLogProbs(batchRows, tokens) -> Float64Array: log p(tokens[k]) under the logits of output row
// batchRows[k] of the last decode (log-softmax in double), so scoring a text never copies whole
// vocabulary rows to JavaScript.
Napi::Value AddonContext::TokenLogProbs(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    check_usable(env);
    Napi::Int32Array rows = info[0].As<Napi::Int32Array>();
    Napi::Int32Array tokens = info[1].As<Napi::Int32Array>();
    const size_t n = rows.ElementLength();
    if (tokens.ElementLength() != n) {
        throw Napi::RangeError::New(env, "batchRows and tokens must have the same length");
    }
    const int32_t n_vocab = llama_vocab_n_tokens(owner->vocab);
    Napi::Float64Array out = Napi::Float64Array::New(env, n);
    for (size_t k = 0; k < n; k++) {
        const int32_t row = rows[k];
        const int32_t token = tokens[k];
        if (row < 0 || row >= plan.n_tokens || batch.logits[row] == 0) {
            throw Napi::RangeError::New(env, "row " + std::to_string(row) + " of the last batch has no logits");
        }
        if (token < 0 || token >= n_vocab) {
            throw Napi::RangeError::New(env, "token " + std::to_string(token) + " is outside the vocabulary [0, " + std::to_string(n_vocab) + ")");
        }
        const float * logits = llama_get_logits_ith(ctx, row);
        if (logits == nullptr) {
            throw Napi::Error::New(env, "no logits for row " + std::to_string(row));
        }
        double max_logit = logits[0];
        for (int32_t v = 1; v < n_vocab; v++) {
            max_logit = std::max(max_logit, (double) logits[v]);
        }
        double sum = 0.0;
        for (int32_t v = 0; v < n_vocab; v++) {
            sum += std::exp((double) logits[v] - max_logit);
        }
        out[k] = (double) logits[token] - max_logit - std::log(sum);
    }
    return out;
}

// setSteering(seqId, il, vector, scale): rows of seqId flagged "steer" get scale·vector added at l_out-<il>.
Napi::Value AddonContext::SetSteering(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    check_usable(env);
    const int32_t seq = checked_seq(env, info[0]);
    const int32_t il = info[1].As<Napi::Number>().Int32Value();
    if (il < 0 || il >= n_layer) {
        throw Napi::RangeError::New(env, "steering layer " + std::to_string(il) + " is outside [0, " + std::to_string(n_layer) + ")");
    }
    Napi::Float32Array vec = info[2].As<Napi::Float32Array>();
    if ((int32_t) vec.ElementLength() != n_embd) {
        throw Napi::RangeError::New(env, "steering vector has " + std::to_string(vec.ElementLength()) + " values; the model's n_embd is " + std::to_string(n_embd));
    }
    const double scale = info[3].As<Napi::Number>().DoubleValue();
    if (!std::isfinite(scale)) {
        throw Napi::RangeError::New(env, "steering scale must be a finite number");
    }
    seq_steering & s = steering[seq];
    if (s.vectors.empty()) {
        s.vectors.assign((size_t) n_layer * n_embd, 0.0f);
        s.layer_on.assign(n_layer, 0);
    }
    float * dst = s.vectors.data() + (size_t) il * n_embd;
    for (int32_t k = 0; k < n_embd; k++) {
        const float v = vec[k];
        if (!std::isfinite(v)) {
            throw Napi::RangeError::New(env, "steering vector holds a non-finite value at index " + std::to_string(k));
        }
        dst[k] = (float) (scale * v);
    }
    s.layer_on[il] = 1;
    s.any = true;
    return env.Undefined();
}

Napi::Value AddonContext::ClearSteering(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    check_usable(env);
    const int32_t seq = checked_seq(env, info[0]);
    steering[seq].any = false;
    std::fill(steering[seq].layer_on.begin(), steering[seq].layer_on.end(), 0);
    return env.Undefined();
}

// setSampler(seqId, {temperature, topK, topP, minP, repeatPenalty, repeatLastN, seed}); temperature <= 0 is greedy.
Napi::Value AddonContext::SetSampler(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    check_usable(env);
    const int32_t seq = checked_seq(env, info[0]);
    Napi::Object o = info[1].As<Napi::Object>();
    const double temperature = get_double(o, "temperature", 0.0);
    const int32_t top_k = get_int(o, "topK", 0);
    const double top_p = get_double(o, "topP", 1.0);
    const double min_p = get_double(o, "minP", 0.0);
    const double repeat_penalty = get_double(o, "repeatPenalty", 1.0);
    const int32_t repeat_last_n = get_int(o, "repeatLastN", 64);
    const double seed = get_double(o, "seed", 0);
    if (!std::isfinite(temperature) || !std::isfinite(top_p) || !std::isfinite(min_p) || !std::isfinite(repeat_penalty)) {
        throw Napi::RangeError::New(env, "sampling parameters must be finite numbers");
    }
    if (samplers[seq] != nullptr) {
        llama_sampler_free(samplers[seq]);
    }
    llama_sampler_chain_params cp = llama_sampler_chain_default_params();
    cp.no_perf = true;
    llama_sampler * chain = llama_sampler_chain_init(cp);
    if (repeat_penalty != 1.0) {
        llama_sampler_chain_add(chain, llama_sampler_init_penalties(llama_vocab_n_tokens(owner->vocab), repeat_last_n, (float) repeat_penalty, 0.0f, 0.0f));
    }
    if (temperature <= 0.0) {
        llama_sampler_chain_add(chain, llama_sampler_init_greedy());
    } else {
        if (top_k > 0) {
            llama_sampler_chain_add(chain, llama_sampler_init_top_k(top_k));
        }
        if (top_p < 1.0) {
            llama_sampler_chain_add(chain, llama_sampler_init_top_p((float) top_p, 1));
        }
        if (min_p > 0.0) {
            llama_sampler_chain_add(chain, llama_sampler_init_min_p((float) min_p, 1));
        }
        llama_sampler_chain_add(chain, llama_sampler_init_temp((float) temperature));
        llama_sampler_chain_add(chain, llama_sampler_init_dist((uint32_t) seed));
    }
    samplers[seq] = chain;
    return env.Undefined();
}

// samplerAccept(seqId, tokens): feed prompt tokens to the repetition penalty's history.
Napi::Value AddonContext::SamplerAccept(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    check_usable(env);
    const int32_t seq = checked_seq(env, info[0]);
    if (samplers[seq] == nullptr) {
        throw Napi::Error::New(env, "no sampler for sequence " + std::to_string(seq));
    }
    Napi::Int32Array tokens = info[1].As<Napi::Int32Array>();
    for (size_t i = 0; i < tokens.ElementLength(); i++) {
        llama_sampler_accept(samplers[seq], tokens[i]);
    }
    return env.Undefined();
}

Napi::Value AddonContext::ClearSampler(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    check_usable(env);
    const int32_t seq = checked_seq(env, info[0]);
    if (samplers[seq] != nullptr) {
        llama_sampler_free(samplers[seq]);
        samplers[seq] = nullptr;
    }
    return env.Undefined();
}

// memorySeqRm(seqId, p0, p1): remove positions [p0, p1) of a sequence (p < 0: open end).
Napi::Value AddonContext::MemorySeqRm(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    check_usable(env);
    const int32_t seq = checked_seq(env, info[0]);
    const bool ok = llama_memory_seq_rm(llama_get_memory(ctx), seq, info[1].As<Napi::Number>().Int32Value(), info[2].As<Napi::Number>().Int32Value());
    return Napi::Boolean::New(env, ok);
}

// memorySeqCp(src, dst, p0, p1): share the KV cells of src's positions [p0, p1) with dst.
Napi::Value AddonContext::MemorySeqCp(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    check_usable(env);
    const int32_t src = checked_seq(env, info[0]);
    const int32_t dst = checked_seq(env, info[1]);
    llama_memory_seq_cp(llama_get_memory(ctx), src, dst, info[2].As<Napi::Number>().Int32Value(), info[3].As<Napi::Number>().Int32Value());
    return env.Undefined();
}

Napi::Value AddonContext::MemoryClear(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    check_usable(env);
    llama_memory_clear(llama_get_memory(ctx), true);
    return env.Undefined();
}

// setAdapterCvec(data | null, ilStart, ilEnd): llama.cpp's own control-vector path (all
// sequences, all tokens); data is [n_layer - 1][n_embd] starting at block 1. Reference for tests.
Napi::Value AddonContext::SetAdapterCvec(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    check_usable(env);
    int32_t rc;
    if (info[0].IsNull() || info[0].IsUndefined()) {
        rc = llama_set_adapter_cvec(ctx, nullptr, 0, n_embd, -1, -1);
    } else {
        Napi::Float32Array data = info[0].As<Napi::Float32Array>();
        rc = llama_set_adapter_cvec(ctx, data.Data(), data.ElementLength(), n_embd, info[1].As<Napi::Number>().Int32Value(), info[2].As<Napi::Number>().Int32Value());
    }
    if (rc != 0) {
        throw Napi::Error::New(env, "llama_set_adapter_cvec failed: " + recent_llama_errors());
    }
    return env.Undefined();
}

// abort(flag): while true, decodes stop early and fail with "aborted".
Napi::Value AddonContext::Abort(const Napi::CallbackInfo & info) {
    abort_requested = info.Length() == 0 || info[0].ToBoolean().Value();
    return info.Env().Undefined();
}

Napi::Value AddonContext::Dispose(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    if (busy) {
        throw Napi::Error::New(env, "Context is busy: wait for the running decode before disposing");
    }
    release();
    if (!model_ref.IsEmpty()) {
        model_ref.Reset();
    }
    return env.Undefined();
}

void AddonContext::Register(Napi::Env env, Napi::Object exports) {
    exports.Set("AddonContext", DefineClass(env, "AddonContext", {
        InstanceMethod("decode", &AddonContext::Decode),
        InstanceMethod("getLogits", &AddonContext::GetLogits),
        InstanceMethod("tokenLogProbs", &AddonContext::TokenLogProbs),
        InstanceMethod("setSteering", &AddonContext::SetSteering),
        InstanceMethod("clearSteering", &AddonContext::ClearSteering),
        InstanceMethod("setSampler", &AddonContext::SetSampler),
        InstanceMethod("samplerAccept", &AddonContext::SamplerAccept),
        InstanceMethod("clearSampler", &AddonContext::ClearSampler),
        InstanceMethod("memorySeqRm", &AddonContext::MemorySeqRm),
        InstanceMethod("memorySeqCp", &AddonContext::MemorySeqCp),
        InstanceMethod("memoryClear", &AddonContext::MemoryClear),
        InstanceMethod("setAdapterCvec", &AddonContext::SetAdapterCvec),
        InstanceMethod("abort", &AddonContext::Abort),
        InstanceMethod("dispose", &AddonContext::Dispose),
    }));
}

}  // namespace icon2
