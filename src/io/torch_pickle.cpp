#include "bigdl/io/torch_pickle.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <limits>
#include <unordered_map>
#include <unordered_set>

#include "bigdl/error.h"
#include "bigdl/io/zip.h"

namespace bigdl::io {

namespace {

struct Where {
  std::string op;
  std::string file;
};

template <typename E = FormatError, typename... Args>
[[noreturn]] void fail(const Where& w, const Args&... args) {
  throw E(detail::cat("[", w.op, "] ", w.file, ": ", args...));
}

// ---------------------------------------------------------------------------------------
// Allow-list. A GLOBAL outside this table is refused; the ones inside are never called,
// only recognised by the VM.

enum class GlobalKind : uint8_t {
  kOrderedDict,
  kRebuildTensorV2,
  kRebuildParameter,
  kRebuildParameterWithState,
  kStorageType,
};

struct AllowedGlobal {
  const char* module;
  const char* name;
  GlobalKind kind;
  const char* dtype;  // kStorageType: the storage's safetensors dtype name
};

constexpr AllowedGlobal kAllowedGlobals[] = {
    {"collections", "OrderedDict", GlobalKind::kOrderedDict, nullptr},
    {"torch._utils", "_rebuild_tensor_v2", GlobalKind::kRebuildTensorV2, nullptr},
    {"torch._utils", "_rebuild_parameter", GlobalKind::kRebuildParameter, nullptr},
    {"torch._utils", "_rebuild_parameter_with_state", GlobalKind::kRebuildParameterWithState,
     nullptr},
    {"torch", "FloatStorage", GlobalKind::kStorageType, "F32"},
    {"torch", "DoubleStorage", GlobalKind::kStorageType, "F64"},
    {"torch", "HalfStorage", GlobalKind::kStorageType, "F16"},
    {"torch", "BFloat16Storage", GlobalKind::kStorageType, "BF16"},
    {"torch", "LongStorage", GlobalKind::kStorageType, "I64"},
    {"torch", "IntStorage", GlobalKind::kStorageType, "I32"},
    {"torch", "ShortStorage", GlobalKind::kStorageType, "I16"},
    {"torch", "CharStorage", GlobalKind::kStorageType, "I8"},
    {"torch", "ByteStorage", GlobalKind::kStorageType, "U8"},
    {"torch", "BoolStorage", GlobalKind::kStorageType, "BOOL"},
};

// ---------------------------------------------------------------------------------------
// Values. Everything with content lives in the VM's arenas and a Value is a small handle,
// so DUP / BINGET are O(1) and self-referencing containers cannot leak or recurse.

enum class Kind : uint8_t { kNone, kBool, kInt, kFloat, kStr, kBytes, kTuple, kList, kDict,
                            kGlobal, kStorage, kTensor };

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::kNone: return "None";
    case Kind::kBool: return "bool";
    case Kind::kInt: return "int";
    case Kind::kFloat: return "float";
    case Kind::kStr: return "str";
    case Kind::kBytes: return "bytes";
    case Kind::kTuple: return "tuple";
    case Kind::kList: return "list";
    case Kind::kDict: return "dict";
    case Kind::kGlobal: return "global";
    case Kind::kStorage: return "storage";
    case Kind::kTensor: return "tensor";
  }
  return "?";
}

struct Value {
  Kind kind = Kind::kNone;
  int64_t i = 0;     // kBool, kInt
  double f = 0;      // kFloat
  uint32_t ref = 0;  // arena index (kStr/kBytes: strings_, kTuple/kList: seqs_, kDict:
                     // dicts_, kGlobal: kAllowedGlobals, kStorage: storages_, kTensor: tensors_)
};

struct StorageInfo {
  std::string key;
  std::string dtype;
  int64_t numel = 0;
};

struct TensorInfo {
  uint32_t storage = 0;
  int64_t offset = 0;
  std::vector<int64_t> size, stride;
};

// Characters of an attacker-chosen string, safe to put in an error message.
std::string printable(const std::string& s) {
  std::string out;
  for (unsigned char c : s.substr(0, 120)) {
    if (c >= 0x20 && c < 0x7f) {
      out += char(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  return s.size() > 120 ? out + "..." : out;
}

// ---------------------------------------------------------------------------------------
// The restricted pickle VM.

constexpr size_t kMaxDims = 64;

class Unpickler {
 public:
  Unpickler(const uint8_t* data, size_t size, const Where& w) : data_(data), size_(size), w_(w) {}

  Value run();

  std::vector<std::string> strings_;
  std::vector<std::vector<Value>> seqs_;
  std::vector<std::vector<std::pair<Value, Value>>> dicts_;
  std::vector<StorageInfo> storages_;
  std::vector<TensorInfo> tensors_;

 private:
  template <typename... Args>
  [[noreturn]] void bad(const Args&... args) const {
    fail(w_, "data.pkl offset ", op_pos_, ": ", args...);
  }

  const uint8_t* take(uint64_t n) {
    if (n > size_ - pos_) bad("truncated: opcode needs ", n, " more bytes, ", size_ - pos_, " left");
    const uint8_t* p = data_ + pos_;
    pos_ += size_t(n);
    return p;
  }
  uint64_t read_le(int n) {
    const uint8_t* p = take(uint64_t(n));
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; --i) v = (v << 8) | p[i];
    return v;
  }
  std::string read_string(uint64_t n) {
    const uint8_t* p = take(n);
    return std::string(reinterpret_cast<const char*>(p), size_t(n));
  }
  std::string read_line() {
    const uint8_t* start = data_ + pos_;
    const size_t avail = std::min<size_t>(size_ - pos_, 512);
    const void* nl = std::memchr(start, '\n', avail);
    if (nl == nullptr) bad("GLOBAL name is not terminated by a newline within 512 bytes");
    const size_t n = size_t(static_cast<const uint8_t*>(nl) - start);
    pos_ += n + 1;
    return std::string(reinterpret_cast<const char*>(start), n);
  }

  uint32_t next_ref(size_t arena_size) const {
    if (arena_size >= std::numeric_limits<uint32_t>::max()) bad("too many objects");
    return uint32_t(arena_size);
  }
  Value make_str(Kind kind, std::string s) {
    Value v{kind, 0, 0, next_ref(strings_.size())};
    strings_.push_back(std::move(s));
    return v;
  }
  Value make_seq(Kind kind, std::vector<Value> items) {
    Value v{kind, 0, 0, next_ref(seqs_.size())};
    seqs_.push_back(std::move(items));
    return v;
  }
  Value make_dict() {
    Value v{Kind::kDict, 0, 0, next_ref(dicts_.size())};
    dicts_.emplace_back();
    return v;
  }

  // The stack above the innermost MARK is all an opcode may touch (as in CPython).
  size_t fence() const { return marks_.empty() ? 0 : marks_.back(); }
  void push(const Value& v) { stack_.push_back(v); }
  Value pop() {
    if (stack_.size() <= fence()) bad("stack underflow in opcode 0x", hex(), "");
    Value v = stack_.back();
    stack_.pop_back();
    return v;
  }
  Value& top() {
    if (stack_.size() <= fence()) bad("stack underflow in opcode 0x", hex(), "");
    return stack_.back();
  }
  std::vector<Value> pop_mark() {
    if (marks_.empty()) bad("opcode 0x", hex(), " needs a MARK but there is none");
    const size_t m = marks_.back();
    marks_.pop_back();
    std::vector<Value> items(stack_.begin() + ptrdiff_t(m), stack_.end());
    stack_.resize(m);
    return items;
  }
  std::string hex() const {
    char buf[4];
    std::snprintf(buf, sizeof buf, "%02x", op_pos_ < size_ ? data_[op_pos_] : 0);
    return buf;
  }

  const std::string& str_of(const Value& v, const char* what) {
    if (v.kind != Kind::kStr) bad(what, " is a ", kind_name(v.kind), ", expected str");
    return strings_[v.ref];
  }
  int64_t int_of(const Value& v, const char* what) {
    if (v.kind != Kind::kInt) bad(what, " is a ", kind_name(v.kind), ", expected int");
    return v.i;
  }
  std::vector<int64_t> ints_of(const Value& v, const char* what) {
    if (v.kind != Kind::kTuple) bad(what, " is a ", kind_name(v.kind), ", expected a tuple");
    // Bounds the cost of each tensor, whatever tuple a hostile pickle passes many times.
    if (seqs_[v.ref].size() > kMaxDims) bad(what, " has more than ", kMaxDims, " dims");
    std::vector<int64_t> out;
    for (const Value& x : seqs_[v.ref]) out.push_back(int_of(x, what));
    return out;
  }
  std::vector<std::pair<Value, Value>>& dict_of(const Value& v) {
    if (v.kind != Kind::kDict) bad("SETITEM(S) on a ", kind_name(v.kind), ", expected a dict");
    return dicts_[v.ref];
  }
  std::vector<Value>& list_of(const Value& v) {
    if (v.kind != Kind::kList) bad("APPEND(S) on a ", kind_name(v.kind), ", expected a list");
    return seqs_[v.ref];
  }

  Value memo_get(uint64_t index) {
    auto it = memo_.find(index);
    if (it == memo_.end()) bad("memo has no entry ", index);
    return it->second;
  }

  Value global(const std::string& module, const std::string& name);
  Value reduce(const Value& fn, const Value& args);
  Value persistent_load(const Value& pid);
  Value rebuild_tensor(const std::vector<Value>& args);

  const uint8_t* data_;
  size_t size_;
  const Where& w_;
  size_t pos_ = 0;
  size_t op_pos_ = 0;
  std::vector<Value> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, Value> memo_;
  std::unordered_map<std::string, uint32_t> storage_by_key_;
};

Value Unpickler::global(const std::string& module, const std::string& name) {
  for (size_t i = 0; i < std::size(kAllowedGlobals); ++i)
    if (module == kAllowedGlobals[i].module && name == kAllowedGlobals[i].name)
      return Value{Kind::kGlobal, 0, 0, uint32_t(i)};
  fail<SecurityError>(w_, "pickle asks for global '", printable(module), ".", printable(name),
                      "'; only tensors and plain containers are allowed");
}

Value Unpickler::persistent_load(const Value& pid) {
  if (pid.kind != Kind::kTuple || seqs_[pid.ref].size() != 5)
    bad("persistent id is not a 5-tuple ('storage', type, key, location, numel)");
  const std::vector<Value> t = seqs_[pid.ref];
  if (str_of(t[0], "persistent id tag") != "storage")
    bad("persistent id tag '", printable(strings_[t[0].ref]), "' is not 'storage'");
  if (t[1].kind != Kind::kGlobal || kAllowedGlobals[t[1].ref].kind != GlobalKind::kStorageType)
    bad("persistent id storage type is a ", kind_name(t[1].kind), ", expected torch.*Storage");
  const std::string dtype = kAllowedGlobals[t[1].ref].dtype;
  const std::string& key = str_of(t[2], "storage key");
  const int64_t numel = int_of(t[4], "storage numel");
  int64_t nbytes = 0;
  if (numel < 0 || __builtin_mul_overflow(numel, raw_element_size(dtype), &nbytes))
    bad("storage '", printable(key), "' has invalid numel ", numel);
  auto it = storage_by_key_.find(key);
  if (it != storage_by_key_.end()) {
    const StorageInfo& s = storages_[it->second];
    if (s.dtype != dtype || s.numel != numel)
      bad("storage '", printable(key), "' is used as ", s.dtype, "[", s.numel, "] and as ", dtype,
          "[", numel, "]");
    return Value{Kind::kStorage, 0, 0, it->second};
  }
  const uint32_t ref = next_ref(storages_.size());
  storages_.push_back(StorageInfo{key, dtype, numel});
  storage_by_key_.emplace(key, ref);
  return Value{Kind::kStorage, 0, 0, ref};
}

Value Unpickler::rebuild_tensor(const std::vector<Value>& args) {
  // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
  if (args[0].kind != Kind::kStorage)
    bad("_rebuild_tensor_v2 storage is a ", kind_name(args[0].kind), ", expected a storage");
  TensorInfo t;
  t.storage = args[0].ref;
  t.offset = int_of(args[1], "storage_offset");
  t.size = ints_of(args[2], "tensor size");
  t.stride = ints_of(args[3], "tensor stride");
  const StorageInfo& s = storages_[t.storage];
  if (t.size.size() != t.stride.size())
    bad("tensor has ", t.size.size(), " sizes but ", t.stride.size(), " strides");
  if (t.offset < 0) bad("negative storage_offset ", t.offset);
  int64_t numel = 1, last = t.offset;
  for (size_t d = 0; d < t.size.size(); ++d) {
    if (t.size[d] < 0 || t.stride[d] < 0)
      bad("tensor dim ", d, " has size ", t.size[d], " and stride ", t.stride[d]);
    if (__builtin_mul_overflow(numel, t.size[d], &numel)) bad("tensor numel overflows");
  }
  if (numel > 0) {
    for (size_t d = 0; d < t.size.size(); ++d) {
      int64_t step = 0;
      if (__builtin_mul_overflow(t.size[d] - 1, t.stride[d], &step) ||
          __builtin_add_overflow(last, step, &last))
        bad("tensor view overflows");
    }
    if (last >= s.numel)
      bad("tensor view (offset ", t.offset, ") reaches element ", last, " of storage '",
          printable(s.key), "' which has ", s.numel, " elements");
    // Stride-0 views can repeat elements; cap the blow-up so a tiny file cannot ask for
    // an enormous allocation.
    if (numel / 1024 > s.numel) bad("tensor of ", numel, " elements views only ", s.numel);
  }
  const uint32_t ref = next_ref(tensors_.size());
  tensors_.push_back(std::move(t));
  return Value{Kind::kTensor, 0, 0, ref};
}

Value Unpickler::reduce(const Value& fn, const Value& args_v) {
  if (fn.kind != Kind::kGlobal) bad("REDUCE calls a ", kind_name(fn.kind), ", not an allowed global");
  if (args_v.kind != Kind::kTuple) bad("REDUCE arguments are a ", kind_name(args_v.kind), ", not a tuple");
  const AllowedGlobal& g = kAllowedGlobals[fn.ref];
  // Check the arity before copying: a pickle may REDUCE one huge tuple many times.
  const size_t nargs = seqs_[args_v.ref].size();
  switch (g.kind) {
    case GlobalKind::kOrderedDict:
      if (nargs != 0) bad("OrderedDict() with arguments is not supported");
      return make_dict();
    case GlobalKind::kRebuildTensorV2:
      if (nargs != 6 && nargs != 7) bad("_rebuild_tensor_v2 takes 6 or 7 arguments, got ", nargs);
      return rebuild_tensor(std::vector<Value>(seqs_[args_v.ref]));  // copy: may grow seqs_
    case GlobalKind::kRebuildParameter:
    case GlobalKind::kRebuildParameterWithState: {
      const size_t want = g.kind == GlobalKind::kRebuildParameter ? 3 : 4;
      if (nargs != want) bad(g.name, " takes ", want, " arguments, got ", nargs);
      const Value data = seqs_[args_v.ref][0];
      if (data.kind != Kind::kTensor) bad(g.name, " wraps a ", kind_name(data.kind), ", not a tensor");
      return data;
    }
    case GlobalKind::kStorageType:
      break;
  }
  bad("global '", g.module, ".", g.name, "' cannot be called");
}

Value Unpickler::run() {
  while (pos_ < size_) {
    op_pos_ = pos_;
    const uint8_t op = data_[pos_++];
    switch (op) {
      case 0x80: {  // PROTO
        const uint64_t v = read_le(1);
        if (v < 2 || v > 5) bad("unsupported pickle protocol ", v);
        break;
      }
      case 0x95: {  // FRAME: a length prefix only; the bytes follow inline
        const uint64_t n = read_le(8);
        if (n > size_ - pos_) bad("FRAME of ", n, " bytes runs past the end");
        break;
      }
      case '.':  // STOP
        if (stack_.empty()) bad("STOP with an empty stack");
        return stack_.back();
      case '(': marks_.push_back(stack_.size()); break;              // MARK
      case '0': pop(); break;                                        // POP
      case '1': pop_mark(); break;                                   // POP_MARK
      case '2': push(top()); break;                                  // DUP
      case 'N': push(Value{}); break;                                // NONE
      case 0x88: push(Value{Kind::kBool, 1}); break;                 // NEWTRUE
      case 0x89: push(Value{Kind::kBool, 0}); break;                 // NEWFALSE
      case 'K': push(Value{Kind::kInt, int64_t(read_le(1))}); break;  // BININT1
      case 'M': push(Value{Kind::kInt, int64_t(read_le(2))}); break;  // BININT2
      case 'J':                                                       // BININT
        push(Value{Kind::kInt, int64_t(int32_t(uint32_t(read_le(4))))});
        break;
      case 0x8a: {  // LONG1: little-endian two's complement of n bytes
        const uint64_t n = read_le(1);
        if (n > 8) bad("LONG1 of ", n, " bytes does not fit 64 bits");
        uint64_t v = n ? read_le(int(n)) : 0;
        if (n > 0 && n < 8 && (v >> (8 * n - 1)) & 1) v |= ~uint64_t(0) << (8 * n);
        push(Value{Kind::kInt, int64_t(v)});
        break;
      }
      case 'G': {  // BINFLOAT: big-endian IEEE double
        const uint8_t* p = take(8);
        uint64_t bits = 0;
        for (int i = 0; i < 8; ++i) bits = (bits << 8) | p[i];
        double d;
        std::memcpy(&d, &bits, 8);
        push(Value{Kind::kFloat, 0, d});
        break;
      }
      case 0x8c: push(make_str(Kind::kStr, read_string(read_le(1)))); break;    // SHORT_BINUNICODE
      case 'X': push(make_str(Kind::kStr, read_string(read_le(4)))); break;     // BINUNICODE
      case 0x8d: push(make_str(Kind::kStr, read_string(read_le(8)))); break;    // BINUNICODE8
      case 'C': push(make_str(Kind::kBytes, read_string(read_le(1)))); break;   // SHORT_BINBYTES
      case 'B': push(make_str(Kind::kBytes, read_string(read_le(4)))); break;   // BINBYTES
      case 0x8e: push(make_str(Kind::kBytes, read_string(read_le(8)))); break;  // BINBYTES8
      case ')': push(make_seq(Kind::kTuple, {})); break;                        // EMPTY_TUPLE
      case ']': push(make_seq(Kind::kList, {})); break;                         // EMPTY_LIST
      case '}': push(make_dict()); break;                                       // EMPTY_DICT
      case 't': push(make_seq(Kind::kTuple, pop_mark())); break;                // TUPLE
      case 'l': push(make_seq(Kind::kList, pop_mark())); break;                 // LIST
      case 0x85:
      case 0x86:
      case 0x87: {  // TUPLE1..3
        std::vector<Value> items(size_t(op - 0x84));
        for (size_t i = items.size(); i-- > 0;) items[i] = pop();
        push(make_seq(Kind::kTuple, std::move(items)));
        break;
      }
      case 'd': {  // DICT
        std::vector<Value> items = pop_mark();
        if (items.size() % 2) bad("DICT with an odd number of items");
        Value d = make_dict();
        for (size_t i = 0; i < items.size(); i += 2) dicts_[d.ref].emplace_back(items[i], items[i + 1]);
        push(d);
        break;
      }
      case 's': {  // SETITEM
        Value v = pop();
        Value k = pop();
        dict_of(top()).emplace_back(k, v);
        break;
      }
      case 'u': {  // SETITEMS
        std::vector<Value> items = pop_mark();
        if (items.size() % 2) bad("SETITEMS with an odd number of items");
        auto& d = dict_of(top());
        for (size_t i = 0; i < items.size(); i += 2) d.emplace_back(items[i], items[i + 1]);
        break;
      }
      case 'a': {  // APPEND
        Value v = pop();
        list_of(top()).push_back(v);
        break;
      }
      case 'e': {  // APPENDS
        std::vector<Value> items = pop_mark();
        auto& l = list_of(top());
        l.insert(l.end(), items.begin(), items.end());
        break;
      }
      case 'q': memo_[read_le(1)] = top(); break;    // BINPUT
      case 'r': memo_[read_le(4)] = top(); break;    // LONG_BINPUT
      case 0x94: {                                   // MEMOIZE
        const uint64_t index = memo_.size();
        memo_[index] = top();
        break;
      }
      case 'h': push(memo_get(read_le(1))); break;   // BINGET
      case 'j': push(memo_get(read_le(4))); break;   // LONG_BINGET
      case 'c': {                                    // GLOBAL "module\nname\n"
        std::string module = read_line();
        std::string name = read_line();
        push(global(module, name));
        break;
      }
      case 0x93: {  // STACK_GLOBAL
        Value name = pop();
        Value module = pop();
        push(global(str_of(module, "STACK_GLOBAL module"), str_of(name, "STACK_GLOBAL name")));
        break;
      }
      case 'R': {  // REDUCE
        Value args = pop();
        Value fn = pop();
        push(reduce(fn, args));
        break;
      }
      case 'b':  // BUILD: object state (e.g. an OrderedDict's _metadata) is not needed
        pop();
        top();
        break;
      case 'Q': push(persistent_load(pop())); break;  // BINPERSID
      default:
        bad("unsupported pickle opcode 0x", hex(),
            (op >= 0x20 && op < 0x7f) ? detail::cat(" ('", char(op), "')") : std::string());
    }
  }
  bad("pickle ends without STOP");
}

// ---------------------------------------------------------------------------------------
// Flattening and materialization.

struct Flattener {
  const Unpickler& up;
  const Where& w;
  // Work left, in units of one child visited or one name byte built. Shared
  // sub-containers are legal in a pickle, but a chain of them makes the number of paths
  // exponential, and a long key under a widely shared container makes names expensive;
  // bound the walk instead of trusting the graph.
  size_t budget;
  std::vector<std::pair<std::string, uint32_t>> out;  // name -> tensor index
  std::unordered_set<std::string> names;

  static bool interesting(const Value& v) {
    return v.kind == Kind::kTensor || v.kind == Kind::kDict || v.kind == Kind::kList ||
           v.kind == Kind::kTuple;
  }
  void charge(size_t units) {
    if (units > budget) fail(w, "container graph is too large to flatten (shared or cyclic references)");
    budget -= units;
  }
  std::string join(const std::string& prefix, const std::string& key) {
    charge(prefix.size() + 1 + key.size());
    return prefix.empty() ? key : prefix + "." + key;
  }

  void walk(const Value& v, const std::string& prefix, int depth) {
    if (depth > 64)
      fail(w, "containers nest deeper than 64 levels (cyclic?) at '", printable(prefix), "'");
    if (v.kind == Kind::kTensor) {
      if (!names.insert(prefix).second)
        fail(w, "two tensors are named '", printable(prefix), "' after flattening");
      out.emplace_back(prefix, v.ref);
    } else if (v.kind == Kind::kDict) {
      for (const auto& [k, x] : up.dicts_[v.ref]) {
        charge(1);
        if (!interesting(x)) continue;  // non-tensor leaf
        if (k.kind == Kind::kStr) walk(x, join(prefix, up.strings_[k.ref]), depth + 1);
        else if (k.kind == Kind::kInt) walk(x, join(prefix, std::to_string(k.i)), depth + 1);
        // other key types cannot form a dotted name; their values are skipped
      }
    } else if (v.kind == Kind::kList || v.kind == Kind::kTuple) {
      const auto& items = up.seqs_[v.ref];
      for (size_t i = 0; i < items.size(); ++i) {
        charge(1);
        if (interesting(items[i])) walk(items[i], join(prefix, std::to_string(i)), depth + 1);
      }
    }
  }
};

bool is_contiguous(const TensorInfo& t) {
  int64_t expected = 1;
  for (size_t d = t.size.size(); d-- > 0;) {
    if (t.size[d] != 1 && t.stride[d] != expected) return false;
    expected *= t.size[d];
  }
  return true;
}

// Copies the view's elements, row-major, into a new contiguous buffer.
std::vector<uint8_t> gather(const TensorInfo& t, const std::vector<uint8_t>& storage, size_t esize) {
  int64_t numel = 1;
  for (int64_t s : t.size) numel *= s;
  std::vector<uint8_t> out(size_t(numel) * esize);
  if (numel == 0) return out;
  if (is_contiguous(t)) {
    std::memcpy(out.data(), storage.data() + size_t(t.offset) * esize, out.size());
    return out;
  }
  const size_t ndim = t.size.size();  // >= 1 here: a 0-d tensor is contiguous
  std::vector<int64_t> idx(ndim, 0);
  uint8_t* dst = out.data();
  const int64_t inner = t.size[ndim - 1], inner_stride = t.stride[ndim - 1];
  for (;;) {
    int64_t base = t.offset;
    for (size_t d = 0; d + 1 < ndim; ++d) base += idx[d] * t.stride[d];
    for (int64_t j = 0; j < inner; ++j, dst += esize)
      std::memcpy(dst, storage.data() + size_t(base + j * inner_stride) * esize, esize);
    size_t d = ndim - 1;
    while (d > 0) {
      --d;
      if (++idx[d] < t.size[d]) break;
      idx[d] = 0;
      if (d == 0) return out;
    }
    if (ndim == 1) return out;
  }
}

void byteswap(std::vector<uint8_t>& bytes, size_t esize) {
  if (esize == 1) return;
  for (size_t i = 0; i + esize <= bytes.size(); i += esize)
    std::reverse(bytes.begin() + ptrdiff_t(i), bytes.begin() + ptrdiff_t(i + esize));
}

std::vector<std::pair<std::string, RawTensor>> load_from_zip(const ZipReader& zip,
                                                             const Where& w) {
  // Locate "<archive>/data.pkl"; the archive folder name is whatever torch.save chose.
  const ZipEntry* pkl_entry = nullptr;
  for (const ZipEntry& e : zip.entries()) {
    const size_t slash = e.name.find('/');
    if (slash != std::string::npos && slash > 0 && e.name.compare(slash, std::string::npos, "/data.pkl") == 0) {
      if (pkl_entry != nullptr)
        fail(w, "archive holds both '", printable(pkl_entry->name), "' and '", printable(e.name), "'");
      pkl_entry = &e;
    }
  }
  if (pkl_entry == nullptr)
    fail(w, "zip has no '<archive>/data.pkl' entry; not a torch.save file");
  const std::string prefix = pkl_entry->name.substr(0, pkl_entry->name.size() - 8);  // keeps '/'

  bool big_endian = false;
  if (const ZipEntry* bo = zip.find(prefix + "byteorder")) {
    std::vector<uint8_t> b = zip.read(*bo);
    std::string order(b.begin(), b.end());
    if (order == "big") big_endian = true;
    else if (order != "little") fail(w, "byteorder entry says '", printable(order), "'");
  }

  const std::vector<uint8_t> pkl = zip.read(*pkl_entry);
  Unpickler up(pkl.data(), pkl.size(), w);
  const Value root = up.run();
  if (root.kind != Kind::kDict && root.kind != Kind::kList && root.kind != Kind::kTuple)
    fail(w, "the saved object is a ", kind_name(root.kind), ", not a dict of tensors");
  Flattener flat{up, w, (size_t(1) << 26) + 16 * pkl.size(), {}, {}};
  flat.walk(root, "", 0);

  // Storages shared by several tensors stay cached until their last user is done, and a
  // sole user that covers its whole storage takes the bytes without a copy.
  std::unordered_map<uint32_t, int> users;
  for (const auto& [name, ti] : flat.out) ++users[up.tensors_[ti].storage];
  std::unordered_map<uint32_t, std::vector<uint8_t>> cache;
  std::vector<std::pair<std::string, RawTensor>> out;
  out.reserve(flat.out.size());
  for (const auto& [name, ti] : flat.out) {
    const TensorInfo& t = up.tensors_[ti];
    const StorageInfo& s = up.storages_[t.storage];
    const size_t esize = size_t(raw_element_size(s.dtype));
    auto it = cache.find(t.storage);
    if (it == cache.end()) {
      const std::string entry_name = prefix + "data/" + s.key;
      const ZipEntry* e = zip.find(entry_name);
      if (e == nullptr)
        fail(w, "tensor '", printable(name), "' uses storage '", printable(s.key), "' but the zip has no entry '",
             printable(entry_name), "'");
      std::vector<uint8_t> bytes = zip.read(*e);
      if (bytes.size() != uint64_t(s.numel) * esize)
        fail(w, "storage '", printable(s.key), "' has ", bytes.size(), " bytes, expected ", s.numel,
             " x ", esize, " for ", s.dtype);
      if (big_endian) byteswap(bytes, esize);
      it = cache.emplace(t.storage, std::move(bytes)).first;
    }
    RawTensor r;
    r.dtype = s.dtype;
    r.shape = t.size;
    const bool last_user = --users[t.storage] == 0;
    if (last_user && t.offset == 0 && is_contiguous(t) &&
        uint64_t(r.numel()) * esize == it->second.size())
      r.data = std::move(it->second);
    else
      r.data = gather(t, it->second, esize);
    if (last_user) cache.erase(it);
    out.emplace_back(name, std::move(r));
  }
  return out;
}

void refuse_legacy(const uint8_t* head, size_t n, const Where& w) {
  // The pre-1.6 format is a bare pickle stream (magic number first), not a zip.
  if (n >= 2 && head[0] == 0x80 && head[1] <= 5)
    fail(w, "legacy (pre-1.6, non-zip) torch.save format is not supported; re-save it "
            "with torch.save(obj, f) from PyTorch >= 1.6");
}

}  // namespace

std::vector<std::pair<std::string, RawTensor>> load_torch_state_dict(const std::string& path) {
  const Where w{"load_torch_state_dict", path};
  if (std::FILE* f = std::fopen(path.c_str(), "rb")) {
    uint8_t head[2] = {0, 0};
    const size_t n = std::fread(head, 1, 2, f);
    std::fclose(f);
    refuse_legacy(head, n, w);
  }
  ZipReader zip(path, w.op);
  return load_from_zip(zip, w);
}

std::vector<std::pair<std::string, RawTensor>> parse_torch_state_dict(
    const uint8_t* data, size_t size, const std::string& name_for_errors) {
  const Where w{"parse_torch_state_dict", name_for_errors};
  refuse_legacy(data, size, w);
  ZipReader zip(data, size, name_for_errors, w.op);
  return load_from_zip(zip, w);
}

}  // namespace bigdl::io
