// Step checkpoints for fault recovery (model.h FitOptions::checkpoint_every / resume;
// docs/distributed.md "Fault recovery").
//
// Layout in the checkpoint directory, for a checkpoint after `step` optimizer steps
// (step printed with 8 digits):
//   ckpt-<step>.rank<r>.safetensors   written by rank r, atomically:
//       "model.<key>"      rank 0: the whole state_dict; ranks > 0: their buffers only
//                          (weights are identical on every rank, buffers are not)
//       "optimizer.<key>"  this rank's optimizer state (its shard under distributed
//                          training; the whole state in one process)
//       metadata "rng": this rank's global Generator state
//   ckpt-<step>.manifest               written last by rank 0, atomically, once every
//                                      rank's file is complete: text lines
//       bigdl-step-checkpoint 1
//       step S / epoch E / batch B / batches_per_epoch / batch_size / samples /
//       world_size / sharded / lr / loss_sum / seen
//       file <name> <bytes> <crc32c hex>      one per rank, rank order
//       crc32c <hex>                          of every byte before this line
// A checkpoint exists only once its manifest does, and is valid only when the manifest's
// own checksum and every file's size and CRC-32C match.
#include <algorithm>
#include <cinttypes>
#include <climits>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "bigdl/io/atomic_file.h"
#include "bigdl/io/tensor_io.h"
#include "bigdl/random.h"
#include "bigdl/train/model.h"
#include "bigdl/train/summary.h"

namespace bigdl::train {
namespace fs = std::filesystem;

namespace {

constexpr const char* kMagic = "bigdl-step-checkpoint 1";

std::string step_name(int64_t step) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "ckpt-%08lld", (long long)step);
  return buf;
}

std::string read_file(const std::string& path, const char* op) {
  std::ifstream f(path, std::ios::binary);
  BIGDL_CHECK(f.good(), IOError, op, path, ": cannot open");
  std::ostringstream ss;
  ss << f.rdbuf();
  BIGDL_CHECK(!f.bad(), IOError, op, path, ": read failed");
  return ss.str();
}

uint32_t file_crc(const std::string& path, int64_t* bytes) {
  const std::string data = read_file(path, "checkpoint");
  *bytes = int64_t(data.size());
  return detail::crc32c(data.data(), data.size());
}

std::string hexfloat(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%a", v);
  return buf;
}

// All ranks learn whether every rank succeeded; on failure every rank throws the lowest
// failing rank's message (with its error type), so the job fails in one place, in step.
enum ErrKind : int64_t { kIO = 0, kValue = 1, kFormat = 2 };
void agree(dist::Group* g, const std::string& err, ErrKind kind) {
  std::string msg = err;
  int64_t first = err.empty() ? INT64_MAX : (g ? g->rank() : 0);
  if (g) {
    g->all_reduce(&first, 1, DType::i64, dist::ReduceOp::min);
    if (first == INT64_MAX) return;
    char buf[1024] = {0};
    int64_t k = kind;
    if (g->rank() == first) std::snprintf(buf, sizeof buf, "%s", err.c_str());
    g->broadcast(buf, sizeof buf, int(first));
    g->broadcast(&k, sizeof k, int(first));
    msg = buf;
    kind = ErrKind(k);
  }
  if (first == INT64_MAX) return;
  if (kind == kValue) throw ValueError(msg);
  if (kind == kFormat) throw FormatError(msg);
  throw IOError(msg);
}

std::string rng_string() {
  const Generator::State st = default_generator().state();
  char buf[160];
  std::snprintf(buf, sizeof buf, "%" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %d %s", st.s[0], st.s[1], st.s[2],
                st.s[3], st.has_spare ? 1 : 0, hexfloat(st.spare).c_str());
  return buf;
}

void set_rng(const std::string& s, const std::string& file) {
  Generator::State st{};
  int spare = 0;
  std::istringstream in(s);
  std::string sp;
  in >> st.s[0] >> st.s[1] >> st.s[2] >> st.s[3] >> spare >> sp;
  BIGDL_CHECK(!in.fail() && !sp.empty(), FormatError, "resume", file, ": bad 'rng' metadata '", s, "'");
  st.has_spare = spare != 0;
  st.spare = std::strtod(sp.c_str(), nullptr);
  default_generator().set_state(st);
}

}  // namespace

StepCheckpoint verify_step_checkpoint(const std::string& manifest, bool check_files) {
  const std::string text = read_file(manifest, "checkpoint");
  const size_t tail = text.rfind("crc32c ");
  BIGDL_CHECK(text.rfind(kMagic, 0) == 0 && tail != std::string::npos && (tail == 0 || text[tail - 1] == '\n'),
              FormatError, "checkpoint", manifest, ": not a complete step-checkpoint manifest");
  const uint32_t want = uint32_t(std::strtoul(text.c_str() + tail + 7, nullptr, 16));
  BIGDL_CHECK(detail::crc32c(text.data(), tail) == want, FormatError, "checkpoint", manifest, ": manifest checksum mismatch");
  StepCheckpoint c;
  c.manifest = manifest;
  std::istringstream in(text.substr(0, tail));
  std::string line;
  std::getline(in, line);  // magic
  std::vector<std::pair<int64_t, uint32_t>> sums;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::string key, v;
    ls >> key >> v;
    if (key == "step") c.step = std::stoll(v);
    else if (key == "epoch") c.epoch = std::stoll(v);
    else if (key == "batch") c.batch = std::stoll(v);
    else if (key == "batches_per_epoch") c.batches_per_epoch = std::stoll(v);
    else if (key == "batch_size") c.batch_size = std::stoll(v);
    else if (key == "samples") c.samples = std::stoll(v);
    else if (key == "world_size") c.world_size = int(std::stoll(v));
    else if (key == "sharded") c.sharded = v == "1";
    else if (key == "lr") c.lr = std::strtod(v.c_str(), nullptr);
    else if (key == "loss_sum") c.loss_sum = std::strtod(v.c_str(), nullptr);
    else if (key == "seen") c.seen = std::stoll(v);
    else if (key == "file") {
      int64_t bytes = -1;
      std::string crc;
      ls >> bytes >> crc;
      BIGDL_CHECK(!ls.fail() && v.find('/') == std::string::npos, FormatError, "checkpoint", manifest,
                  ": bad line '", line, "'");
      c.files.push_back(v);
      sums.emplace_back(bytes, uint32_t(std::strtoul(crc.c_str(), nullptr, 16)));
    }
  }
  BIGDL_CHECK(c.world_size >= 1 && int(c.files.size()) == c.world_size && c.batches_per_epoch > 0, FormatError,
              "checkpoint", manifest, ": lists ", c.files.size(), " files for world size ", c.world_size);
  if (!check_files) return c;
  const fs::path dir = fs::path(manifest).parent_path();
  for (size_t i = 0; i < c.files.size(); ++i) {
    const std::string path = (dir / c.files[i]).string();
    BIGDL_CHECK(fs::exists(path), IOError, "checkpoint", path, ": missing");
    int64_t bytes = 0;
    const uint32_t crc = file_crc(path, &bytes);
    BIGDL_CHECK(bytes == sums[i].first, FormatError, "checkpoint", path, ": size ", bytes, " bytes, manifest says ",
                sums[i].first);
    BIGDL_CHECK(crc == sums[i].second, FormatError, "checkpoint", path, ": checksum mismatch (corrupted)");
  }
  return c;
}

namespace {
// Steps of the manifests in dir, newest first.
std::vector<int64_t> manifest_steps(const std::string& dir) {
  std::vector<int64_t> steps;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return steps;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string n = e.path().filename().string();
    long long s = 0;
    char rest[16] = {0};
    if (n.size() == 22 && std::sscanf(n.c_str(), "ckpt-%8lld.%9s", &s, rest) == 2 && std::strcmp(rest, "manifest") == 0)
      steps.push_back(s);
  }
  std::sort(steps.rbegin(), steps.rend());
  return steps;
}
}  // namespace

std::optional<StepCheckpoint> find_step_checkpoint(const std::string& dir, std::FILE* warn) {
  for (int64_t s : manifest_steps(dir)) {
    try {
      return verify_step_checkpoint((fs::path(dir) / (step_name(s) + ".manifest")).string());
    } catch (const Error& e) {
      std::string why = e.what();
      if (why.rfind("[checkpoint] ", 0) == 0) why = why.substr(13);
      if (warn) std::fprintf(warn, "[checkpoint] warning: %s; using the previous checkpoint\n", why.c_str());
    }
  }
  return std::nullopt;
}

void Model::save_step_checkpoint(const FitOptions& o, dist::Group* g, const StepCheckpoint& pos) {
  const int rank = g ? g->rank() : 0, world = g ? g->size() : 1;
  const bool sharded = sync_ && sync_->has_optimizer();
  const std::string base = step_name(pos.step);
  const fs::path dir(o.checkpoint_dir);
  std::string err;
  int64_t bytes = 0;
  uint32_t crc = 0;
  const std::string path = (dir / (base + ".rank" + std::to_string(rank) + ".safetensors")).string();
  try {
    fs::create_directories(dir);  // every rank: no rank writes before the directory exists
    nn::NamedTensors all;
    for (auto& [k, t] : rank == 0 ? net_->state_dict() : net_->named_buffers()) all.emplace_back("model." + k, t);
    for (auto& [k, t] : sharded ? sync_->shard_state_dict() : opt_->state_dict()) all.emplace_back("optimizer." + k, t);
    io::save_tensors(path, all, {{"format", "bigdl-step-checkpoint"}, {"rng", rng_string()}});
    crc = file_crc(path, &bytes);
  } catch (const std::exception& e) {
    err = bigdl::detail::cat("[checkpoint] rank ", rank, ": writing ", path, ": ", e.what());
  }
  agree(g, err, kIO);
  std::vector<int64_t> info(size_t(world) * 2, 0);
  info[size_t(rank) * 2] = bytes;
  info[size_t(rank) * 2 + 1] = int64_t(crc);
  if (g) g->all_reduce(info.data(), int64_t(info.size()), DType::i64, dist::ReduceOp::sum);
  err.clear();
  if (rank == 0) {
    try {
      std::string m = std::string(kMagic) + "\n";
      m += bigdl::detail::cat("step ", pos.step, "\nepoch ", pos.epoch, "\nbatch ", pos.batch, "\nbatches_per_epoch ",
                       pos.batches_per_epoch, "\nbatch_size ", pos.batch_size, "\nsamples ", pos.samples,
                       "\nworld_size ", world, "\nsharded ", sharded ? 1 : 0, "\nlr ", hexfloat(opt_->lr()),
                       "\nloss_sum ", hexfloat(pos.loss_sum), "\nseen ", pos.seen, "\n");
      for (int r = 0; r < world; ++r) {
        char line[160];
        std::snprintf(line, sizeof line, "file %s.rank%d.safetensors %lld %08x\n", base.c_str(), r,
                      (long long)info[size_t(r) * 2], unsigned(info[size_t(r) * 2 + 1]));
        m += line;
      }
      char tail[32];
      std::snprintf(tail, sizeof tail, "crc32c %08x\n", unsigned(detail::crc32c(m.data(), m.size())));
      m += tail;
      io::write_file_atomic((dir / (base + ".manifest")).string(),
                            [&](std::FILE* f) { io::write_all(f, m.data(), m.size()); });
      // Keep the newest keep_checkpoints: the manifest goes first, so a half-removed
      // checkpoint is never taken for a valid one.
      const std::vector<int64_t> steps = manifest_steps(o.checkpoint_dir);
      for (size_t i = size_t(std::max<int64_t>(o.keep_checkpoints, 1)); i < steps.size(); ++i) {
        const std::string old = step_name(steps[i]);
        std::error_code ec;
        fs::remove(dir / (old + ".manifest"), ec);
        for (const auto& e : fs::directory_iterator(dir, ec))
          if (e.path().filename().string().rfind(old + ".", 0) == 0) fs::remove(e.path(), ec);
      }
    } catch (const std::exception& e) {
      err = bigdl::detail::cat("[checkpoint] rank 0: writing ", (dir / (base + ".manifest")).string(), ": ", e.what());
    }
  }
  agree(g, err, kIO);
}

std::optional<StepCheckpoint> Model::resume_step_checkpoint(const FitOptions& o, dist::Group* g,
                                                            const StepCheckpoint& now, bool print) {
  const bool auto_ = o.resume == "auto";
  const std::string dir = auto_ ? o.checkpoint_dir : o.resume;
  const int rank = g ? g->rank() : 0, world = g ? g->size() : 1;
  // Rank 0 picks (verifying every file once); the others follow its choice.
  int64_t step = -1;
  std::string err;
  ErrKind kind = kIO;
  if (rank == 0) {
    try {
      BIGDL_CHECK(!dir.empty(), ValueError, "resume", "resume 'auto' needs a checkpoint directory");
      std::optional<StepCheckpoint> c = find_step_checkpoint(dir, stderr);
      if (c) {
        step = c->step;
        BIGDL_CHECK(c->world_size == world, ValueError, "resume", c->manifest, ": written by ", c->world_size,
                    " rank(s), this job has ", world,
                    "; resume with the same number of ranks, or from an epoch checkpoint (--checkpoint), which loads "
                    "with any number");
        BIGDL_CHECK(c->sharded == (sync_ && sync_->has_optimizer()), ValueError, "resume", c->manifest,
                    ": optimizer state is ", c->sharded ? "sharded (distributed training)" : "one process's",
                    ", this run's is not");
        BIGDL_CHECK(c->batch_size == now.batch_size && c->samples == now.samples &&
                        c->batches_per_epoch == now.batches_per_epoch,
                    ValueError, "resume", c->manifest, ": written for batch size ", c->batch_size, " over ",
                    c->samples, " samples, this run has batch size ", now.batch_size, " over ", now.samples);
      } else {
        BIGDL_CHECK(auto_, IOError, "resume", dir, ": no valid checkpoint (no ckpt-*.manifest whose checksums match)");
      }
      // Leftovers of the interrupted run: temp files and files no manifest lists.
      std::error_code ec;
      const std::vector<int64_t> steps = manifest_steps(dir);
      if (fs::is_directory(dir, ec))
        for (const auto& e : fs::directory_iterator(dir, ec)) {
          const std::string n = e.path().filename().string();
          long long s = -1;
          if (n.rfind("ckpt-", 0) != 0 || std::sscanf(n.c_str(), "ckpt-%8lld", &s) != 1) continue;
          if (n.find(".tmp.") != std::string::npos || std::find(steps.begin(), steps.end(), s) == steps.end())
            fs::remove(e.path(), ec);
        }
    } catch (const ValueError& e) {
      err = e.what();
      kind = kValue;
    } catch (const std::exception& e) {
      err = e.what();
    }
  }
  agree(g, err, kind);
  if (g) g->broadcast(&step, sizeof step, 0);
  if (step < 0) {
    if (print) std::fprintf(stderr, "resume: no checkpoint in %s yet, starting fresh\n", dir.c_str());
    return std::nullopt;
  }
  err.clear();
  StepCheckpoint c;
  try {
    c = verify_step_checkpoint((fs::path(dir) / (step_name(step) + ".manifest")).string(), false);
    // Weights from rank 0's file, then this rank's own buffers and optimizer state.
    std::map<std::string, std::string> meta;
    const std::string mine = (fs::path(dir) / c.files[size_t(rank)]).string();
    const nn::NamedTensors own = io::load_tensors(mine, &meta);
    const nn::NamedTensors first = rank == 0 ? own : io::load_tensors((fs::path(dir) / c.files[0]).string());
    nn::NamedTensors model, buffers, optim_state;
    for (auto& [k, t] : first)
      if (k.rfind("model.", 0) == 0) model.emplace_back(k.substr(6), t);
    for (auto& [k, t] : own) {
      if (k.rfind("optimizer.", 0) == 0) optim_state.emplace_back(k.substr(10), t);
      else if (rank != 0 && k.rfind("model.", 0) == 0) buffers.emplace_back(k.substr(6), t);
    }
    net_->load_state_dict(model);
    if (!buffers.empty()) net_->load_state_dict(buffers, false);
    if (c.sharded) sync_->load_shard_state_dict(optim_state);
    else opt_->load_state_dict(optim_state);
    opt_->set_lr(c.lr);
    set_rng(meta["rng"], mine);
  } catch (const std::exception& e) {
    err = bigdl::detail::cat("[resume] rank ", rank, ": ", e.what());
  }
  agree(g, err, kFormat);
  if (print)
    std::fprintf(stderr, "resumed from %s: step %lld (epoch %lld, batch %lld of %lld)\n", c.manifest.c_str(),
                 (long long)c.step, (long long)c.epoch + 1, (long long)c.batch, (long long)c.batches_per_epoch);
  return c;
}

}  // namespace bigdl::train
