// Registration and process-wide state only.
#include <atomic>
#include <cstdio>
#include <deque>
#include <map>
#include <mutex>
#include <vector>

#include "common.h"
#include "context.h"
#include "ggml-backend.h"
#include "model.h"

namespace icon2 {

static std::mutex g_log_mutex;
static std::deque<std::string> g_log_lines;
static std::atomic<int> g_log_print_level{GGML_LOG_LEVEL_NONE};  // NONE = print nothing
static std::string g_log_partial;

static void log_callback(ggml_log_level level, const char * text, void * /*user_data*/) {
    std::lock_guard<std::mutex> lock(g_log_mutex);
    if (level == GGML_LOG_LEVEL_CONT) {
        g_log_partial += text;
    } else {
        g_log_partial = text;
        g_log_partial.insert(0, level == GGML_LOG_LEVEL_ERROR ? "E " : level == GGML_LOG_LEVEL_WARN ? "W " : "I ");
    }
    const int print_level = g_log_print_level.load();
    if (print_level != GGML_LOG_LEVEL_NONE && (level >= print_level || level == GGML_LOG_LEVEL_CONT)) {
        fputs(text, stderr);
    }
    if (!g_log_partial.empty() && g_log_partial.back() == '\n') {
        if (g_log_partial[0] == 'E' || g_log_partial[0] == 'W') {
            g_log_partial.pop_back();
            g_log_lines.push_back(g_log_partial.substr(2));
            if (g_log_lines.size() > 8) {
                g_log_lines.pop_front();
            }
        }
        g_log_partial.clear();
    }
}

std::string recent_llama_errors() {
    std::lock_guard<std::mutex> lock(g_log_mutex);
    std::string out;
    for (const auto & line : g_log_lines) {
        if (!out.empty()) {
            out += "; ";
        }
        out += line;
    }
    return out;
}

void clear_llama_errors() {
    std::lock_guard<std::mutex> lock(g_log_mutex);
    g_log_lines.clear();
}

struct live_entry {
    void (*release)(void *);
    int order;
};
static std::mutex g_live_mutex;
static std::map<void *, live_entry> g_live;

void register_live(void * object, void (*release)(void *), int order) {
    std::lock_guard<std::mutex> lock(g_live_mutex);
    g_live[object] = {release, order};
}

void unregister_live(void * object) {
    std::lock_guard<std::mutex> lock(g_live_mutex);
    g_live.erase(object);
}

static void release_all_live(void *) {
    std::vector<std::pair<void *, live_entry>> items;
    {
        std::lock_guard<std::mutex> lock(g_live_mutex);
        items.assign(g_live.begin(), g_live.end());
    }
    // contexts (order 0) before models (order 1)
    for (int order = 0; order <= 1; order++) {
        for (auto & item : items) {
            if (item.second.order == order) {
                item.second.release(item.first);
            }
        }
    }
    llama_backend_free();
}

static bool g_backends_loaded = false;

// init(binsDir?: string, logLevel: number): loads ggml backends from node-llama-cpp's prebuilt folder
// (dynamic backends are not found without a path) or uses the statically linked ones.
static Napi::Value Init(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    if (info.Length() > 1 && info[1].IsNumber()) {
        g_log_print_level = info[1].As<Napi::Number>().Int32Value();
    }
    if (!g_backends_loaded) {
        if (info.Length() > 0 && info[0].IsString()) {
            std::string dir = info[0].As<Napi::String>().Utf8Value();
            ggml_backend_load_all_from_path(dir.c_str());
        } else {
            ggml_backend_load_all();
        }
        llama_backend_init();
        g_backends_loaded = true;
    }
    return env.Undefined();
}

static Napi::Value SetLogLevel(const Napi::CallbackInfo & info) {
    g_log_print_level = info[0].As<Napi::Number>().Int32Value();
    return info.Env().Undefined();
}

// devices(): what ggml can compute on, for backend selection and messages.
static Napi::Value Devices(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    Napi::Array out = Napi::Array::New(env);
    for (size_t i = 0; i < ggml_backend_dev_count(); i++) {
        ggml_backend_dev_t dev = ggml_backend_dev_get(i);
        Napi::Object d = Napi::Object::New(env);
        d.Set("name", ggml_backend_dev_name(dev));
        d.Set("description", ggml_backend_dev_description(dev));
        const auto type = ggml_backend_dev_type(dev);
        d.Set("type", type == GGML_BACKEND_DEVICE_TYPE_CPU ? "cpu" : type == GGML_BACKEND_DEVICE_TYPE_GPU ? "gpu" : type == GGML_BACKEND_DEVICE_TYPE_IGPU ? "igpu" : "accel");
        size_t free_mem = 0, total_mem = 0;
        ggml_backend_dev_memory(dev, &free_mem, &total_mem);
        d.Set("memoryTotal", Napi::Number::New(env, (double) total_mem));
        d.Set("memoryFree", Napi::Number::New(env, (double) free_mem));
        out.Set(out.Length(), d);
    }
    return out;
}

static Napi::Value SystemInfo(const Napi::CallbackInfo & info) {
    return Napi::String::New(info.Env(), llama_print_system_info());
}

static Napi::Object RegisterModule(Napi::Env env, Napi::Object exports) {
    llama_log_set(log_callback, nullptr);
    exports.Set("init", Napi::Function::New(env, Init));
    exports.Set("setLogLevel", Napi::Function::New(env, SetLogLevel));
    exports.Set("devices", Napi::Function::New(env, Devices));
    exports.Set("systemInfo", Napi::Function::New(env, SystemInfo));
    AddonModel::Register(env, exports);
    AddonContext::Register(env, exports);
    napi_add_env_cleanup_hook(env, release_all_live, nullptr);
    return exports;
}

}  // namespace icon2

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
    return icon2::RegisterModule(env, exports);
}

NODE_API_MODULE(icon2, Init)
