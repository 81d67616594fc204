// The architecture registry (arch.h) and the config readers the model files share.
#include "llm/arch.h"

#include <cmath>
#include <string>

#include "bigdl/error.h"
#include "bigdl/io/gguf.h"

namespace bigdl::llm::detail {

// One line per architecture: its ArchDef is `kArch_<name>` in models/<name>.cpp. GGUF
// loading takes the first gguf_primary entry for a general.architecture; HF loading the
// entry that lists the config.json model_type.
#define BIGDL_LLM_ARCHS(X) \
  X(llama)                 \
  X(mistral)               \
  X(mixtral)               \
  X(qwen2)                 \
  X(qwen2moe)              \
  X(qwen3)                 \
  X(phi3)                  \
  X(gemma)                 \
  X(gemma2)                \
  X(gpt2)                  \
  X(gptneox)               \
  X(falcon)                \
  X(starcoder)             \
  X(starcoder2)            \
  X(mpt)                   \
  X(bloom)                 \
  X(stablelm)              \
  X(olmo)                  \
  X(baichuan)              \
  X(chatglm)               \
  X(bert)

#define BIGDL_LLM_ARCH_DECL(name) extern const ArchDef kArch_##name;
BIGDL_LLM_ARCHS(BIGDL_LLM_ARCH_DECL)
#undef BIGDL_LLM_ARCH_DECL

namespace {
#define BIGDL_LLM_ARCH_PTR(name) &kArch_##name,
const ArchDef* const kArchs[] = {BIGDL_LLM_ARCHS(BIGDL_LLM_ARCH_PTR)};
#undef BIGDL_LLM_ARCH_PTR

constexpr const char* kOp = "load_model";
}  // namespace

const ArchDef* find_gguf_arch(const std::string& arch) {
  for (const ArchDef* d : kArchs)
    if (d->gguf_primary && arch == d->gguf_arch) return d;
  return nullptr;
}

const ArchDef* find_hf_arch(const std::string& model_type) {
  for (const ArchDef* d : kArchs)
    for (const char* t : d->hf_types)
      if (model_type == t) return d;
  return nullptr;
}

std::string gguf_arch_names() {
  std::string r;
  for (const ArchDef* d : kArchs)
    if (d->gguf_primary) r += (r.empty() ? "" : ", ") + std::string(d->gguf_arch);
  return r;
}

std::vector<HfTensor> hf_decoder_tensors(const HfDecoderLayout& l) {
  const HfXform q = l.rope_rows ? HfXform::rope_q : HfXform::none;
  const HfXform k = l.rope_rows ? HfXform::rope_k : HfXform::none;
  return {
      {"token_embd.weight", "model.embed_tokens.weight"},
      {"output_norm.weight", "model.norm.weight", l.norm},
      {"output_norm.bias", "model.norm.bias"},
      {"output.weight", "lm_head.weight"},
      {"blk.%d.attn_norm.weight", "model.layers.%d.input_layernorm.weight", l.norm},
      {"blk.%d.attn_norm.bias", "model.layers.%d.input_layernorm.bias"},
      {"blk.%d.attn_q.weight", "model.layers.%d.self_attn.q_proj.weight", q},
      {"blk.%d.attn_k.weight", "model.layers.%d.self_attn.k_proj.weight", k},
      {"blk.%d.attn_v.weight", "model.layers.%d.self_attn.v_proj.weight"},
      {"blk.%d.attn_output.weight", "model.layers.%d.self_attn.o_proj.weight"},
      {"blk.%d.attn_q.bias", "model.layers.%d.self_attn.q_proj.bias", q},
      {"blk.%d.attn_k.bias", "model.layers.%d.self_attn.k_proj.bias", k},
      {"blk.%d.attn_v.bias", "model.layers.%d.self_attn.v_proj.bias"},
      {"blk.%d.attn_output.bias", "model.layers.%d.self_attn.o_proj.bias"},
      {"blk.%d.ffn_norm.weight", "model.layers.%d.post_attention_layernorm.weight", l.norm},
      {"blk.%d.ffn_norm.bias", "model.layers.%d.post_attention_layernorm.bias"},
  };
}

std::vector<HfTensor> hf_gated_mlp_tensors() {
  return {
      {"blk.%d.ffn_gate.weight", "model.layers.%d.mlp.gate_proj.weight"},
      {"blk.%d.ffn_up.weight", "model.layers.%d.mlp.up_proj.weight"},
      {"blk.%d.ffn_down.weight", "model.layers.%d.mlp.down_proj.weight"},
      {"blk.%d.ffn_gate.bias", "model.layers.%d.mlp.gate_proj.bias"},
      {"blk.%d.ffn_up.bias", "model.layers.%d.mlp.up_proj.bias"},
      {"blk.%d.ffn_down.bias", "model.layers.%d.mlp.down_proj.bias"},
  };
}

std::vector<HfTensor> hf_join(std::initializer_list<std::vector<HfTensor>> parts) {
  std::vector<HfTensor> t;
  for (const auto& p : parts) t.insert(t.end(), p.begin(), p.end());
  return t;
}

std::string hf_type_names() {
  std::string r;
  for (const ArchDef* d : kArchs)
    for (const char* t : d->hf_types) r += (r.empty() ? "" : ", ") + std::string(t);
  return r;
}

// ---- GgufMeta ----

bool GgufMeta::has(const std::string& key) const { return f_.find(arch_ + "." + key) != nullptr; }

int64_t GgufMeta::get_int(const std::string& key) const { return f_.get_int(arch_ + "." + key); }
int64_t GgufMeta::get_int(const std::string& key, int64_t fallback) const {
  return has(key) ? get_int(key) : fallback;
}
double GgufMeta::get_float(const std::string& key) const { return f_.get_float(arch_ + "." + key); }
double GgufMeta::get_float(const std::string& key, double fallback) const {
  return has(key) ? get_float(key) : fallback;
}
bool GgufMeta::get_bool(const std::string& key, bool fallback) const {
  return has(key) ? f_.get_bool(arch_ + "." + key) : fallback;
}
std::string GgufMeta::get_string(const std::string& key, const std::string& fallback) const {
  return has(key) ? f_.get_string(arch_ + "." + key) : fallback;
}

// ---- shared config readers ----

void check_config(const ModelConfig& c, const std::string& where) {
  const auto positive = [&](int64_t v, const char* what) {
    BIGDL_CHECK(v > 0, FormatError, kOp, where, ": ", what, " is ", v, ", expected > 0");
  };
  positive(c.n_vocab, "the vocabulary size");
  positive(c.n_embd, "the embedding length");
  positive(c.n_layer, "the layer count");
  positive(c.n_head, "the head count");
  positive(c.n_head_kv, "the KV head count");
  positive(c.head_dim, "the head size");
  positive(c.n_ctx_train, "the context length");
  if (c.n_expert == 0) positive(c.n_ff, "the feed-forward length");
  BIGDL_CHECK(c.n_head % c.n_head_kv == 0, FormatError, kOp, where, ": head count ", c.n_head,
              " is not a multiple of the KV head count ", c.n_head_kv);
  BIGDL_CHECK(c.n_rot >= 0 && c.n_rot <= c.head_dim && c.n_rot % 2 == 0, FormatError, kOp, where,
              ": rotary dimensions ", c.n_rot, " must be even and at most the head size ", c.head_dim);
  BIGDL_CHECK(c.n_expert >= 0 && c.n_expert_used >= 0 && c.n_expert_used <= c.n_expert &&
                  (c.n_expert == 0 || c.n_expert_used > 0),
              FormatError, kOp, where, ": ", c.n_expert_used, " experts used of ", c.n_expert,
              " is not a valid mixture of experts");
  BIGDL_CHECK(std::isfinite(c.norm_eps) && c.norm_eps >= 0, FormatError, kOp, where, ": norm epsilon ", c.norm_eps,
              " is not a finite value >= 0");
  BIGDL_CHECK(std::isfinite(c.rope_freq_base) && c.rope_freq_base > 0, FormatError, kOp, where, ": rope base ",
              c.rope_freq_base, " is not a finite value > 0");
  BIGDL_CHECK(c.sliding_window >= 0, FormatError, kOp, where, ": sliding window ", c.sliding_window, " is negative");
}

int64_t hf_positive(const HfCheckpoint& ck, const char* field) {
  const int64_t v = ck.get_int(field);
  BIGDL_CHECK(v > 0, FormatError, kOp, ck.config_path(), ": field '", field, "' is ", v, ", expected > 0");
  return v;
}

int64_t hf_positive(const HfCheckpoint& ck, const char* field, int64_t fallback) {
  return ck.has(field) ? hf_positive(ck, field) : fallback;
}

Act hf_act(const HfCheckpoint& ck, const char* field, const char* fallback) {
  const std::string a = ck.get_string(field, fallback);
  if (a == "silu" || a == "swish") return Act::silu;
  if (a == "gelu") return Act::gelu_erf;
  if (a == "gelu_new" || a == "gelu_pytorch_tanh" || a == "gelu_fast") return Act::gelu_tanh;
  if (a == "relu") return Act::relu;
  throw FormatError(bigdl::detail::cat("[", kOp, "] ", ck.config_path(), ": field '", field, "' is '", a,
                                       "', not supported (silu, gelu, gelu_new, gelu_pytorch_tanh, gelu_fast, relu)"));
}

void hf_unsupported(const HfCheckpoint& ck, const std::string& field, const std::string& value,
                    const std::string& why) {
  throw FormatError(bigdl::detail::cat("[", kOp, "] ", ck.config_path(), ": field '", field, "' is ", value,
                                       ", not supported (", why, ")"));
}

void read_hf_common(const HfCheckpoint& ck, ModelConfig& c, ArchSpec& spec, const char* eps_key, bool tie_default) {
  const std::string cfg = ck.config_path();
  const auto need_positive = [&](const char* f) { return hf_positive(ck, f); };
  c.n_vocab = need_positive("vocab_size");
  c.n_embd = need_positive("hidden_size");
  c.n_layer = need_positive("num_hidden_layers");
  c.n_head = need_positive("num_attention_heads");
  c.n_head_kv = ck.has("num_key_value_heads") ? need_positive("num_key_value_heads") : c.n_head;
  if (ck.has("intermediate_size")) c.n_ff = need_positive("intermediate_size");
  c.n_ctx_train = need_positive("max_position_embeddings");
  BIGDL_CHECK(c.n_embd % c.n_head == 0 || ck.has("head_dim"), FormatError, kOp, cfg, ": hidden_size ", c.n_embd,
              " is not a multiple of num_attention_heads ", c.n_head);
  c.head_dim = ck.has("head_dim") ? need_positive("head_dim") : c.n_embd / c.n_head;
  BIGDL_CHECK(c.n_head % c.n_head_kv == 0, FormatError, kOp, cfg, ": num_attention_heads ", c.n_head,
              " is not a multiple of num_key_value_heads ", c.n_head_kv);
  c.n_rot = c.head_dim;
  if (eps_key != nullptr) c.norm_eps = static_cast<float>(ck.get_float(eps_key));
  c.rope_freq_base = static_cast<float>(ck.get_float("rope_theta", 10000.0));
  c.tied_output = ck.get_bool("tie_word_embeddings", tie_default);
  read_hf_rope_scaling(ck, c, spec);
}

void read_hf_rope_scaling(const HfCheckpoint& ck, ModelConfig& c, ArchSpec& spec) {
  const std::string cfg = ck.config_path();
  // RoPE scaling (transformers' modeling_rope_utils): none, "linear" (positions divided by
  // factor), "llama3" (a divisor per frequency pair), "yarn", "longrope" (Phi-3; "su" is its
  // old name). "default" means none; "dynamic" (NTK) changes with the sequence length and
  // is refused.
  if (!ck.has("rope_scaling")) return;
  const std::string st = ck.has("rope_scaling.rope_type") ? ck.get_string("rope_scaling.rope_type")
                                                           : ck.get_string("rope_scaling.type");
  RopeScaling& rs = spec.rope_scaling;
  const auto factor = [&] {
    const double f = ck.get_float("rope_scaling.factor");
    BIGDL_CHECK(std::isfinite(f) && f > 0, FormatError, kOp, cfg, ": field 'rope_scaling.factor' is ", f,
                ", expected > 0");
    return f;
  };
  if (st == "default") return;
  if (st == "linear") {
    c.rope_scaling = "linear";
    rs.factor = factor();
  } else if (st == "llama3") {
    c.rope_scaling = "llama3";
    rs.factor = factor();
    rs.low_freq = ck.get_float("rope_scaling.low_freq_factor");
    rs.high_freq = ck.get_float("rope_scaling.high_freq_factor");
    rs.orig_ctx = ck.get_float("rope_scaling.original_max_position_embeddings");
    BIGDL_CHECK(rs.low_freq > 0 && rs.high_freq > rs.low_freq && rs.orig_ctx > 0, FormatError, kOp, cfg,
                ": rope_scaling llama3 needs factor > 0, 0 < low_freq_factor < high_freq_factor and "
                "original_max_position_embeddings > 0 (got ", rs.factor, ", ", rs.low_freq, ", ", rs.high_freq, ", ",
                rs.orig_ctx, ")");
  } else if (st == "yarn") {
    c.rope_scaling = "yarn";
    rs.factor = factor();
    rs.orig_ctx = ck.get_float("rope_scaling.original_max_position_embeddings", double(c.n_ctx_train));
    rs.beta_fast = ck.get_float("rope_scaling.beta_fast", 32.0);
    rs.beta_slow = ck.get_float("rope_scaling.beta_slow", 1.0);
    rs.attn_factor = ck.get_float("rope_scaling.attention_factor", 0.0);
    BIGDL_CHECK(rs.orig_ctx > 0 && rs.beta_fast > 0 && rs.beta_slow > 0, FormatError, kOp, cfg,
                ": rope_scaling yarn needs original_max_position_embeddings, beta_fast and beta_slow > 0");
  } else if (st == "longrope" || st == "su") {
    c.rope_scaling = "longrope";
    rs.orig_ctx = ck.has("original_max_position_embeddings")
                      ? double(ck.get_int("original_max_position_embeddings"))
                      : ck.get_float("rope_scaling.original_max_position_embeddings", double(c.n_ctx_train));
    rs.attn_factor = ck.get_float("rope_scaling.attention_factor", 0.0);
    rs.factor = ck.has("rope_scaling.factor") ? factor() : double(c.n_ctx_train) / rs.orig_ctx;
    const auto read_factors = [&](const char* key, std::vector<float>& out) {
      const std::vector<double> v = ck.get_float_array(std::string("rope_scaling.") + key);
      BIGDL_CHECK(int64_t(v.size()) == c.n_rot / 2, FormatError, kOp, cfg, ": field 'rope_scaling.", key,
                  "' has ", v.size(), " values, expected ", c.n_rot / 2, " (rotary dimensions / 2)");
      for (double x : v) {
        BIGDL_CHECK(std::isfinite(x) && x > 0, FormatError, kOp, cfg, ": field 'rope_scaling.", key, "' holds ", x,
                    ", expected finite values > 0");
        out.push_back(static_cast<float>(x));
      }
    };
    read_factors("short_factor", rs.short_factors);
    read_factors("long_factor", rs.long_factors);
  } else {
    throw FormatError(bigdl::detail::cat("[", kOp, "] ", cfg, ": rope_scaling type '", st,
                                         "' is not supported (supported: linear, llama3, yarn, longrope)"));
  }
  c.rope_scaling_factor = static_cast<float>(rs.factor);
}

}  // namespace bigdl::llm::detail
