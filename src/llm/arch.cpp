#include "llm/arch.h"

#include <new>
#include <string>

#include "bigdl/error.h"

namespace bigdl::llm {

namespace {
struct ArchRow {
  const char* name;  // general.architecture
  detail::ModelFactory load;
};
constexpr ArchRow kArchs[] = {
    {"llama", &detail::load_llama},
};
struct HfArchRow {
  const char* model_type;  // config.json "model_type"
  detail::HfModelFactory load;
};
constexpr HfArchRow kHfArchs[] = {
    {"llama", &detail::load_llama_hf},
    {"mistral", &detail::load_llama_hf},
    {"qwen2", &detail::load_llama_hf},
};

// The KV cache and RoPE tables are sized n_ctx times a per-position size: a context
// past 2^24 positions (longer than any model's) would overflow those sizes or ask for
// more memory than a machine has, so it is refused before anything is allocated.
constexpr int64_t kMaxContext = int64_t(1) << 24;

void check_context(int64_t n_ctx, const std::string& where) {
  BIGDL_CHECK(n_ctx <= kMaxContext, ValueError, "load_model", where, " ", n_ctx,
              " exceeds the limit of ", kMaxContext, " positions");
}

// A model whose buffers do not fit in memory: one line naming the context, not bad_alloc.
template <typename Load>
std::unique_ptr<Model> load_checked(const std::string& path, const LoadOptions& options, Load load) {
  try {
    return load();
  } catch (const std::bad_alloc&) {
    throw ValueError(bigdl::detail::cat("[load_model] ", path, ": out of memory allocating the model",
                                        options.n_ctx > 0 ? " with n_ctx " + std::to_string(options.n_ctx) : "",
                                        " (the KV cache grows with the context; try a smaller --ctx)"));
  }
}
}  // namespace

std::vector<std::string> supported_architectures() {
  std::vector<std::string> r;
  for (const auto& a : kArchs) r.emplace_back(a.name);
  return r;
}

std::unique_ptr<Model> load_model(const std::string& gguf_path, const LoadOptions& options) {
  check_context(options.n_ctx, gguf_path + ": n_ctx");
  if (is_hf_checkpoint(gguf_path)) {  // a Hugging Face folder (bigdl/llm/hf.h)
    const HfCheckpoint ckpt = HfCheckpoint::open(gguf_path);
    if (options.n_ctx == 0 && ckpt.has("max_position_embeddings"))
      check_context(ckpt.get_int("max_position_embeddings"),
                    ckpt.config_path() + ": field 'max_position_embeddings'");
    for (const auto& a : kHfArchs)
      if (ckpt.model_type() == a.model_type)
        return load_checked(gguf_path, options, [&] { return a.load(ckpt, options); });
    std::string names;
    for (const auto& a : kHfArchs) names += (names.empty() ? "" : ", ") + std::string(a.model_type);
    throw FormatError(bigdl::detail::cat("[load_model] ", ckpt.config_path(), ": model_type '",
                                         ckpt.model_type(), "' is not supported (supported: ", names, ")"));
  }
  io::GgufFile file = io::GgufFile::open(gguf_path);
  const std::string& arch = file.get_string("general.architecture");
  const std::string ctx_key = arch + ".context_length";
  if (const io::GgufValue* v = file.find(ctx_key); v != nullptr && options.n_ctx == 0 && v->is_integer())
    check_context(v->as_int(gguf_path + ": metadata key '" + ctx_key + "'"),
                  gguf_path + ": metadata key '" + ctx_key + "'");
  for (const auto& a : kArchs)
    if (arch == a.name)
      return load_checked(gguf_path, options, [&] { return a.load(std::move(file), options); });
  std::string names;
  for (const auto& a : kArchs) names += (names.empty() ? "" : ", ") + std::string(a.name);
  throw FormatError(bigdl::detail::cat("[load_model] ", gguf_path, ": architecture '", arch,
                                       "' is not supported (supported: ", names, ")"));
}

int32_t argmax(const float* logits, int64_t n) {
  int64_t best = 0;
  for (int64_t i = 1; i < n; ++i)
    if (logits[i] > logits[best]) best = i;
  return static_cast<int32_t>(best);
}

std::vector<int32_t> generate_greedy(Model& model, const std::vector<int32_t>& prompt,
                                     int64_t max_new_tokens) {
  const int64_t n_ctx = model.config().n_ctx;
  const int64_t n_prompt = static_cast<int64_t>(prompt.size());
  BIGDL_CHECK(n_prompt > 0, ValueError, "llm", "the prompt is empty");
  BIGDL_CHECK(n_prompt <= n_ctx, ValueError, "llm", "prompt of ", n_prompt,
              " tokens exceeds the context length ", n_ctx);
  std::vector<int32_t> out;
  if (max_new_tokens <= 0) return out;
  const float* logits = nullptr;
  for (int64_t p = 0; p < n_prompt; ++p) logits = model.forward(prompt[p], p);
  int64_t pos = n_prompt;
  for (;;) {
    const int32_t next = argmax(logits, model.config().n_vocab);
    out.push_back(next);
    if (static_cast<int64_t>(out.size()) >= max_new_tokens || pos >= n_ctx) break;
    logits = model.forward(next, pos++);
  }
  return out;
}

}  // namespace bigdl::llm
