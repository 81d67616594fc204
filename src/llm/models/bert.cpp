// BERT-style sentence encoders (all-MiniLM-L6-v2, bge): embeddings = word + position +
// token type 0, then a LayerNorm; post-norm layers x = LN(x + attn(x)), x = LN(x + mlp(x))
// with biases everywhere, bidirectional attention, a GELU MLP (erf from HF; llama.cpp
// computes tanh). Outputs are the final hidden states; sentence-transformers' pooling
// (1_Pooling/config.json: mean, CLS or last token) is read into ModelConfig::pooling
// (GGUF bert.pooling_type). Tensor names with or without the "bert." prefix. GGUF "bert".
// Verified by tests/llm/test_arch_golden.cpp (arch_bert) and the all-MiniLM-L6-v2 test.
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "bigdl/error.h"
#include "llm/arch.h"

namespace bigdl::llm::detail {

namespace {
// sentence-transformers' pooling: the folder modules.json names for its Pooling module.
std::string st_pooling(const HfCheckpoint& ck) {
  namespace fs = std::filesystem;
  const fs::path dir(ck.dir());
  std::string sub = "1_Pooling";
  std::ifstream modules(dir / "modules.json");
  if (modules.good()) {
    try {
      for (const auto& m : nlohmann::json::parse(modules))
        if (m.value("type", "").find("Pooling") != std::string::npos) sub = m.value("path", sub);
    } catch (const nlohmann::json::exception& e) {
      throw FormatError(bigdl::detail::cat("[load_model] ", (dir / "modules.json").string(), ": invalid JSON (",
                                           e.what(), ")"));
    }
  }
  std::ifstream in(dir / sub / "config.json");
  if (!in.good()) return "cls";  // a plain BertModel: the [CLS] row, as transformers' pooler reads
  try {
    const auto j = nlohmann::json::parse(in);
    if (j.value("pooling_mode_mean_tokens", false)) return "mean";
    if (j.value("pooling_mode_cls_token", false)) return "cls";
    if (j.value("pooling_mode_lasttoken", false)) return "last";
  } catch (const nlohmann::json::exception& e) {
    throw FormatError(bigdl::detail::cat("[load_model] ", (dir / sub / "config.json").string(), ": invalid JSON (",
                                         e.what(), ")"));
  }
  throw FormatError(bigdl::detail::cat("[load_model] ", (dir / sub / "config.json").string(),
                                       ": no pooling mode we run (mean, cls, lasttoken)"));
}

void bert_hf_config(const HfCheckpoint& ck, ModelConfig& c, ArchSpec& spec) {
  read_hf_common(ck, c, spec, "layer_norm_eps");
  c.n_rot = 0;
  c.causal = false;
  c.tied_output = false;
  spec.act = hf_act(ck, "hidden_act", "gelu");
  spec.n_token_types = hf_positive(ck, "type_vocab_size", 2);
  if (ck.get_string("position_embedding_type", "absolute") != "absolute")
    hf_unsupported(ck, "position_embedding_type", ck.get_string("position_embedding_type"), "absolute only");
  c.pooling = st_pooling(ck);
}

void bert_gguf_config(const GgufMeta& m, ModelConfig& c, ArchSpec& spec) {
  c.causal = false;
  spec.n_token_types = m.file().find("tokenizer.ggml.token_type_count")
                           ? m.file().get_int("tokenizer.ggml.token_type_count")
                           : 2;
}
}  // namespace

extern const ArchDef kArch_bert = {
    .gguf_arch = "bert",
    .hf_types = {"bert"},
    .spec = [] {
      ArchSpec s;
      s.norm = NormKind::layer;
      s.norm_bias = true;
      s.pos = PosKind::learned;
      s.ffn = FfnKind::plain;
      s.act = Act::gelu_tanh;  // llama.cpp's; an HF checkpoint says its own
      s.residual = Residual::post_norm;
      s.bias_qkv = s.bias_o = s.bias_ffn = true;
      s.embd_norm = true;
      s.token_types = true;
      s.output_norm = false;
      return s;
    }(),
    .hf_config = bert_hf_config,
    .gguf_config = bert_gguf_config,
    .hf_tensors = {
        {"token_embd.weight", "embeddings.word_embeddings.weight"},
        {"position_embd.weight", "embeddings.position_embeddings.weight"},
        {"token_types.weight", "embeddings.token_type_embeddings.weight"},
        {"token_embd_norm.weight", "embeddings.LayerNorm.weight"},
        {"token_embd_norm.bias", "embeddings.LayerNorm.bias"},
        {"blk.%d.attn_q.weight", "encoder.layer.%d.attention.self.query.weight"},
        {"blk.%d.attn_q.bias", "encoder.layer.%d.attention.self.query.bias"},
        {"blk.%d.attn_k.weight", "encoder.layer.%d.attention.self.key.weight"},
        {"blk.%d.attn_k.bias", "encoder.layer.%d.attention.self.key.bias"},
        {"blk.%d.attn_v.weight", "encoder.layer.%d.attention.self.value.weight"},
        {"blk.%d.attn_v.bias", "encoder.layer.%d.attention.self.value.bias"},
        {"blk.%d.attn_output.weight", "encoder.layer.%d.attention.output.dense.weight"},
        {"blk.%d.attn_output.bias", "encoder.layer.%d.attention.output.dense.bias"},
        {"blk.%d.attn_output_norm.weight", "encoder.layer.%d.attention.output.LayerNorm.weight"},
        {"blk.%d.attn_output_norm.bias", "encoder.layer.%d.attention.output.LayerNorm.bias"},
        {"blk.%d.ffn_up.weight", "encoder.layer.%d.intermediate.dense.weight"},
        {"blk.%d.ffn_up.bias", "encoder.layer.%d.intermediate.dense.bias"},
        {"blk.%d.ffn_down.weight", "encoder.layer.%d.output.dense.weight"},
        {"blk.%d.ffn_down.bias", "encoder.layer.%d.output.dense.bias"},
        {"blk.%d.layer_output_norm.weight", "encoder.layer.%d.output.LayerNorm.weight"},
        {"blk.%d.layer_output_norm.bias", "encoder.layer.%d.output.LayerNorm.bias"},
    },
    .hf_prefixes = {"bert."},
};

}  // namespace bigdl::llm::detail
