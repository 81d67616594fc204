// The architecture registry and what an architecture is made of.
//
// Every decoder (and the BERT encoder) runs through one layer function (model.cpp),
// driven by an ArchSpec: data that says which norm, position encoding, attention variant,
// feed-forward kind and residual wiring the architecture uses. An architecture is one file
// models/<arch>.cpp that defines an ArchDef: its ArchSpec, how config.json's fields map to
// ModelConfig (GGUF metadata is read generically under the "<arch>." prefix, as llama.cpp
// writes it), and how Hugging Face tensor names map to llama.cpp's GGUF names (with the
// few transformations llama.cpp's converter applies: RoPE row permutation, transposes,
// norm offsets, qkv reordering, expert stacking). In memory every model holds GGUF's
// layout, so a model from either source runs and exports the same way.
//
// Adding an architecture touches three files: models/<arch>.cpp, one line in the
// BIGDL_LLM_ARCHS list of arch.cpp, and its fixture in tests/llm/gen_arch_golden.py
// (docs/llm.md, "Adding an architecture").
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "bigdl/llm/hf.h"
#include "bigdl/llm/model.h"
#include "llm/ops.h"

namespace bigdl::io { class GgufFile; class GgufWriter; }

namespace bigdl::llm::detail {

enum class NormKind { rms, layer };
enum class PosKind { rope, alibi, learned, none };
enum class FfnKind { gated, plain, moe };
// serial: x += attn(norm(x)); x += ffn(norm(x)). parallel: x += attn(n1) + ffn(n2) with
// n1, n2 norms of the same x (GPT-NeoX, Falcon). post_norm: x = norm(x + attn(x));
// x = norm(x + ffn(x)) (BERT).
enum class Residual { serial, parallel, post_norm };

// RoPE scaling parameters (ModelConfig::rope_scaling names the kind; model.cpp's build_rope turns them
// into per-pair inverse frequencies).
struct RopeScaling {
  double factor = 1.0;         // linear, llama3, yarn: the context extension factor
  double orig_ctx = 0;         // llama3 / yarn / longrope: original_max_position_embeddings
  double low_freq = 1.0;       // llama3: low_freq_factor
  double high_freq = 4.0;      // llama3: high_freq_factor
  double beta_fast = 32.0;     // yarn
  double beta_slow = 1.0;      // yarn
  double attn_factor = 0.0;    // yarn / longrope: cos/sin magnitude; 0: the default formula
  std::vector<float> freq_factors;   // llama3 from GGUF's rope_freqs.weight: theta_i divided by [i]
  std::vector<float> short_factors;  // longrope (Phi-3): per-pair divisors within orig_ctx
  std::vector<float> long_factors;   // longrope: beyond orig_ctx
};

// Behaviour of an architecture; the tensors each flag implies are listed in model.cpp
// (Model::Impl::load_tensors), by their GGUF names.
struct ArchSpec {
  NormKind norm = NormKind::rms;
  bool norm_bias = false;        // LayerNorm biases (attn_norm.bias, ...)
  bool norm_weight = true;       // false: non-parametric norms (OLMo)
  PosKind pos = PosKind::rope;
  bool rope_neox = false;        // rotate_half pairs (i, i + n_rot/2); else adjacent pairs
  FfnKind ffn = FfnKind::gated;
  Act act = Act::silu;
  Residual residual = Residual::serial;
  bool fused_qkv = false;        // attn_qkv holds [q; k; v] rows
  bool fused_gate_up = false;    // ffn_up holds [gate; up] rows (Phi-3, ChatGLM)
  bool bias_qkv = false;
  bool bias_o = false;
  bool bias_ffn = false;         // ffn_up / ffn_down (and ffn_gate) biases
  bool qk_norm = false;          // attn_q_norm / attn_k_norm over each head (head_dim weights)
  bool qk_norm_per_head = false; // ... with weights for each head ([n_head][head_dim]; StableLM 2 12B)
  bool attn_norm_2 = false;      // attention reads attn_norm_2(x), the FFN attn_norm(x) (Falcon 40B)
  bool ffn_norm = true;          // false: the FFN reads the attention's norm (Falcon 7B)
  bool post_norms = false;       // post_attention_norm / post_ffw_norm on each branch (Gemma 2)
  bool embd_norm = false;        // token_embd_norm after the embedding (Bloom, BERT)
  bool embd_scale = false;       // embeddings times sqrt(n_embd) (Gemma)
  bool token_types = false;      // token_types row 0 added to the embedding (BERT)
  int64_t n_token_types = 2;     // rows of token_types
  bool output_norm = true;       // output_norm before the classifier
  float clip_qkv = 0;            // > 0: q, k, v clamped to [-clip, clip] (OLMo, MPT)
  float attn_scale = 0;          // 0: 1 / sqrt(head_dim)
  float max_alibi_bias = 8.0f;   // ALiBi's slopes (alibi_slopes)
  bool swa_even_layers = false;  // sliding window on even layers only (Gemma 2); else all layers
  bool moe_norm_topk = true;     // renormalise the top-k expert weights (Mixtral); false: Qwen2-MoE
  bool moe_shared_gate = false;  // the shared expert is scaled by sigmoid(ffn_gate_inp_shexp . x)
  RopeScaling rope_scaling{};    // parameters of ModelConfig::rope_scaling
};

// Where a GGUF tensor comes from in a Hugging Face checkpoint.
enum class HfXform {
  none,
  rope_q,       // rows of each of n_head heads from rotate_half order to adjacent pairs
  rope_k,       // the same over n_head_kv heads
  transpose,    // a Conv1D weight [in, out] -> [out, in] (GPT-2)
  plus_one,     // w + 1 (Gemma's norms hold w - 1)
  flatten,      // any shape -> 1-D (Qwen2-MoE's [1, n_embd] shared-expert gate)
  qkv_heads,    // fused [n_head][3][head_dim] rows -> [q; k; v] (Bloom, GPT-NeoX)
  experts,      // "%e" in the HF name: n_expert 2-D tensors stacked into [n_expert, rows, cols]
  custom,       // HfTensor::custom computes it
};
// A transformation the table cannot say: the tensor as GGUF stores it, f32 row-major, and
// its GGUF shape (outermost first).
using HfCustomFn = std::vector<float> (*)(const HfCheckpoint& ck, const ModelConfig& c, const std::string& hf_name,
                                           std::vector<int64_t>& shape);
struct HfTensor {
  const char* gguf;  // "blk.%d.attn_q.weight" (%d: the layer) or "token_embd.weight"
  const char* hf;    // "model.layers.%d.self_attn.q_proj.weight"; "%e": the expert
  HfXform xform = HfXform::none;
  HfCustomFn custom = nullptr;
};

// A GGUF file's metadata as the readers see it: typed getters under the arch prefix.
class GgufMeta {
 public:
  GgufMeta(const io::GgufFile& f, std::string arch) : f_(f), arch_(std::move(arch)) {}
  const io::GgufFile& file() const { return f_; }
  const std::string& arch() const { return arch_; }
  // "<arch>.<key>"; the one-argument forms throw FormatError naming the file and key.
  bool has(const std::string& key) const;
  int64_t get_int(const std::string& key) const;
  int64_t get_int(const std::string& key, int64_t fallback) const;
  double get_float(const std::string& key) const;
  double get_float(const std::string& key, double fallback) const;
  bool get_bool(const std::string& key, bool fallback) const;
  std::string get_string(const std::string& key, const std::string& fallback) const;

 private:
  const io::GgufFile& f_;
  std::string arch_;
};

struct ArchDef {
  const char* gguf_arch = nullptr;      // the GGUF architecture it runs and exports as
  std::vector<const char*> hf_types{};  // config.json model_types it reads (empty: GGUF only)
  ArchSpec spec{};                      // the default behaviour
  // Reads config.json into c (c.arch is preset to gguf_arch) and adjusts spec from it;
  // null when hf_types is empty.
  void (*hf_config)(const HfCheckpoint& ck, ModelConfig& c, ArchSpec& spec) = nullptr;
  // Architecture-specific GGUF keys beyond the generic ones (model.cpp, read_gguf_config);
  // may be null.
  void (*gguf_config)(const GgufMeta& m, ModelConfig& c, ArchSpec& spec) = nullptr;
  // Writes the keys gguf_config reads (the generic ones are written by model.cpp); may be null.
  void (*gguf_export)(const ModelConfig& c, const ArchSpec& spec, io::GgufWriter& w) = nullptr;
  // Every tensor a Hugging Face checkpoint provides. A GGUF name may be listed more than
  // once: the first HF name the checkpoint has is taken (layouts of one model_type differ).
  std::vector<HfTensor> hf_tensors{};
  // Prefixes an HF name may carry beyond the table's ("transformer." when saved from
  // GPT2LMHeadModel, none on the hub's gpt2; "bert." from BertFor*): tried in order after
  // the bare name.
  std::vector<const char*> hf_prefixes{};
  // Whether the architecture GGUF loading picks for gguf_arch (one per gguf_arch).
  bool gguf_primary = true;
};

// The ArchDef for a GGUF general.architecture / a config.json model_type; null when none.
const ArchDef* find_gguf_arch(const std::string& arch);
const ArchDef* find_hf_arch(const std::string& model_type);
// All known GGUF architectures / model_types, comma separated, for error messages.
std::string gguf_arch_names();
std::string hf_type_names();

// ---- helpers the model files share ----

// The HF <-> GGUF rows transformers' Llama-style decoders share: "model.embed_tokens",
// "model.norm", "lm_head", and per layer "input_layernorm", "self_attn.{q,k,v,o}_proj"
// and "post_attention_layernorm", with the biases of each (a model without them never asks
// for those rows). rope_rows: the Q/K rows and biases go from rotate_half order to GGUF's
// adjacent pairs (GGUF "llama", "olmo"); norm: the transformation of every norm weight
// (Gemma's plus_one).
struct HfDecoderLayout {
  bool rope_rows = false;
  HfXform norm = HfXform::none;
};
std::vector<HfTensor> hf_decoder_tensors(const HfDecoderLayout& layout = {});
// "model.layers.%d.mlp.{gate,up,down}_proj" weights and biases (SwiGLU / GeGLU).
std::vector<HfTensor> hf_gated_mlp_tensors();
// The tables one after another.
std::vector<HfTensor> hf_join(std::initializer_list<std::vector<HfTensor>> parts);

// Reads the config.json fields most decoders share under their usual names (vocab_size,
// hidden_size, intermediate_size, num_hidden_layers, num_attention_heads,
// num_key_value_heads, head_dim, max_position_embeddings, rope_theta, rope_scaling,
// tie_word_embeddings (absent: `tie_default`, the config class's default, which
// save_pretrained leaves out), and `eps_key` for the norm epsilon) and checks them
// (positive, heads divide); a null eps_key leaves the epsilon as it is. rope_scaling: "linear", "llama3", "yarn", "longrope" (Phi-3's
// "su" too) are read, any other FormatError names the field.
void read_hf_common(const HfCheckpoint& ck, ModelConfig& c, ArchSpec& spec, const char* eps_key,
                    bool tie_default = false);
// The RoPE scaling of config.json's `rope_scaling` (read_hf_common calls it).
void read_hf_rope_scaling(const HfCheckpoint& ck, ModelConfig& c, ArchSpec& spec);
// A positive config.json integer (FormatError naming the field otherwise).
int64_t hf_positive(const HfCheckpoint& ck, const char* field);
int64_t hf_positive(const HfCheckpoint& ck, const char* field, int64_t fallback);
// transformers' activation names (ACT2FN): "silu" / "swish", "gelu" (erf), "gelu_new" /
// "gelu_pytorch_tanh" / "gelu_fast" (tanh), "relu"; FormatError naming the field otherwise.
Act hf_act(const HfCheckpoint& ck, const char* field, const char* fallback);
// The FormatError "[load_model] <config>: field 'f' is X, not supported (...)" for a config
// value the engine does not run (a flag that changes the math).
[[noreturn]] void hf_unsupported(const HfCheckpoint& ck, const std::string& field, const std::string& value,
                                 const std::string& why);
// The checks read_hf_common and the GGUF reader share; `where` names the source.
void check_config(const ModelConfig& c, const std::string& where);

}  // namespace bigdl::llm::detail
