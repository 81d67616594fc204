// Llama (llama, llama 2, TinyLlama, llama2.c checkpoints converted to GGUF).
//
// Per layer:  x += Wo · attn(rope(Wq·n), rope(Wk·n), Wv·n)   with n = rmsnorm(x)·attn_norm
//             x += Wdown · (silu(Wgate·m) * (Wup·m))          with m = rmsnorm(x)·ffn_norm
// then logits = Woutput · rmsnorm(x)·output_norm (Woutput = token_embd when absent).
//
// RoPE pairs adjacent values (2i, 2i+1) of each head (ggml rope mode 0): llama.cpp's
// converters permute the Q/K rows of HF checkpoints into that order, and llama2.c
// checkpoints already use it. Verified by the stories260K golden logits
// (tests/llm/test_llama_stories.cpp: max abs diff 3e-6 at step 0).
#include <vector>

#include "bigdl/error.h"
#include "llm/arch.h"
#include "llm/graph.h"

namespace bigdl::llm::detail {

namespace {

struct LlamaLayer {
  const float* attn_norm;
  Weight wq, wk, wv, wo;
  const float* ffn_norm;
  Weight w_gate, w_up, w_down;
};

class LlamaModel final : public Model {
 public:
  LlamaModel(io::GgufFile file, const LoadOptions& options) : file_(std::move(file)) {
    const io::GgufFile& f = file_;
    auto& c = config_;
    c.arch = "llama";
    const std::string& fname = f.name();
    c.n_embd = f.get_int("llama.embedding_length");
    c.n_layer = f.get_int("llama.block_count");
    c.n_head = f.get_int("llama.attention.head_count");
    c.n_head_kv = f.find("llama.attention.head_count_kv") ? f.get_int("llama.attention.head_count_kv") : c.n_head;
    c.n_ff = f.get_int("llama.feed_forward_length");
    c.n_ctx_train = f.get_int("llama.context_length");
    c.rope_freq_base = f.find("llama.rope.freq_base") ? static_cast<float>(f.get_float("llama.rope.freq_base")) : 10000.0f;
    c.rms_eps = static_cast<float>(f.get_float("llama.attention.layer_norm_rms_epsilon"));
    auto positive = [&](int64_t v, const char* key) {
      BIGDL_CHECK(v > 0, FormatError, "load_model", fname, ": metadata key '", key, "' is ", v,
                  ", expected > 0");
    };
    positive(c.n_embd, "llama.embedding_length");
    positive(c.n_layer, "llama.block_count");
    positive(c.n_head, "llama.attention.head_count");
    positive(c.n_head_kv, "llama.attention.head_count_kv");
    positive(c.n_ff, "llama.feed_forward_length");
    positive(c.n_ctx_train, "llama.context_length");
    BIGDL_CHECK(c.n_embd % c.n_head == 0 && (c.n_embd / c.n_head) % 2 == 0, FormatError, "load_model",
                fname, ": embedding_length ", c.n_embd, " is not an even head size times head_count ",
                c.n_head);
    BIGDL_CHECK(c.n_head % c.n_head_kv == 0, FormatError, "load_model", fname, ": head_count ", c.n_head,
                " is not a multiple of head_count_kv ", c.n_head_kv);
    c.head_dim = c.n_embd / c.n_head;
    BIGDL_CHECK(options.n_ctx >= 0, ValueError, "load_model", "n_ctx ", options.n_ctx, " is negative");
    c.n_ctx = options.n_ctx > 0 ? options.n_ctx : c.n_ctx_train;

    WeightLoader w(f);
    const io::GgufTensorInfo* emb = f.tensor("token_embd.weight");
    BIGDL_CHECK(emb != nullptr, FormatError, "load_model", fname, ": tensor 'token_embd.weight' missing");
    BIGDL_CHECK(emb->shape.size() == 2, ShapeError, "load_model", fname,
                ": tensor 'token_embd.weight' has ", emb->shape.size(), " dims, expected 2");
    c.n_vocab = emb->shape[0];
    if (const auto* toks = f.find("tokenizer.ggml.tokens")) {
      const int64_t n = static_cast<int64_t>(toks->count);
      BIGDL_CHECK(n == c.n_vocab, ShapeError, "load_model", fname, ": tokenizer.ggml.tokens has ", n,
                  " entries but tensor 'token_embd.weight' has ", c.n_vocab, " rows");
    }
    token_embd_ = w.matrix("token_embd.weight", c.n_vocab, c.n_embd);
    const int64_t kv_dim = c.n_head_kv * c.head_dim;
    layers_.resize(c.n_layer);
    for (int64_t l = 0; l < c.n_layer; ++l) {
      const std::string p = "blk." + std::to_string(l) + ".";
      auto& L = layers_[l];
      L.attn_norm = w.vector(p + "attn_norm.weight", c.n_embd);
      L.wq = w.matrix(p + "attn_q.weight", c.n_embd, c.n_embd);
      L.wk = w.matrix(p + "attn_k.weight", kv_dim, c.n_embd);
      L.wv = w.matrix(p + "attn_v.weight", kv_dim, c.n_embd);
      L.wo = w.matrix(p + "attn_output.weight", c.n_embd, c.n_embd);
      L.ffn_norm = w.vector(p + "ffn_norm.weight", c.n_embd);
      L.w_gate = w.matrix(p + "ffn_gate.weight", c.n_ff, c.n_embd);
      L.w_up = w.matrix(p + "ffn_up.weight", c.n_ff, c.n_embd);
      L.w_down = w.matrix(p + "ffn_down.weight", c.n_embd, c.n_ff);
    }
    output_norm_ = w.vector("output_norm.weight", c.n_embd);
    c.tied_output = !w.has("output.weight");
    output_ = c.tied_output ? token_embd_ : w.matrix("output.weight", c.n_vocab, c.n_embd);

    // Everything forward() touches is allocated here, once.
    k_cache_.assign(c.n_layer * c.n_ctx * kv_dim, 0.0f);
    v_cache_.assign(c.n_layer * c.n_ctx * kv_dim, 0.0f);
    x_.assign(c.n_embd, 0.0f);
    xb_.assign(c.n_embd, 0.0f);
    xb2_.assign(c.n_embd, 0.0f);
    q_.assign(c.n_embd, 0.0f);
    hb_.assign(c.n_ff, 0.0f);
    hb2_.assign(c.n_ff, 0.0f);
    scores_.assign(c.n_head * c.n_ctx, 0.0f);
    logits_.assign(c.n_vocab, 0.0f);
    rope_tables(c.n_ctx, c.head_dim, c.rope_freq_base, rope_cos_, rope_sin_);
  }

  const float* forward(int32_t token, int64_t pos) override {
    const auto& c = config_;
    BIGDL_CHECK(token >= 0 && token < c.n_vocab, IndexError, "llm", "token id ", token,
                " out of range [0, ", c.n_vocab, ")");
    BIGDL_CHECK(pos >= 0 && pos < c.n_ctx, IndexError, "llm", "position ", pos,
                " out of range [0, ", c.n_ctx, ") of the context");
    const auto& k = bigdl::detail::cpu_kernels();
    const int64_t kv_dim = c.n_head_kv * c.head_dim;
    const float* cos = rope_cos_.data() + pos * (c.head_dim / 2);
    const float* sin = rope_sin_.data() + pos * (c.head_dim / 2);
    float* x = x_.data();
    copy_row(token_embd_, token, x);
    for (int64_t l = 0; l < c.n_layer; ++l) {
      const auto& L = layers_[l];
      float* kc = k_cache_.data() + l * c.n_ctx * kv_dim;
      float* vc = v_cache_.data() + l * c.n_ctx * kv_dim;
      // attention
      rmsnorm(x, L.attn_norm, xb_.data(), c.n_embd, c.rms_eps);
      matvec(L.wq, xb_.data(), q_.data());
      matvec(L.wk, xb_.data(), kc + pos * kv_dim);
      matvec(L.wv, xb_.data(), vc + pos * kv_dim);
      rope_adjacent(q_.data(), c.n_head, c.head_dim, cos, sin);
      rope_adjacent(kc + pos * kv_dim, c.n_head_kv, c.head_dim, cos, sin);
      attention(q_.data(), kc, vc, pos, c.n_head, c.n_head_kv, c.head_dim, c.n_ctx, scores_.data(),
                xb_.data());
      matvec(L.wo, xb_.data(), xb2_.data());
      k.add(x, xb2_.data(), x, c.n_embd);
      // feed-forward
      rmsnorm(x, L.ffn_norm, xb_.data(), c.n_embd, c.rms_eps);
      matvec(L.w_gate, xb_.data(), hb_.data());
      matvec(L.w_up, xb_.data(), hb2_.data());
      swiglu(hb_.data(), hb2_.data(), c.n_ff);
      matvec(L.w_down, hb_.data(), xb2_.data());
      k.add(x, xb2_.data(), x, c.n_embd);
    }
    rmsnorm(x, output_norm_, xb_.data(), c.n_embd, c.rms_eps);
    matvec(output_, xb_.data(), logits_.data());
    return logits_.data();
  }

 private:
  io::GgufFile file_;  // keeps the mapping that every Weight points into alive
  Weight token_embd_;
  std::vector<LlamaLayer> layers_;
  const float* output_norm_ = nullptr;
  Weight output_;
  std::vector<float> k_cache_, v_cache_;  // [n_layer][n_ctx][kv_dim]
  std::vector<float> x_, xb_, xb2_, q_, hb_, hb2_, scores_, logits_;
  std::vector<float> rope_cos_, rope_sin_;  // [n_ctx][head_dim/2]
};

}  // namespace

std::unique_ptr<Model> load_llama(io::GgufFile file, const LoadOptions& options) {
  return std::make_unique<LlamaModel>(std::move(file), options);
}

}  // namespace bigdl::llm::detail
