// bigdl — the one command line of bigdl-cpp.
//
//   bigdl train [options]       train a network on a real data set (default: MLP on digits)
//   bigdl evaluate [options]    score saved weights (safetensors or a PyTorch state_dict)
//   bigdl llm generate|tokenize|bench|convert|save-low-bit|chat|perplexity|embed [options]
//                               low-bit LLM inference and sentence embeddings
//   bigdl version
//
// Every error is one line on stderr and a non-zero exit.
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <limits>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bigdl/dist/group.h"
#include "bigdl/io/tensor_io.h"
#include "bigdl/llm/chat.h"
#include "bigdl/llm/convert.h"
#include "bigdl/llm/embed.h"
#include "bigdl/llm/generate.h"
#include "bigdl/llm/model.h"
#include "bigdl/llm/perplexity.h"
#include "bigdl/llm/sampler.h"
#include "bigdl/llm/vocab.h"
#include "bigdl/nn/loss.h"
#include "bigdl/optim/lr_scheduler.h"
#include "bigdl/random.h"
#include "bigdl/serve/server.h"
#include "bigdl/train/callbacks.h"
#include "bigdl/train/model.h"
#include "bigdl/train/zoo.h"

using namespace bigdl;

namespace {

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Set on ranks > 0 of a distributed `bigdl train`: only rank 0 prints.
bool g_quiet = false;

// --key value / --key=value / --flag parsing against a fixed set of known options, with
// llama.cpp's short names (-m, -p, -f, -n, -t, -c, -s, --temp, ...) as aliases.
class Args {
 public:
  Args(int argc, char** argv, int first, const std::map<std::string, std::string>& defaults, const std::string& cmd,
       const std::vector<std::string>& flags = {})
      : values_(defaults) {
    // llama.cpp's spellings of our options (llama-cli, llama-perplexity, llama-bench).
    static const std::map<std::string, std::string> kAlias = {
        {"-m", "model"},   {"-p", "prompt"},  {"-f", "file"},        {"-n", "n-predict"},
        {"-t", "threads"}, {"-c", "ctx"},     {"-s", "seed"},        {"--temp", "temperature"},
        {"--ctx-size", "ctx"}, {"--top-k", "top-k"}, {"--top-p", "top-p"}, {"--min-p", "min-p"},
        {"--repeat-penalty", "repeat-penalty"}, {"--repeat-last-n", "repeat-last-n"},
        {"-ngl", "n-gpu-layers"}, {"--chunks", "chunks"}};
    for (const auto& f : flags) values_.emplace(f, "false");
    for (int i = first; i < argc; ++i) {
      std::string a = argv[i];
      if (a == "-h" || a == "--help") throw UsageError("help");
      std::string key, value;
      bool has_value = false;
      if (const auto eq = a.find('='); eq != std::string::npos && a.rfind("--", 0) == 0) {
        value = a.substr(eq + 1);
        a = a.substr(0, eq);
        has_value = true;
      }
      if (const auto it = kAlias.find(a); it != kAlias.end() && values_.count(it->second)) {
        key = it->second;
      } else if (a.rfind("--", 0) == 0) {
        key = a.substr(2);
      } else {
        throw UsageError("bigdl " + cmd + ": unexpected argument '" + a + "'");
      }
      if (!values_.count(key)) throw UsageError("bigdl " + cmd + ": unknown option " + a);
      if (std::find(flags.begin(), flags.end(), key) != flags.end()) {
        if (has_value) throw UsageError("bigdl " + cmd + ": option " + a + " takes no value");
        values_[key] = "true";
        continue;
      }
      if (!has_value) {
        if (i + 1 >= argc) throw UsageError("bigdl " + cmd + ": option " + a + " needs a value");
        value = argv[++i];
      }
      values_[key] = value;
    }
  }
  const std::string& str(const std::string& k) const { return values_.at(k); }
  bool flag(const std::string& k) const { return values_.at(k) == "true"; }
  int64_t integer(const std::string& k) const {
    try {
      size_t pos = 0;
      const long long v = std::stoll(str(k), &pos);
      if (pos != str(k).size()) throw std::invalid_argument(k);
      return v;
    } catch (const std::exception&) {
      throw UsageError("option --" + k + " expects an integer, got '" + str(k) + "'");
    }
  }
  // An integer in [lo, hi]; UsageError naming the option and the range otherwise.
  int64_t integer(const std::string& k, int64_t lo, int64_t hi) const {
    const int64_t v = integer(k);
    if (v < lo || v > hi)
      throw UsageError("option --" + k + " is " + std::to_string(v) + ", expected " +
                       (hi == INT64_MAX ? ">= " + std::to_string(lo)
                                        : "in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]"));
    return v;
  }
  double real(const std::string& k) const {
    try {
      size_t pos = 0;
      const double v = std::stod(str(k), &pos);
      if (pos != str(k).size() || !std::isfinite(v)) throw std::invalid_argument(k);
      return v;
    } catch (const std::exception&) {
      throw UsageError("option --" + k + " expects a number, got '" + str(k) + "'");
    }
  }
  // A number in [lo, hi] ((lo, hi] with lo_open).
  double real(const std::string& k, double lo, double hi, bool lo_open = false) const {
    const double v = real(k);
    if (v < lo || (lo_open && v == lo) || v > hi)
      throw UsageError("option --" + k + " is " + str(k) + ", expected a number " +
                       (std::isinf(hi) ? std::string(lo_open ? "> " : ">= ") + fmt(lo)
                                       : std::string("in ") + (lo_open ? "(" : "[") + fmt(lo) + ", " + fmt(hi) + "]"));
    return v;
  }

 private:
  static std::string fmt(double x) {
    std::ostringstream o;
    o << x;
    return o.str();
  }
  std::map<std::string, std::string> values_;
};

// --threads N: 0 keeps the default (the machine's cores), negative is refused.
void set_threads(const Args& a) {
  if (const int64_t t = a.integer("threads", 0, 4096); t > 0) set_num_threads(int(t));
}

const char* kUsage =
    "usage: bigdl <command> [options]\n"
    "\n"
    "commands:\n"
    "  train      train a network on a real data set and report test accuracy\n"
    "             --data digits|fashion-mnist   (default digits: sklearn's 1,797 8x8 digits, seeded 80/20 split)\n"
    "             --data-path PATH              digits.csv.gz, or the folder holding the IDX files\n"
    "             --model mlp|cnn|lenet5        (default mlp)\n"
    "             --epochs N --batch-size N --lr X --optimizer adam|adamw|sgd|rmsprop|adagrad\n"
    "             --momentum X --weight-decay X --seed N --threads N\n"
    "             --log-dir DIR      TensorBoard summaries (train/ and validation/)\n"
    "             --checkpoint PATH  save model+optimizer after every epoch ({epoch} allowed)\n"
    "             --checkpoint-dir DIR --checkpoint-every N [--keep-checkpoints M (3)]\n"
    "                                a step checkpoint every N steps (per-rank files + checksummed manifest)\n"
    "             --resume PATH|DIR|auto  continue from an epoch checkpoint file, from the newest valid step\n"
    "                                checkpoint in DIR (default --checkpoint-dir), or (auto) in --checkpoint-dir\n"
    "                                if it holds one; BIGDL_DIST_TIMEOUT=S: abort a job whose peers hang S s (60)\n"
    "             --save PATH        write the trained weights as safetensors\n"
    "             --num-processes N  data-parallel on N processes of this machine (Gloo), as under mpirun\n"
    "             --precision fp32|bf16  bf16: mixed-precision training (bf16 products, f32 weights; native bf16 CPUs)\n"
    "             under mpirun -np N or srun: data-parallel on N ranks, global batch --batch-size, rank 0\n"
    "             prints (docs/distributed.md); --grad-wire f32|bf16|f16 gradient format (default f32)\n"
    "  evaluate   score weights on a test set\n"
    "             --model mlp --sizes 784,500,10 --weights PATH (safetensors or torch.save state_dict)\n"
    "             --data mnist|fashion-mnist|digits --data-path PATH\n"
    "  llm generate   stream a continuation of a prompt (llama-cli's short options work: -m -p -f -n -t -c -s --temp)\n"
    "             --model FILE.gguf|HF_DIR|LOW_BIT_DIR --prompt TEXT | --file FILE\n"
    "             [--n-predict N (default 128, -1: until EOS/context full)]\n"
    "             [--temperature T (0.8; 0 = greedy)] [--top-k K (40)] [--top-p P (0.95)] [--min-p P (0.05)]\n"
    "             [--repeat-penalty R (1.0)] [--repeat-last-n N (64)] [--seed S (0)] [--ctx N (file's)]\n"
    "             [--low-bit sym_int4|asym_int4|sym_int5|asym_int5|sym_int8|nf4|nf3|fp4|fp8_e4m3|fp8_e5m2|\n"
    "              fp16|bf16|fp32|q3_k|q4_k|q5_k|q8_k (one type; quantize at load; fp8 = fp8_e5m2), or a\n"
    "              llama-quantize file type: q2_k|q3_k_s|q3_k_m|q3_k_l|q4_k_s|q4_k_m|q5_k_s|q5_k_m|q6_k|\n"
    "              iq4_nl|iq4_xs|q4_0|q4_1|q5_0|q5_1|q8_0] [--threads N (0: all cores)]\n"
    "             [--kv-type f16|f32|fp8 (KV cache storage, default f16; fp8 = E5M2; also for bench,\n"
    "              chat and perplexity)]\n"
    "  llm tokenize   print the prompt's token ids as [1, 403, ...] (llama-tokenize --ids)\n"
    "             --model FILE --prompt TEXT [--no-bos (no BOS / EOS / [CLS] [SEP])]\n"
    "  llm bench      prefill / decode tokens per second, first-token latency, peak RSS\n"
    "             --model FILE.gguf [--n-prompt 32] [--n-gen 64] [--ctx N] [--reps 3] [--low-bit TYPE] [--threads N]\n"
    "             [--format text|json (json: one line for scripts)]\n"
    "  llm convert    write an HF folder or GGUF as a (low-bit) GGUF of its architecture (llama.cpp loads\n"
    "             it), tokenizer included, atomically\n"
    "             --model SRC --out DST.gguf [--low-bit TYPE (default: keep the stored types)]\n"
    "             [--imatrix FILE (llama-imatrix's importance matrix, GGUF or .dat, as llama-quantize)]\n"
    "  llm save-low-bit  bigdl-llm's save_low_bit: a folder (model.gguf + config and tokenizer files) that\n"
    "             --model DIR loads back\n"
    "             --model SRC --out DIR [--low-bit TYPE (default sym_int4)] [--imatrix FILE (as convert)]\n"
    "  llm serve      an OpenAI-compatible HTTP server (/v1/chat/completions, /v1/completions, /v1/models,\n"
    "             /health, /metrics, /openapi.json) with continuous batching; SIGTERM drains, then exits\n"
    "             --model FILE|DIR [--host 127.0.0.1] [--port 8000 (0: any)] [--api-key KEY (or $BIGDL_API_KEY)]\n"
    "             [--parallel 4 (sequences decoded together)] [--ctx N (per sequence; 0: min(trained, 4096))]\n"
    "             [--queue 64 (waiting requests; more get 429)] [--timeout 600 (s per request)]\n"
    "             [--low-bit TYPE] [--kv-type f16|f32|fp8] [--alias NAME (model id; default the file name)]\n"
    "             [--template NAME|JINJA (default the model's)] [--threads N]\n"
    "  llm chat       chat on stdin: one user turn per line, EOF or /exit ends; answers stream to stdout\n"
    "             --model FILE [--system TEXT] [--template chatml|llama2|llama3|zephyr|mistral (default: the\n"
    "             model's tokenizer.chat_template)] [--n-predict N (256)] [sampling options as generate]\n"
    "  llm perplexity llama.cpp's perplexity: chunks of --ctx tokens, the second half of each scored\n"
    "             --model FILE --file TEXT [--ctx 512] [--chunks N (default: all)] [--low-bit TYPE] [--threads N]\n"
    "  llm embed      sentence embeddings, one JSON array per text (BERT-style encoders: all-MiniLM, bge)\n"
    "             --model FILE|DIR --prompt TEXT | --file FILE (one text per line)\n"
    "             [--pooling mean|cls|last (default: the model's)] [--no-normalize]\n"
    "  version    print the version\n";

optim::OptimizerPtr make_optimizer(const Args& a, const std::vector<Tensor>& params) {
  const std::string name = a.str("optimizer");
  const double lr = a.real("lr"), wd = a.real("weight-decay");
  if (name == "adam") return std::make_shared<optim::Adam>(params, optim::AdamOptions{lr, 0.9, 0.999, 1e-8, wd});
  if (name == "adamw") return std::make_shared<optim::AdamW>(params, optim::AdamOptions{lr, 0.9, 0.999, 1e-8, wd});
  if (name == "sgd") return std::make_shared<optim::SGD>(params, optim::SGDOptions{lr, a.real("momentum"), 0.0, wd});
  if (name == "rmsprop") return std::make_shared<optim::RMSprop>(params, optim::RMSpropOptions{lr, 0.99, 1e-8, wd});
  if (name == "adagrad") return std::make_shared<optim::Adagrad>(params, optim::AdagradOptions{lr, 0.0, wd});
  throw UsageError("unknown --optimizer '" + name + "' (adam, adamw, sgd, rmsprop, adagrad)");
}

std::vector<int64_t> parse_sizes(const std::string& s) {
  std::vector<int64_t> out;
  size_t start = 0;
  while (start <= s.size()) {
    const size_t comma = s.find(',', start);
    const std::string part = s.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    try {
      out.push_back(std::stoll(part));
    } catch (const std::exception&) {
      throw UsageError("--sizes expects comma-separated integers, got '" + s + "'");
    }
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

// (train x, train y, test x, test y) for a named data set.
struct Split {
  Tensor xtr, ytr, xte, yte;
  std::string description;
};

Split load_data(const std::string& name, const std::string& path) {
  Split s;
  if (name == "digits") {
    auto [x, y] = train::load_digits(path);
    auto [tr, te] = train::train_test_split(x, y, 0.2, 0);
    s = {tr->x(), tr->y(), te->x(), te->y(), "digits (sklearn, 8x8)"};
  } else if (name == "fashion-mnist" || name == "mnist") {
    const std::string dir = !path.empty() ? path
                            : name == "mnist" ? std::string(BIGDL_SHARED_DATA) + "/vision/mnist"
                                              : "/usr/share/datasets/fashion-mnist";
    auto [xte, yte] = train::load_idx_dataset(dir + "/t10k-images-idx3-ubyte.gz", dir + "/t10k-labels-idx1-ubyte.gz");
    s.xte = xte;
    s.yte = yte;
    if (std::filesystem::exists(dir + "/train-images-idx3-ubyte.gz")) {
      auto [xtr, ytr] = train::load_idx_dataset(dir + "/train-images-idx3-ubyte.gz", dir + "/train-labels-idx1-ubyte.gz");
      s.xtr = xtr;
      s.ytr = ytr;
    }
    s.description = name + " (" + dir + ")";
  } else {
    throw UsageError("unknown --data '" + name + "' (digits, fashion-mnist, mnist)");
  }
  if (!g_quiet)
    std::fprintf(stderr, "data: %s: %lld train / %lld test samples\n", s.description.c_str(),
                 (long long)(s.xtr.defined() ? s.xtr.size(0) : 0), (long long)s.xte.size(0));
  return s;
}

// Shapes the input for the chosen network (images for CNNs, flat rows for MLPs).
Tensor shape_input(const Tensor& x, const std::string& model) {
  if (!x.defined()) return x;
  if (model == "mlp") return x.reshape({x.size(0), -1});
  if (x.dim() == 2) {  // digits rows -> 1x8x8 images
    const int64_t side = int64_t(std::lround(std::sqrt(double(x.size(1)))));
    return x.reshape({x.size(0), 1, side, side});
  }
  return x;
}

int train_run(const Args& a, const dist::GroupPtr& group);
int train_ranked(const Args& a, const dist::GroupPtr& group);
int train_processes(const Args& a, int n);

int cmd_train(int argc, char** argv) {
  Args a(argc, argv, 2,
         {{"data", "digits"}, {"data-path", ""}, {"model", "mlp"}, {"epochs", "30"}, {"batch-size", "32"},
          {"lr", "0.001"}, {"optimizer", "adam"}, {"momentum", "0.9"}, {"weight-decay", "0"}, {"seed", "0"},
          {"threads", "0"}, {"log-dir", ""}, {"checkpoint", ""}, {"resume", ""}, {"save", ""}, {"hidden", "128,64"},
          {"grad-wire", "f32"}, {"checkpoint-dir", ""}, {"checkpoint-every", "0"}, {"keep-checkpoints", "3"},
          {"num-processes", "1"}, {"precision", "fp32"}},
         "train");
  const int64_t processes = a.integer("num-processes", 1, 256);
  if (processes > 1) {
    if (dist::launched_by_mpi()) throw UsageError("--num-processes cannot be combined with mpirun / srun (they start the ranks)");
    return train_processes(a, int(processes));
  }
  // Started by mpirun / srun with several processes: data-parallel over all of them.
  return train_ranked(a, dist::launched_by_mpi() ? dist::world() : nullptr);
}

// train_run on this rank of `group` (null: one process). An error every rank meets is
// reported once, by rank 0; an error on one rank ends the job instead of hanging it.
int train_ranked(const Args& a, const dist::GroupPtr& group) {
  try {
    return train_run(a, group);
  } catch (const std::exception& e) {
    if (!group || group->size() == 1) throw;
    // Every rank failed (bad input they all share): rank 0 reports it, all exit.
    if (group->barrier_within(5.0)) {
      if (group->rank() == 0) throw;
      return 1;
    }
    // This rank alone: the others may wait for it in a collective, so end the job.
    std::fprintf(stderr, "bigdl: error (rank %d of %d): %s\n", group->rank(), group->size(), e.what());
    group->abort(1);
  }
  return 1;  // not reached: abort() ends the process
}

// --num-processes N: N forked copies of this process, each a rank of a Gloo group on
// 127.0.0.1 whose rendezvous is a file exchange in a private temporary folder; the
// result equals one process's at the same global batch (as under mpirun). The parent
// waits, and stops the others as soon as one fails.
int train_processes(const Args& a, int n) {
  if (!dist::gloo_available()) throw UsageError("--num-processes needs bigdl built with Gloo (libgloo-dev)");
  char tmpl[] = "/tmp/bigdl-train-XXXXXX";
  if (!mkdtemp(tmpl)) throw Error(std::string("[train] cannot create a temporary folder: ") + std::strerror(errno));
  const std::string dir = tmpl;
  std::fflush(nullptr);
  std::vector<pid_t> kids;
  for (int r = 0; r < n; ++r) {
    const pid_t pid = fork();
    if (pid < 0) throw Error(std::string("[train] fork: ") + std::strerror(errno));
    if (pid == 0) {
      int rc = 1;
      try {
        dist::GlooOptions o;
        rc = train_ranked(a, dist::gloo_group(r, n, dist::file_exchange(dir, r, n, 60.0), o));
      } catch (const std::exception& e) {
        std::fprintf(stderr, "bigdl: error: %s\n", e.what());
      }
      std::fflush(nullptr);
      _exit(rc);
    }
    kids.push_back(pid);
  }
  int result = 0;
  for (size_t left = kids.size(); left > 0; --left) {
    int status = 0;
    const pid_t done = waitpid(-1, &status, 0);
    if (done < 0) break;
    const int rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (rc != 0 && result == 0) {
      result = rc;
      for (pid_t k : kids)
        if (k != done) kill(k, SIGTERM);
    }
  }
  std::filesystem::remove_all(dir);
  return result == 0 ? 0 : 1;
}

int train_run(const Args& a, const dist::GroupPtr& group) {
  g_quiet = group && group->rank() != 0;
  const std::string precision = a.str("precision");
  if (precision != "fp32" && precision != "bf16") throw UsageError("--precision must be fp32 or bf16, got '" + precision + "'");
  if (precision == "bf16") {
    AutocastBf16Guard probe(true);  // a CPU without native bf16 refuses here, before any work
  }
  if (a.integer("threads", 0, 4096) > 0) set_threads(a);
  else if (group)  // ranks on one host share its cores
    set_num_threads(std::max(1, get_num_threads() / group->local_size()));
  manual_seed(uint64_t(a.integer("seed")));
  Split d = load_data(a.str("data"), a.str("data-path"));
  if (!d.xtr.defined()) throw Error("[train] " + d.description + " has no training images");
  const std::string model_name = a.str("model");
  Tensor xtr = shape_input(d.xtr, model_name), xte = shape_input(d.xte, model_name);
  nn::ModulePtr net;
  if (model_name == "mlp") {
    std::vector<int64_t> sizes{xtr.size(1)};
    for (int64_t h : parse_sizes(a.str("hidden"))) sizes.push_back(h);
    sizes.push_back(10);
    net = train::zoo::mlp(sizes);
  } else if (model_name == "cnn") {
    net = train::zoo::digits_cnn();
  } else if (model_name == "lenet5") {
    net = train::zoo::lenet5();
  } else {
    throw UsageError("unknown --model '" + model_name + "' (mlp, cnn, lenet5)");
  }
  if (!g_quiet)
    std::fprintf(stderr, "model: %s, %lld parameters%s\n", model_name.c_str(), (long long)net->num_parameters(),
                 group ? (", " + std::to_string(group->size()) + " ranks").c_str() : "");
  train::Model model(net);
  model.compile(make_optimizer(a, net->parameters()), std::make_shared<nn::CrossEntropyLoss>(), {"accuracy"});
  train::FitOptions fo;
  fo.batch_size = a.integer("batch-size");
  fo.epochs = a.integer("epochs");
  fo.seed = uint64_t(a.integer("seed"));
  fo.val_x = xte;
  fo.val_y = d.yte;
  fo.log_dir = a.str("log-dir");
  fo.sync.wire = dist::parse_wire_type(a.str("grad-wire"));
  fo.group = group;  // MPI's world, a --num-processes Gloo group, or null (one process)
  if (!a.str("checkpoint").empty()) fo.callbacks.push_back(std::make_shared<train::ModelCheckpoint>(a.str("checkpoint")));
  const std::string resume = a.str("resume");
  fo.checkpoint_dir = a.str("checkpoint-dir");
  // Resuming from a folder of step checkpoints goes on writing them there.
  if (fo.checkpoint_dir.empty() && resume != "auto" && std::filesystem::is_directory(resume)) fo.checkpoint_dir = resume;
  fo.checkpoint_every = a.integer("checkpoint-every");
  fo.keep_checkpoints = a.integer("keep-checkpoints");
  if (fo.checkpoint_every > 0 && fo.checkpoint_dir.empty())
    throw UsageError("--checkpoint-every needs --checkpoint-dir DIR");
  if (resume == "auto" && fo.checkpoint_dir.empty()) throw UsageError("--resume auto needs --checkpoint-dir DIR");
  if (resume == "auto" || std::filesystem::is_directory(resume)) {
    fo.resume = resume;  // fit() picks the newest valid step checkpoint
  } else if (!resume.empty()) {
    fo.initial_epoch = model.load_checkpoint(a.str("resume"));
    if (!g_quiet)
      std::fprintf(stderr, "resumed from %s at epoch %lld\n", a.str("resume").c_str(), (long long)fo.initial_epoch);
  }
  {
    AutocastBf16Guard autocast(precision == "bf16");  // bf16 matrix products and convolutions while training
    model.fit(xtr, d.ytr, fo);
  }
  train::Logs test = model.evaluate(xte, d.yte);  // every rank holds the same weights
  if (g_quiet) return 0;
  std::printf("test accuracy: %.2f%% (%lld samples), test loss: %.4f\n", 100.0 * test["accuracy"],
              (long long)xte.size(0), test["loss"]);
  if (!a.str("save").empty()) {
    io::save_tensors(a.str("save"), net->state_dict(), {{"format", "bigdl-weights"}, {"model", model_name}});
    std::fprintf(stderr, "saved weights to %s\n", a.str("save").c_str());
  }
  return 0;
}

int cmd_evaluate(int argc, char** argv) {
  Args a(argc, argv, 2, {{"model", "mlp"}, {"sizes", "784,500,10"}, {"weights", ""}, {"data", "mnist"}, {"data-path", ""},
                         {"threads", "0"}},
         "evaluate");
  set_threads(a);
  if (a.str("weights").empty()) throw UsageError("bigdl evaluate: --weights PATH is required");
  if (a.str("model") != "mlp") throw UsageError("bigdl evaluate: only --model mlp is supported for now");
  auto net = train::zoo::mlp(parse_sizes(a.str("sizes")));
  net->load_state_dict(io::load_tensors(a.str("weights")));
  Split d = load_data(a.str("data"), a.str("data-path"));
  train::Model model(net);
  model.compile(std::make_shared<optim::SGD>(net->parameters(), optim::SGDOptions{}),
                std::make_shared<nn::CrossEntropyLoss>(), {"accuracy"});
  Tensor x = shape_input(d.xte, "mlp");
  train::Logs r = model.evaluate(x, d.yte);
  std::printf("accuracy: %.2f%% (%lld samples), loss: %.4f\n", 100.0 * r["accuracy"], (long long)x.size(0), r["loss"]);
  return 0;
}

// ---- bigdl llm ----------------------------------------------------------------------

std::string need_model(const Args& a, const std::string& cmd) {
  const std::string path = a.str("model");
  if (path.empty()) throw UsageError("bigdl llm " + cmd + ": --model FILE.gguf is required");
  return path;
}

// A model and one context on it (the CLI runs one sequence at a time). The low-bit type
// is parsed before the model loads, so a typo fails at once.
struct Session {
  std::shared_ptr<const llm::Model> model;
  llm::Context ctx;
};
Session open_model(const std::string& path, int64_t n_ctx, const std::string& low_bit = "",
                   const std::string& kv_type = "f16") {
  llm::LoadOptions lo;
  lo.low_bit = llm::LowBit::parse(low_bit, "load_model");
  auto model = llm::load_model(path, lo);
  llm::ContextOptions co;
  co.n_ctx = n_ctx;
  co.kv_type = kv_type;
  llm::Context ctx(model, co);
  return Session{std::move(model), std::move(ctx)};
}

// Sampling options shared by `llm generate` and `llm chat`: their defaults (llama-cli's)
// merged into a command's own, and their values read into SamplerOptions.
std::map<std::string, std::string> with_sampler_options(std::map<std::string, std::string> opts) {
  opts.insert({{"temperature", "0.8"}, {"top-k", "40"}, {"top-p", "0.95"}, {"min-p", "0.05"},
               {"repeat-penalty", "1.0"}, {"repeat-last-n", "64"}, {"seed", "0"}});
  return opts;
}
void read_sampler_options(const Args& a, llm::GenerateOptions* o) {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  o->sampler.temperature = float(a.real("temperature", 0, kInf));
  o->sampler.top_k = int32_t(a.integer("top-k", 0, INT32_MAX));
  o->sampler.top_p = float(a.real("top-p", 0, 1, true));
  o->sampler.min_p = float(a.real("min-p", 0, 1));
  o->sampler.repetition_penalty = float(a.real("repeat-penalty", 0, kInf, true));
  o->sampler.repeat_last_n = int32_t(a.integer("repeat-last-n", -1, INT32_MAX));
  o->sampler.seed = uint64_t(a.integer("seed", 0, INT64_MAX));
}

// The generation length: -1 (until EOS or the context is full) or >= 0.
int64_t n_predict(const Args& a) { return a.integer("n-predict", -1, INT64_MAX); }

// The prompt of --prompt TEXT or -f / --file FILE (read whole, as llama-cli's -f).
std::string read_prompt(const Args& a, const std::string& cmd) {
  if (a.str("file").empty()) return a.str("prompt");
  if (!a.str("prompt").empty()) throw UsageError("bigdl llm " + cmd + ": give --prompt or --file, not both");
  std::ifstream in(a.str("file"), std::ios::binary);
  if (!in.good()) throw IOError("[llm " + cmd + "] " + a.str("file") + ": cannot open");
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

int cmd_llm_generate(int argc, char** argv) {
  Args a(argc, argv, 3,
         with_sampler_options({{"model", ""}, {"prompt", ""}, {"file", ""}, {"n-predict", "128"}, {"ctx", "0"},
                               {"threads", "0"}, {"low-bit", ""}, {"kv-type", "f16"}}),
         "llm generate");
  const std::string path = need_model(a, "generate");
  set_threads(a);
  llm::GenerateOptions o;
  o.max_new_tokens = n_predict(a);
  read_sampler_options(a, &o);
  const std::string prompt = read_prompt(a, "generate");
  Session s = open_model(path, a.integer("ctx", 0, INT64_MAX), a.str("low-bit"), a.str("kv-type"));
  const llm::Vocab vocab = llm::Vocab::load(path);
  // The prompt is printed as given (once generation has started, so an error prints
  // nothing on stdout); the streamed pieces continue it.
  bool started = false;
  const auto start = [&] {
    if (started) return;
    started = true;
    std::fwrite(prompt.data(), 1, prompt.size(), stdout);
  };
  o.callback = [&](std::string_view piece) {
    start();
    std::fwrite(piece.data(), 1, piece.size(), stdout);
    std::fflush(stdout);
  };
  const llm::GenerateResult r = llm::generate(s.ctx, vocab, prompt, o);
  start();
  std::printf("\n");
  std::fflush(stdout);
  const auto rate = [](int64_t n, double s) { return s > 0 ? double(n) / s : 0.0; };
  std::fprintf(stderr,
               "llm: prompt %lld tokens, generated %lld tokens, prefill %.1f tok/s, decode %.1f tok/s, "
               "stop: %s\n",
               (long long)r.n_prompt, (long long)r.n_generated, rate(r.n_prompt, r.prefill_s),
               rate(r.n_generated, r.decode_s), llm::to_string(r.stop_reason));
  return 0;
}

int cmd_llm_tokenize(int argc, char** argv) {
  Args a(argc, argv, 3, {{"model", ""}, {"prompt", ""}}, "llm tokenize", {"no-bos"});
  const std::string path = need_model(a, "tokenize");
  const llm::Vocab vocab = llm::Vocab::load(path);
  // As llama-tokenize --ids: BOS / EOS (WordPiece: [CLS] / [SEP]) as the vocab says unless
  // --no-bos, special tokens parsed in the text.
  const auto ids = vocab.encode(a.str("prompt"), !a.flag("no-bos"), /*parse_special=*/true);
  std::string line = "[";
  for (size_t i = 0; i < ids.size(); ++i) line += (i ? ", " : "") + std::to_string(ids[i]);
  std::printf("%s]\n", line.c_str());
  return 0;
}

int cmd_llm_bench(int argc, char** argv) {
  Args a(argc, argv, 3, {{"model", ""}, {"n-prompt", "32"}, {"n-gen", "64"}, {"ctx", "0"}, {"reps", "3"},
                         {"threads", "0"}, {"low-bit", ""}, {"format", "text"}, {"kv-type", "f16"}, {"batch", "1"}},
         "llm bench");
  const std::string path = need_model(a, "bench");
  set_threads(a);
  const int64_t n_prompt = a.integer("n-prompt"), n_gen = a.integer("n-gen"), reps = a.integer("reps");
  if (n_prompt < 1 || n_gen < 1 || reps < 1)
    throw UsageError("bigdl llm bench: --n-prompt, --n-gen and --reps must be >= 1");
  const std::string& format = a.str("format");
  if (format != "text" && format != "json")
    throw UsageError("bigdl llm bench: --format must be text or json, got '" + format + "'");
  Session s = open_model(path, a.integer("ctx", 0, INT64_MAX), a.str("low-bit"), a.str("kv-type"));
  if (s.ctx.n_ctx() < n_prompt + n_gen) {
    llm::ContextOptions co;
    co.n_ctx = n_prompt + n_gen;
    co.kv_type = a.str("kv-type");
    s.ctx = llm::Context(s.model, co);
  }
  const llm::ModelConfig& c = s.model->config();
  // A fixed pseudo-random prompt (ids in [0, n_vocab)) so runs are comparable.
  std::vector<int32_t> prompt(static_cast<size_t>(n_prompt));
  Generator g(1234);
  for (auto& t : prompt) t = int32_t(g.next_u64() % uint64_t(c.n_vocab));
  using Clock = std::chrono::steady_clock;
  const auto secs = [](Clock::time_point x, Clock::time_point y) { return std::chrono::duration<double>(y - x).count(); };
  double best_prefill = 1e30, best_decode = 1e30, best_first = 1e30;
  for (int64_t rep = 0; rep < reps; ++rep) {
    const auto t0 = Clock::now();
    const float* logits = nullptr;
    logits = s.ctx.forward_batch(prompt.data(), n_prompt, 0);  // batched prefill, as generate() does
    const auto t1 = Clock::now();
    int32_t next = llm::argmax(logits, c.n_vocab);
    const auto t2 = Clock::now();
    for (int64_t i = 0; i < n_gen; ++i) {
      logits = s.ctx.forward(next, n_prompt + i);
      next = llm::argmax(logits, c.n_vocab);
    }
    const auto t3 = Clock::now();
    best_prefill = std::min(best_prefill, secs(t0, t1));
    best_first = std::min(best_first, secs(t0, t2));
    best_decode = std::min(best_decode, secs(t2, t3));
  }
  // --batch B: B sequences (prompts shifted by one id each) decoded together, one
  // multi-sequence forward per step, as the server's continuous batching runs them.
  const int64_t batch = a.integer("batch", 1, 256);
  double best_batch = 1e30;
  if (batch > 1) {
    std::vector<llm::Context> ctxs;
    for (int64_t b = 0; b < batch; ++b) ctxs.emplace_back(s.model, llm::ContextOptions{.n_ctx = n_prompt + n_gen, .kv_type = a.str("kv-type")});
    const auto nb = static_cast<size_t>(batch);
    std::vector<std::vector<int32_t>> prompts(nb, prompt);
    for (size_t b = 0; b < nb; ++b)
      for (auto& t : prompts[b]) t = int32_t((t + int64_t(b)) % c.n_vocab);
    std::vector<int32_t> next(nb);
    std::vector<llm::BatchSeq> items(nb);
    for (int64_t rep = 0; rep < reps; ++rep) {
      for (int64_t b = 0; b < batch; ++b) {  // each rep refills the caches from position 0
        next[size_t(b)] = llm::argmax(ctxs[size_t(b)].forward_batch(prompts[size_t(b)].data(), n_prompt, 0), c.n_vocab);
      }
      const auto t0 = Clock::now();
      for (int64_t i = 0; i < n_gen; ++i) {
        for (int64_t b = 0; b < batch; ++b) items[size_t(b)] = {&ctxs[size_t(b)], &next[size_t(b)], 1, n_prompt + i, false};
        const std::vector<const float*> logits = llm::forward_batch(items);
        for (int64_t b = 0; b < batch; ++b) next[size_t(b)] = llm::argmax(logits[size_t(b)], c.n_vocab);
      }
      best_batch = std::min(best_batch, secs(t0, Clock::now()));
    }
  }
  const double batch_tok_s = batch > 1 ? double(batch * n_gen) / best_batch : 0.0;
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  if (format == "json") {  // one line for scripts (benchmarks/llm/run.py); the path is not escaped, so left out
    std::printf("{\"n_prompt\": %lld, \"n_gen\": %lld, \"threads\": %d, \"reps\": %lld, \"prefill_tok_s\": %.3f, "
                "\"decode_tok_s\": %.3f, \"first_token_ms\": %.3f, \"peak_rss_mib\": %.1f, \"n_ctx\": %lld, "
                "\"batch\": %lld, \"batch_decode_tok_s\": %.3f}\n",
                (long long)n_prompt, (long long)n_gen, get_num_threads(), (long long)reps,
                double(n_prompt) / best_prefill, double(n_gen) / best_decode, 1e3 * best_first,
                double(ru.ru_maxrss) / 1024.0, (long long)s.ctx.n_ctx(), (long long)batch, batch_tok_s);
    return 0;
  }
  std::printf("model: %s (%s, %lld layers, n_embd %lld, n_vocab %lld, n_ctx %lld)\n", path.c_str(), c.arch.c_str(),
              (long long)c.n_layer, (long long)c.n_embd, (long long)c.n_vocab, (long long)s.ctx.n_ctx());
  std::printf("prefill: %lld tokens, %.1f tok/s\n", (long long)n_prompt, double(n_prompt) / best_prefill);
  std::printf("decode: %lld tokens, %.1f tok/s\n", (long long)n_gen, double(n_gen) / best_decode);
  if (batch > 1)
    std::printf("decode, %lld sequences together: %.1f tok/s aggregate\n", (long long)batch, batch_tok_s);
  std::printf("first-token latency: %.3f ms\n", 1e3 * best_first);
  std::printf("peak RSS: %.1f MiB\n", double(ru.ru_maxrss) / 1024.0);
  std::printf("(best of %lld runs, batched prefill, greedy decode)\n", (long long)reps);
  return 0;
}

int cmd_llm_convert(int argc, char** argv) {
  Args a(argc, argv, 3, {{"model", ""}, {"out", ""}, {"low-bit", ""}, {"imatrix", ""}, {"threads", "0"}}, "llm convert");
  const std::string src = need_model(a, "convert");
  const std::string dst = a.str("out");
  if (dst.empty()) throw UsageError("bigdl llm convert: --out DST.gguf is required");
  set_threads(a);
  const auto shape = [](const std::vector<int64_t>& s) {
    std::string r = "[";
    for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
    return r + "]";
  };
  llm::LoadOptions lo;
  lo.low_bit = llm::LowBit::parse(a.str("low-bit"), "convert");
  lo.imatrix = a.str("imatrix");
  const llm::ConvertStats st = llm::convert(src, dst, lo, [&](const llm::ConvertProgress& p) {
    std::fprintf(stderr, "convert: [%lld/%lld] %-28s %-5s %-12s %llu bytes\n", (long long)p.index + 1,
                 (long long)p.count, p.name.c_str(), p.type.c_str(), shape(p.shape).c_str(),
                 (unsigned long long)p.bytes);
  });
  std::fprintf(stderr, "convert: %lld tensors, %llu bytes in, %llu bytes out, %.2f s -> %s\n",
               (long long)st.n_tensors, (unsigned long long)st.bytes_in, (unsigned long long)st.bytes_out, st.seconds,
               dst.c_str());
  return 0;
}

// A conversation on one context: each turn feeds only what follows the tokens already in
// the KV cache (ChatSession), and a turn that does not fit the context is a one-line error.
int cmd_llm_chat(int argc, char** argv) {
  Args a(argc, argv, 3,
         with_sampler_options({{"model", ""}, {"system", ""}, {"template", ""}, {"n-predict", "256"},
                               {"ctx", "0"}, {"threads", "0"}, {"kv-type", "f16"}}),
         "llm chat");
  const std::string path = need_model(a, "chat");
  set_threads(a);
  const llm::Vocab vocab = llm::Vocab::load(path);
  const std::string tmpl = a.str("template").empty() ? vocab.chat_template() : a.str("template");
  if (tmpl.empty())
    throw UsageError("bigdl llm chat: " + path + " has no chat template (tokenizer.chat_template); "
                     "pass --template chatml|llama2|llama3|zephyr|mistral");
  (void)llm::detect_chat_format(tmpl);  // an unknown template fails before the model loads
  llm::GenerateOptions o;
  o.max_new_tokens = n_predict(a);
  read_sampler_options(a, &o);
  o.callback = [](std::string_view piece) {
    std::fwrite(piece.data(), 1, piece.size(), stdout);
    std::fflush(stdout);
  };
  Session s = open_model(path, a.integer("ctx", 0, INT64_MAX), "", a.str("kv-type"));
  // Each turn feeds only the tokens the KV cache does not hold yet; the oldest turns are
  // dropped when the conversation outgrows the context (bigdl/llm/generate.h ChatSession).
  llm::ChatSession chat(s.ctx, vocab, tmpl, o, a.str("system"));
  for (std::string line; std::getline(std::cin, line);) {
    if (line == "/exit") break;
    if (line.empty()) continue;
    const int64_t dropped_before = chat.dropped_turns();
    const llm::GenerateResult r = chat.send(line);
    std::printf("\n");
    std::fflush(stdout);
    if (chat.dropped_turns() > dropped_before)
      std::fprintf(stderr, "llm chat: the conversation outgrew the context of %lld tokens; dropped the %lld oldest turn(s)\n",
                   (long long)s.ctx.n_ctx(), (long long)(chat.dropped_turns() - dropped_before));
    std::fprintf(stderr, "llm chat: prompt %lld tokens, generated %lld tokens, stop: %s, fed %lld (%lld reused from the KV cache)\n",
                 (long long)r.n_prompt, (long long)r.n_generated, llm::to_string(r.stop_reason),
                 (long long)(r.n_prompt - r.n_cached), (long long)r.n_cached);
  }
  return 0;
}

int cmd_llm_perplexity(int argc, char** argv) {
  Args a(argc, argv, 3,
         {{"model", ""}, {"file", ""}, {"ctx", "512"}, {"chunks", "-1"}, {"low-bit", ""}, {"threads", "0"}, {"kv-type", "f16"}},
         "llm perplexity");
  const std::string path = need_model(a, "perplexity");
  if (a.str("file").empty()) throw UsageError("bigdl llm perplexity: --file TEXT is required");
  set_threads(a);
  const int64_t n_ctx = a.integer("ctx");
  if (n_ctx < 4) throw UsageError("bigdl llm perplexity: --ctx must be >= 4");
  Session s = open_model(path, n_ctx, a.str("low-bit"), a.str("kv-type"));  // the KV cache holds exactly one chunk
  const llm::Vocab vocab = llm::Vocab::load(path);
  // As llama-perplexity: the running estimate after each chunk, then the final line.
  const llm::PerplexityResult r =
      llm::perplexity_file(s.ctx, vocab, a.str("file"), n_ctx, a.integer("chunks"), [](const llm::PerplexityProgress& p) {
        if (p.chunk == 1) std::fprintf(stderr, "llm perplexity: %.2f s per chunk\n", p.seconds);
        std::printf("[%lld]%.4f,", (long long)p.chunk, p.ppl);
        std::fflush(stdout);
      });
  std::printf("\nFinal estimate: PPL = %.4f +/- %.5f\n", r.ppl, r.ppl_err);
  std::fflush(stdout);
  std::fprintf(stderr, "llm perplexity: %lld tokens in the text, %lld chunks of %lld, %lld tokens scored, %.1f s (%.1f tok/s)\n",
               (long long)r.n_tokens, (long long)r.chunks, (long long)n_ctx, (long long)r.n_scored, r.seconds,
               r.seconds > 0 ? double(r.chunks * (n_ctx - 1)) / r.seconds : 0.0);
  return 0;
}

// The OpenAI-compatible server: continuous batching over --parallel sequences, until
// SIGTERM / SIGINT, which drain the running requests first (docs/serve.md).
int cmd_llm_serve(int argc, char** argv) {
  Args a(argc, argv, 3,
         {{"model", ""}, {"host", "127.0.0.1"}, {"port", "8000"}, {"api-key", ""}, {"parallel", "4"}, {"ctx", "0"},
          {"low-bit", ""}, {"kv-type", "f16"}, {"threads", "0"}, {"queue", "64"}, {"timeout", "600"}, {"alias", ""},
          {"template", ""}},
         "llm serve");
  const std::string path = need_model(a, "serve");
  set_threads(a);
  serve::EngineOptions eo;
  eo.parallel = int(a.integer("parallel", 1, 256));
  eo.n_ctx = a.integer("ctx", 0, int64_t(1) << 24);
  eo.kv_type = a.str("kv-type");
  eo.max_queue = a.integer("queue", 0, 1 << 20);
  serve::ServerOptions so;
  so.host = a.str("host");
  so.port = int(a.integer("port", 0, 65535));
  so.api_key = a.str("api-key");
  if (so.api_key.empty()) {
    if (const char* k = std::getenv("BIGDL_API_KEY")) so.api_key = k;
  }
  so.timeout_s = a.real("timeout", 0, 1e9, true);
  so.chat_template = a.str("template");
  so.model_id = a.str("alias").empty() ? std::filesystem::path(path).filename().string() : a.str("alias");
  if (so.model_id.empty()) so.model_id = std::filesystem::path(path).parent_path().filename().string();
  std::fprintf(stderr, "serve: loading %s\n", path.c_str());
  llm::LoadOptions lo;
  lo.low_bit = llm::LowBit::parse(a.str("low-bit"), "load_model");
  const auto model = llm::load_model(path, lo);
  const llm::Vocab vocab = llm::Vocab::load(path);
  // A generator runs on the continuous-batching engine; an encoder answers /v1/embeddings.
  std::unique_ptr<serve::Engine> engine;
  if (model->config().causal) engine = std::make_unique<serve::Engine>(model, vocab, eo);
  serve::Server server(model, engine.get(), vocab, so, eo.parallel);
  const int port = server.bind();
  if (engine)
    std::fprintf(stderr, "serve: listening on http://%s:%d (model '%s', %d sequences of %lld positions, queue %lld%s)\n",
                 so.host.c_str(), port, so.model_id.c_str(), eo.parallel, (long long)engine->n_ctx(), (long long)eo.max_queue,
                 so.api_key.empty() ? "" : ", API key required");
  else
    std::fprintf(stderr, "serve: listening on http://%s:%d (embedding model '%s', %d contexts%s)\n", so.host.c_str(), port,
                 so.model_id.c_str(), eo.parallel, so.api_key.empty() ? "" : ", API key required");
  // SIGTERM / SIGINT: the handler only writes the signal number to a pipe (any thread may
  // take the signal: OpenBLAS starts its threads before main), and a waiter thread drains.
  static int sig_pipe[2] = {-1, -1};
  if (::pipe(sig_pipe) != 0) throw IOError("[serve] cannot create a pipe for the signal handler");
  struct sigaction sa {};
  sa.sa_handler = [](int sig) {
    const unsigned char c = static_cast<unsigned char>(sig);
    [[maybe_unused]] const ssize_t n = ::write(sig_pipe[1], &c, 1);
  };
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  std::thread waiter([&] {
    unsigned char sig = 0;
    while (::read(sig_pipe[0], &sig, 1) < 0 && errno == EINTR) {
    }
    std::fprintf(stderr, "serve: %s: draining the running requests\n", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    server.shutdown();
  });
  server.run();
  waiter.join();
  const serve::EngineStats st = engine ? engine->stats() : serve::EngineStats{};
  std::fprintf(stderr, "serve: stopped; %lld requests done, %lld failed, %lld cancelled, %lld rejected; %lld tokens generated\n",
               (long long)st.requests_done, (long long)st.requests_failed, (long long)st.requests_cancelled,
               (long long)st.requests_rejected, (long long)st.generated_tokens);
  return 0;
}

int cmd_llm_save_low_bit(int argc, char** argv) {
  Args a(argc, argv, 3, {{"model", ""}, {"out", ""}, {"low-bit", "sym_int4"}, {"imatrix", ""}, {"threads", "0"}},
         "llm save-low-bit");
  const std::string src = need_model(a, "save-low-bit");
  const std::string dst = a.str("out");
  if (dst.empty()) throw UsageError("bigdl llm save-low-bit: --out DIR is required");
  set_threads(a);
  llm::LoadOptions lo;
  lo.low_bit = llm::LowBit::parse(a.str("low-bit"), "save_low_bit");
  lo.imatrix = a.str("imatrix");
  const llm::LowBit& lb = lo.low_bit;
  const llm::ConvertStats st = llm::save_low_bit(src, dst, lo, [&](const llm::ConvertProgress& p) {
    if (p.index + 1 == p.count || isatty(2)) std::fprintf(stderr, "\rsave-low-bit: %lld/%lld tensors", (long long)p.index + 1, (long long)p.count);
  });
  std::fprintf(stderr, "\nsave-low-bit: %s, %llu bytes in, %llu bytes out, %.2f s -> %s/ (load it with --model %s)\n",
               lb.keep() ? "keep" : lb.name().c_str(), (unsigned long long)st.bytes_in,
               (unsigned long long)st.bytes_out, st.seconds, dst.c_str(), dst.c_str());
  return 0;
}

// Sentence embeddings, one JSON array per input line (--prompt TEXT, or -f FILE: one text
// per line), as llama-embedding --embd-output-format array.
int cmd_llm_embed(int argc, char** argv) {
  Args a(argc, argv, 3,
         {{"model", ""}, {"prompt", ""}, {"file", ""}, {"pooling", ""}, {"ctx", "0"}, {"threads", "0"},
          {"low-bit", ""}},
         "llm embed", {"no-normalize"});
  const std::string path = need_model(a, "embed");
  set_threads(a);
  std::vector<std::string> texts;
  if (!a.str("file").empty()) {
    std::ifstream in(a.str("file"), std::ios::binary);
    if (!in.good()) throw IOError("[llm embed] " + a.str("file") + ": cannot open");
    for (std::string line; std::getline(in, line);)
      if (!line.empty()) texts.push_back(line);
  } else {
    if (a.str("prompt").empty()) throw UsageError("bigdl llm embed: --prompt TEXT or --file FILE is required");
    texts.push_back(a.str("prompt"));
  }
  llm::EmbedOptions eo;
  eo.pooling = a.str("pooling");
  eo.normalize = !a.flag("no-normalize");
  Session s = open_model(path, a.integer("ctx", 0, INT64_MAX), a.str("low-bit"), "f32");
  (void)llm::embed_pooling(s.model->config(), eo);  // an unknown pooling fails before any text
  const llm::Vocab vocab = llm::Vocab::load(path);
  for (const auto& t : texts) {
    const std::vector<float> e = llm::embed(s.ctx, vocab, t, eo);
    std::string line = "[";
    char buf[32];
    for (size_t i = 0; i < e.size(); ++i) {
      std::snprintf(buf, sizeof(buf), "%s%.8g", i ? ", " : "", double(e[i]));
      line += buf;
    }
    std::printf("%s]\n", line.c_str());
  }
  std::fprintf(stderr, "llm embed: %zu texts, %lld dimensions, %s pooling%s\n", texts.size(),
               (long long)s.model->config().n_embd, llm::embed_pooling(s.model->config(), eo).c_str(),
               eo.normalize ? ", normalized" : "");
  return 0;
}

int cmd_llm(int argc, char** argv) {
  const std::string sub = argc > 2 ? argv[2] : "";
  if (sub == "generate") return cmd_llm_generate(argc, argv);
  if (sub == "tokenize") return cmd_llm_tokenize(argc, argv);
  if (sub == "bench") return cmd_llm_bench(argc, argv);
  if (sub == "convert") return cmd_llm_convert(argc, argv);
  if (sub == "chat") return cmd_llm_chat(argc, argv);
  if (sub == "perplexity") return cmd_llm_perplexity(argc, argv);
  if (sub == "embed") return cmd_llm_embed(argc, argv);
  if (sub == "save-low-bit") return cmd_llm_save_low_bit(argc, argv);
  if (sub == "serve") return cmd_llm_serve(argc, argv);
  if (sub == "-h" || sub == "--help") throw UsageError("help");
  throw UsageError(sub.empty() ? std::string("bigdl llm: missing subcommand (generate, tokenize, bench, convert, save-low-bit, chat, perplexity, embed, serve)")
                               : "bigdl llm: unknown subcommand '" + sub + "' (generate, tokenize, bench, convert, save-low-bit, chat, perplexity, embed, serve)");
}

}  // namespace

int main(int argc, char** argv) {
  const std::string cmd = argc > 1 ? argv[1] : "";
  try {
    if (cmd == "train") return cmd_train(argc, argv);
    if (cmd == "evaluate") return cmd_evaluate(argc, argv);
    if (cmd == "llm") return cmd_llm(argc, argv);
    if (cmd == "version" || cmd == "--version") {
      std::printf("bigdl-cpp 0.1.0\n");
      return 0;
    }
    if (cmd == "" || cmd == "help" || cmd == "-h" || cmd == "--help") {
      std::printf("%s", kUsage);
      return cmd.empty() ? 2 : 0;
    }
    std::fprintf(stderr, "bigdl: unknown command '%s'\n%s", cmd.c_str(), kUsage);
    return 2;
  } catch (const UsageError& e) {
    if (std::string(e.what()) == "help") {
      std::printf("%s", kUsage);
      return 0;
    }
    std::fprintf(stderr, "bigdl: %s\n", e.what());
    return 2;
  } catch (const bigdl::Error& e) {
    std::fprintf(stderr, "bigdl: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bigdl: unexpected error: %s\n", e.what());
    return 1;
  }
}
