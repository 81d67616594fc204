// Hugging Face checkpoint loading (bigdl/llm/hf.h) against transformers: tiny random-weight
// Llama / Mistral / Qwen2 checkpoints in tests/llm/fixtures/hf_*/ and the logits and greedy
// ids transformers 4.46.3 computes for them, from tests/llm/gen_arch_golden.py, which says
// how to regenerate them; plus the loader's error cases.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include <unistd.h>

#include "bigdl/error.h"
#include "bigdl/io/gguf.h"
#include "bigdl/io/gguf_writer.h"
#include "bigdl/io/safetensors.h"
#include "bigdl/llm/convert.h"
#include "bigdl/llm/hf.h"
#include "bigdl/llm/model.h"
#include "llm/llm_test_util.h"
#include "test_util.h"

namespace {

namespace fs = std::filesystem;
using llm_test::load;

const std::string kFixtures = std::string(BIGDL_TEST_DIR) + "/llm/fixtures/";

// The references are f32 end to end, so the comparisons use an f32 KV cache (the
// default is f16, whose rounding alone is ~1e-3 x std).
llm_test::Opts golden_options(llm_test::Opts o = {}) {
  o.kv_type = "f32";
  return o;
}

struct Golden {
  std::vector<int32_t> prompt, greedy;
  std::vector<int64_t> positions;          // prompt positions whose logits are kept
  std::vector<std::vector<float>> logits;  // [positions.size()][vocab]
  std::vector<double> rope_freq_factors;   // hf_llama3 only
  double std = 0;
};

Golden read_golden(const std::string& name) {
  std::ifstream in(kFixtures + name + "/golden.json");
  EXPECT_TRUE(in.good()) << name;
  const auto j = nlohmann::json::parse(in);
  Golden g;
  g.prompt = j["prompt"].get<std::vector<int32_t>>();
  g.greedy = j["greedy"].get<std::vector<int32_t>>();
  g.logits = j["logits"].get<std::vector<std::vector<float>>>();
  g.std = j["logits_std"].get<double>();
  if (j.contains("positions")) {
    g.positions = j["positions"].get<std::vector<int64_t>>();
  } else {
    for (size_t p = 0; p < g.prompt.size(); ++p) g.positions.push_back(static_cast<int64_t>(p));
  }
  if (j.contains("rope_freq_factors")) g.rope_freq_factors = j["rope_freq_factors"].get<std::vector<double>>();
  EXPECT_EQ(g.positions.size(), g.logits.size()) << name;
  return g;
}

// Feeds the whole prompt token by token; max |logits - golden| over the kept positions.
double max_logit_diff(bigdl::llm::Context& m, const Golden& g) {
  double max_diff = 0;
  size_t next = 0;
  for (size_t p = 0; p < g.prompt.size(); ++p) {
    const float* l = m.forward(g.prompt[p], static_cast<int64_t>(p));
    if (next < g.positions.size() && g.positions[next] == static_cast<int64_t>(p)) {
      for (size_t v = 0; v < g.logits[next].size(); ++v)
        max_diff = std::max(max_diff, std::fabs(double(l[v]) - g.logits[next][v]));
      ++next;
    }
  }
  EXPECT_EQ(next, g.positions.size());
  return max_diff;
}

// Feeds the prompt token by token and compares the logits after every position, then
// checks the greedy continuation. Returns max |ours - reference| / std(reference).
double check_fixture(const std::string& name, const std::string& model_type, bool tied) {
  const Golden g = read_golden(name);
  auto m = load(kFixtures + name, golden_options());
  const auto& c = m->config();
  EXPECT_EQ(c.source_type, model_type);
  EXPECT_EQ(c.tied_output, tied);
  EXPECT_EQ(c.n_vocab, static_cast<int64_t>(g.logits[0].size()));
  const double max_diff = max_logit_diff(*m, g);
  const double rel = max_diff / g.std;
  EXPECT_LE(max_diff, 1e-4 * g.std) << name << ": max abs diff " << max_diff << ", reference std " << g.std;
  auto m2 = load(kFixtures + name, golden_options());
  EXPECT_EQ(bigdl::llm::generate_greedy(*m2, g.prompt, static_cast<int64_t>(g.greedy.size())), g.greedy) << name;
  std::printf("[ hf golden ] %-14s max abs diff %.3g = %.3g x std (std %.3f)\n", name.c_str(), max_diff, rel, g.std);
  return rel;
}

TEST(HfGolden, LlamaF32Untied) { check_fixture("hf_llama", "llama", false); }

// Stored in BF16; the reference ran on the same BF16-rounded weights in f32, so the exact
// widening at load is held to the f32 tolerance. Also: tied lm_head, MHA with
// num_key_value_heads absent from config.json, rope_theta 5e5, linear rope_scaling x2.
TEST(HfGolden, LlamaBf16TiedLinearRope) { check_fixture("hf_llama_tied", "llama", true); }

// Stored in F16 and sharded into three files + model.safetensors.index.json.
TEST(HfGolden, MistralF16Sharded) { check_fixture("hf_mistral", "mistral", false); }

// q/k/v biases, tied lm_head, rope_theta 1e6.
TEST(HfGolden, Qwen2Biases) { check_fixture("hf_qwen2", "qwen2", true); }

// rope_scaling llama3 (factor 8, low/high 1/4, original 64) over a 320-token prompt, logits
// compared at every 16th position; transformers 4.46.3.
TEST(HfGolden, Llama3RopeScaling) { check_fixture("hf_llama3", "llama", false); }

TEST(HfGolden, ConfigFromJson) {
  auto m = load(kFixtures + "hf_llama");
  const auto& c = m->config();
  EXPECT_EQ(c.n_embd, 48);
  EXPECT_EQ(c.n_layer, 2);
  EXPECT_EQ(c.n_head, 4);
  EXPECT_EQ(c.n_head_kv, 2);
  EXPECT_EQ(c.head_dim, 12);
  EXPECT_EQ(c.n_ff, 64);
  EXPECT_EQ(m->n_ctx(), 64);  // max_position_embeddings
  EXPECT_EQ(c.n_ctx_train, 64);
  auto t = load(kFixtures + "hf_llama_tied", {.n_ctx = 16});
  EXPECT_EQ(t->config().n_head_kv, 4);  // absent -> num_attention_heads
  EXPECT_EQ(t->n_ctx(), 16);
  EXPECT_FLOAT_EQ(t->config().rope_freq_base, 500000.0f);
}

TEST(HfGolden, MistralSlidingWindowCapsContext) {
  auto m = load(kFixtures + "hf_mistral", {.n_ctx = 32});
  EXPECT_EQ(m->n_ctx(), 32);  // sliding_window 4096 > 32: exact
}

// --- error cases on copies of a fixture -------------------------------------------

class HfErrors : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("bigdl_hf_" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) + "_" +
            std::to_string(::getpid()));
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string copy(const std::string& name) {
    fs::copy(kFixtures + name, dir_, fs::copy_options::recursive);
    return dir_.string();
  }
  nlohmann::json config() {
    std::ifstream in(dir_ / "config.json");
    return nlohmann::json::parse(in);
  }
  void write_config(const nlohmann::json& j) { std::ofstream(dir_ / "config.json") << j.dump(2); }
  // Rewrites one safetensors file without `tensor`.
  void drop_tensor(const std::string& file, const std::string& tensor) {
    auto ts = bigdl::io::load_safetensors((dir_ / file).string());
    std::erase_if(ts, [&](const auto& p) { return p.first == tensor; });
    bigdl::io::save_safetensors((dir_ / file).string(), ts);
  }
  fs::path dir_;
};

TEST_F(HfErrors, MissingConfigField) {
  const std::string d = copy("hf_llama");
  auto j = config();
  j.erase("hidden_size");
  write_config(j);
  EXPECT_EQ(test_util::error_of<bigdl::FormatError>([&] { load(d); }),
            "[load_model] " + d + "/config.json: field 'hidden_size' missing");
}

TEST_F(HfErrors, WrongFieldType) {
  const std::string d = copy("hf_llama");
  auto j = config();
  j["num_hidden_layers"] = "two";
  write_config(j);
  EXPECT_EQ(test_util::error_of<bigdl::FormatError>([&] { load(d); }),
            "[load_model] " + d + "/config.json: field 'num_hidden_layers' is \"two\", expected an integer");
}

TEST_F(HfErrors, UnknownModelType) {
  const std::string d = copy("hf_llama");
  auto j = config();
  j["model_type"] = "xlnet";
  write_config(j);
  EXPECT_EQ(test_util::error_of<bigdl::FormatError>([&] { load(d); }).rfind(
                "[load_model] " + d + "/config.json: model_type 'xlnet' is not supported (supported: llama, mistral, ", 0),
            0u);
}

TEST_F(HfErrors, UnsupportedRopeScaling) {
  const std::string d = copy("hf_llama");
  auto j = config();
  j["rope_scaling"] = {{"rope_type", "dynamic"}, {"factor", 8.0}};
  write_config(j);
  EXPECT_EQ(test_util::error_of<bigdl::FormatError>([&] { load(d); }),
            "[load_model] " + d +
                "/config.json: rope_scaling type 'dynamic' is not supported (supported: linear, llama3, yarn, longrope)");
}

TEST_F(HfErrors, Llama3RopeScalingFields) {
  const std::string d = copy("hf_llama3");
  auto j = config();
  j["rope_scaling"].erase("low_freq_factor");
  write_config(j);
  EXPECT_EQ(test_util::error_of<bigdl::FormatError>([&] { load(d); }),
            "[load_model] " + d + "/config.json: field 'rope_scaling.low_freq_factor' missing");
  j = config();
  j["rope_scaling"]["low_freq_factor"] = 4.0;  // not below high_freq_factor
  write_config(j);
  EXPECT_EQ(test_util::error_of<bigdl::FormatError>([&] { load(d); }),
            "[load_model] " + d + "/config.json: rope_scaling llama3 needs factor > 0, 0 < low_freq_factor < "
            "high_freq_factor and original_max_position_embeddings > 0 (got 8, 4, 4, 64)");
}

// The scaling is not a no-op on this fixture: the same weights without it, or with linear
// scaling by the same factor, miss the reference by far more than the 1e-4 x std bound.
TEST_F(HfErrors, Llama3ScalingChangesLogits) {
  const Golden g = read_golden("hf_llama3");
  const std::string d = copy("hf_llama3");
  const auto base = config();
  for (const bool linear : {false, true}) {
    auto j = base;
    if (linear) {
      j["rope_scaling"] = {{"type", "linear"}, {"factor", 8.0}};
    } else {
      j.erase("rope_scaling");
    }
    write_config(j);
    auto m = load(d, golden_options());
    const double rel = max_logit_diff(*m, g) / g.std;
    std::printf("[ hf golden ] hf_llama3 with %s: max abs diff %.3g x std\n",
                linear ? "linear scaling x8" : "no rope scaling", rel);
    EXPECT_GT(rel, 0.1) << (linear ? "linear" : "none");
  }
}

// convert() writes llama.cpp's form of the scaling, a rope_freqs.weight tensor of
// head_dim/2 divisors (transformers' inverse-frequency ratios), and no rope.scaling key;
// the GGUF loader reads it back, so the converted file gives the same logits.
TEST_F(HfErrors, Llama3RopeFreqsRoundTripThroughGguf) {
  const Golden g = read_golden("hf_llama3");
  fs::create_directories(dir_);
  const std::string gguf = (dir_ / "llama3.gguf").string();
  bigdl::llm::convert(kFixtures + "hf_llama3", gguf, bigdl::llm::LowBit{});
  const auto f = bigdl::io::GgufFile::open(gguf);
  EXPECT_EQ(f.find("llama.rope.scaling.type"), nullptr);
  const bigdl::io::GgufTensorInfo* t = f.tensor("rope_freqs.weight");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->shape, (std::vector<int64_t>{6}));
  ASSERT_EQ(t->type, bigdl::io::GgufType::F32);
  ASSERT_EQ(g.rope_freq_factors.size(), 6u);
  const auto* ff = reinterpret_cast<const float*>(t->data);
  for (size_t i = 0; i < 6; ++i) EXPECT_NEAR(ff[i], g.rope_freq_factors[i], 1e-6 * g.rope_freq_factors[i]) << i;
  auto from_hf = load(kFixtures + "hf_llama3", golden_options());
  auto from_gguf = load(gguf, golden_options());
  double max_diff = 0;
  for (size_t p = 0; p < g.prompt.size(); ++p) {
    const float* a = from_hf->forward(g.prompt[p], static_cast<int64_t>(p));
    const float* b = from_gguf->forward(g.prompt[p], static_cast<int64_t>(p));
    for (int64_t v = 0; v < from_hf->config().n_vocab; ++v) max_diff = std::max(max_diff, std::fabs(double(a[v]) - b[v]));
  }
  std::printf("[ hf golden ] hf_llama3 HF vs converted GGUF: max abs diff %.3g\n", max_diff);
  EXPECT_LE(max_diff, 1e-6);
  EXPECT_LE(max_logit_diff(*load(gguf, golden_options()), g), 1e-4 * g.std);

  // A rope_freqs.weight of the wrong length or with a non-positive factor is refused.
  const auto rewrite = [&](const std::vector<float>& freqs) {
    bigdl::io::GgufWriter w;
    for (const auto& [k, v] : f.metadata()) w.set(k, v);
    for (const auto& ti : f.tensors()) {
      if (ti.name == "rope_freqs.weight") {
        w.add_tensor(ti.name, {static_cast<int64_t>(freqs.size())}, ti.type, freqs.data(), freqs.size() * 4);
      } else {
        w.add_tensor(ti.name, ti.shape, ti.type, ti.data, ti.nbytes);
      }
    }
    const std::string bad = (dir_ / "bad.gguf").string();
    w.write(bad);
    return bad;
  };
  std::string bad = rewrite({1, 2, 8, 8, 8});
  EXPECT_EQ(test_util::error_of<bigdl::ShapeError>([&] { load(bad); }),
            "[load_model] " + bad + ": tensor 'rope_freqs.weight' has shape [5], expected [6]");
  bad = rewrite({1, 2, 8, 0, 8, 8});
  EXPECT_EQ(test_util::error_of<bigdl::FormatError>([&] { load(bad); }),
            "[load_model] " + bad + ": tensor 'rope_freqs.weight' holds 0, expected finite factors > 0");
}

TEST_F(HfErrors, MissingTensor) {
  const std::string d = copy("hf_llama");
  drop_tensor("model.safetensors", "model.layers.1.mlp.up_proj.weight");
  EXPECT_EQ(test_util::error_of<bigdl::FormatError>([&] { load(d); }),
            "[load_model] " + d + "/model.safetensors: tensor 'model.layers.1.mlp.up_proj.weight' missing");
}

TEST_F(HfErrors, MissingLmHeadWhenUntied) {
  const std::string d = copy("hf_llama");
  drop_tensor("model.safetensors", "lm_head.weight");
  EXPECT_EQ(test_util::error_of<bigdl::FormatError>([&] { load(d); }),
            "[load_model] " + d + "/model.safetensors: tensor 'lm_head.weight' missing");
}

TEST_F(HfErrors, MissingQwen2Bias) {
  const std::string d = copy("hf_qwen2");
  drop_tensor("model.safetensors", "model.layers.0.self_attn.k_proj.bias");
  EXPECT_EQ(test_util::error_of<bigdl::FormatError>([&] { load(d); }),
            "[load_model] " + d + "/model.safetensors: tensor 'model.layers.0.self_attn.k_proj.bias' missing");
}

TEST_F(HfErrors, ShardMissingIndexedTensor) {
  const std::string d = copy("hf_mistral");
  std::ifstream in(dir_ / "model.safetensors.index.json");
  const auto idx = nlohmann::json::parse(in);
  const std::string shard = idx["weight_map"]["model.norm.weight"].get<std::string>();
  drop_tensor(shard, "model.norm.weight");
  EXPECT_EQ(test_util::error_of<bigdl::FormatError>([&] { load(d); }),
            "[load_model] " + d + "/" + shard +
                ": tensor 'model.norm.weight' missing (listed in model.safetensors.index.json)");
}

TEST_F(HfErrors, NoWeightsFile) {
  const std::string d = copy("hf_llama");
  fs::remove(dir_ / "model.safetensors");
  EXPECT_EQ(test_util::error_of<bigdl::FormatError>([&] { load(d); }),
            "[load_model] " + d + ": no model.safetensors or model.safetensors.index.json");
}

TEST_F(HfErrors, WrongShape) {
  const std::string d = copy("hf_llama");
  auto j = config();
  j["intermediate_size"] = 32;
  write_config(j);
  EXPECT_EQ(test_util::error_of<bigdl::ShapeError>([&] { load(d); }),
            "[load_model] " + d +
                "/model.safetensors: tensor 'model.layers.0.mlp.gate_proj.weight' has shape [64, 48], expected [32, 48]");
}

// The window only hides keys more than sliding_window positions back: the logits of the
// first 8 positions are those of full attention, later ones differ. (The exact values
// against transformers: the hf_mistral_swa fixture.)
TEST_F(HfErrors, SlidingWindowHidesOnlyOldKeys) {
  const std::string d = copy("hf_mistral");
  auto j = config();
  j["sliding_window"] = 8;
  write_config(j);
  auto swa = load(d, golden_options({.n_ctx = 16}));
  EXPECT_EQ(swa->n_ctx(), 16);
  EXPECT_EQ(swa->config().sliding_window, 8);
  auto full = load(kFixtures + "hf_mistral", golden_options({.n_ctx = 16}));
  const Golden g = read_golden("hf_mistral");
  const auto a = llm_test::run(*swa, g.prompt), b = llm_test::run(*full, g.prompt);
  for (size_t p = 0; p < g.prompt.size(); ++p) {
    double d_max = 0;
    for (size_t v = 0; v < a[p].size(); ++v) d_max = std::max(d_max, std::fabs(double(a[p][v]) - b[p][v]));
    if (p < 8) EXPECT_EQ(d_max, 0.0) << p;
    else EXPECT_GT(d_max, 1e-3) << p;
  }
}

}  // namespace
