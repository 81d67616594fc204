// bigdl::Tensor — an eager, strided, reference-counted n-d array with autograd.
//
// A Tensor is a handle: copying it shares the data (like torch::Tensor). Its
// elements live in a Storage (64-byte aligned heap memory, or memory owned by
// someone else such as an mmap); the tensor reads them through shape, strides
// (in elements) and an offset, so views (reshape when possible, transpose,
// permute, narrow, select, expand, squeeze, unsqueeze) never copy.
//
// Autograd: a tensor that requires_grad records, for each op applied to it while
// grad mode is on, a Node holding the op's backward function (see autograd.h).
// backward() walks that graph in reverse and accumulates into leaf .grad().
//
// Ops are free functions in bigdl:: (ops.h); the most used ones are also methods
// here. Shapes are std::vector<int64_t>; negative dims count from the end.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "bigdl/dtype.h"
#include "bigdl/error.h"

namespace bigdl {

using Shape = std::vector<int64_t>;

std::string shape_str(const Shape& s);  // "[2, 3]"
int64_t shape_numel(const Shape& s);

// Raw element memory. Owned (aligned allocation freed on destruction) or borrowed
// (the keep_alive handle, e.g. an mmap, is released when the last view goes).
class Storage {
 public:
  explicit Storage(int64_t nbytes);  // zero-initialised? no: uninitialised, 64-byte aligned
  Storage(void* data, int64_t nbytes, std::shared_ptr<void> keep_alive);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  void* data() const { return data_; }
  int64_t nbytes() const { return nbytes_; }
  // Bumped by every in-place op on a tensor of this storage (copy_, fill_, zero_, add_,
  // mul_), so autograd can tell that a tensor it saved for backward was changed since.
  uint64_t version() const { return version_.load(std::memory_order_relaxed); }
  void bump_version() { version_.fetch_add(1, std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> version_{0};
  void* data_ = nullptr;
  int64_t nbytes_ = 0;
  bool owned_ = false;
  std::shared_ptr<void> keep_alive_;
};

struct Node;  // autograd graph node (autograd.h)
struct TensorImpl;

class Tensor {
 public:
  Tensor() = default;  // undefined tensor (defined() == false)
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const;
  const Shape& strides() const;  // in elements
  int64_t offset() const;        // in elements, into storage
  int64_t dim() const { return int64_t(shape().size()); }
  int64_t size(int64_t d) const;  // negative d counts from the end
  int64_t numel() const;
  DType dtype() const;
  bool is_contiguous() const;
  const std::shared_ptr<Storage>& storage() const;

  // Pointer to the first element; T must match dtype() (checked).
  template <typename T> T* data() const;
  void* raw_data() const;  // first element, any dtype

  // Scalar value of a one-element tensor, converted to double.
  double item() const;
  // All elements (logical order) converted to float / double / int64.
  std::vector<float> to_vector() const;
  std::vector<double> to_double_vector() const;
  std::vector<int64_t> to_int_vector() const;
  std::string to_string() const;  // short printable form

  // ---- autograd ----
  bool requires_grad() const;
  // Marks a leaf as a parameter to differentiate; throws on non-leaf tensors.
  Tensor& requires_grad_(bool on = true);
  bool is_leaf() const;
  Tensor grad() const;           // undefined until a backward reaches this leaf
  void set_grad(const Tensor& g) const;  // handle semantics: sets the shared impl's grad
  const std::shared_ptr<Node>& grad_fn() const;
  // Reverse-mode differentiation from this tensor. grad defaults to 1 for a
  // one-element tensor. Unless retain_graph, the graph's saved state is freed and a
  // second backward through it throws.
  void backward(const Tensor& grad = Tensor(), bool retain_graph = false) const;
  Tensor detach() const;  // same data, no history

  // ---- views (no copy) ----
  Tensor view(const Shape& shape) const;     // must be expressible as a view; -1 infers
  Tensor reshape(const Shape& shape) const;  // a view when possible, else a copy
  Tensor transpose(int64_t d0, int64_t d1) const;
  Tensor t() const { return transpose(0, 1); }
  Tensor permute(const std::vector<int64_t>& dims) const;
  Tensor narrow(int64_t dim, int64_t start, int64_t length) const;
  Tensor select(int64_t dim, int64_t index) const;  // removes dim
  Tensor expand(const Shape& shape) const;          // -1 keeps a size
  Tensor squeeze() const;
  Tensor squeeze(int64_t dim) const;
  Tensor unsqueeze(int64_t dim) const;
  Tensor flatten(int64_t start_dim = 0, int64_t end_dim = -1) const;
  Tensor contiguous() const;  // this if already contiguous, else a copy
  Tensor clone() const;       // always a copy (differentiable)
  Tensor to(DType t) const;   // cast (differentiable between float types)

  // ---- in-place (not recorded by autograd, so with grad mode on they are refused on
  // any tensor that requires grad: a leaf, as in PyTorch, or an intermediate result,
  // where PyTorch would record them; ValueError). Each bumps the storage's version: a
  // backward that saved the tensor before the change throws ValueError, as in PyTorch ----
  Tensor& zero_();
  Tensor& fill_(double v);
  Tensor& copy_(const Tensor& src);  // broadcasts src, casts dtype
  Tensor& add_(const Tensor& other, double alpha = 1.0);
  Tensor& mul_(double s);

  // ---- common ops as methods (see ops.h) ----
  Tensor sum() const;
  Tensor sum(const std::vector<int64_t>& dims, bool keepdim = false) const;
  Tensor mean() const;
  Tensor mean(const std::vector<int64_t>& dims, bool keepdim = false) const;
  Tensor matmul(const Tensor& other) const;
  Tensor neg() const;
  Tensor exp() const;
  Tensor log() const;
  Tensor relu() const;
  Tensor abs() const;
  Tensor sqrt() const;
  Tensor pow(double e) const;

  TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }

 private:
  std::shared_ptr<TensorImpl> impl_;
};

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  Shape shape;
  Shape strides;
  int64_t offset = 0;
  DType dtype = DType::f32;
  bool requires_grad = false;
  std::shared_ptr<Node> grad_fn;  // null for leaves
  std::shared_ptr<TensorImpl> grad;
};

Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a);
Tensor operator+(const Tensor& a, double s);
Tensor operator-(const Tensor& a, double s);
Tensor operator*(const Tensor& a, double s);
Tensor operator/(const Tensor& a, double s);
Tensor operator+(double s, const Tensor& a);
Tensor operator-(double s, const Tensor& a);
Tensor operator*(double s, const Tensor& a);
Tensor operator/(double s, const Tensor& a);

// ---- creation ----
Tensor empty(const Shape& shape, DType dtype = DType::f32);
Tensor zeros(const Shape& shape, DType dtype = DType::f32);
Tensor ones(const Shape& shape, DType dtype = DType::f32);
Tensor full(const Shape& shape, double value, DType dtype = DType::f32);
Tensor scalar_tensor(double value, DType dtype = DType::f32);  // shape []
Tensor arange(double start, double end, double step = 1.0, DType dtype = DType::f32);
Tensor eye(int64_t n, DType dtype = DType::f32);
Tensor zeros_like(const Tensor& t);
Tensor ones_like(const Tensor& t);
Tensor empty_like(const Tensor& t);
// Copies values (converted) into a new tensor of the given shape and dtype.
Tensor from_vector(const std::vector<float>& values, const Shape& shape, DType dtype = DType::f32);
Tensor from_vector(const std::vector<double>& values, const Shape& shape, DType dtype);
Tensor from_vector(const std::vector<int64_t>& values, const Shape& shape, DType dtype = DType::i64);
// Wraps memory that someone else owns (e.g. an mmap); keep_alive is held by the storage.
Tensor from_blob(void* data, const Shape& shape, DType dtype, std::shared_ptr<void> keep_alive);

// ---- threads ----
// Number of threads for kernels and BLAS (default: hardware cores, or
// BIGDL_NUM_THREADS). One pool serves the whole library.
void set_num_threads(int n);
int get_num_threads();

// ---- bf16 autocast (mixed precision) ----
// As torch.autocast("cpu", dtype=torch.bfloat16): while on, f32 matrix products (linear,
// matmul and their gradients) and 2-D convolutions (forward and both gradients) round
// their inputs to bf16 and sum in f32 on native bf16 kernels (oneDNN); their outputs,
// the parameters (the f32 master weights the optimizer updates), optimizer state and every
// other op stay f32. bf16 keeps f32's exponent range, so no loss scaling is needed.
// Process-wide. Turning it on where the CPU has no native bf16 (AVX-512 BF16 / AMX-BF16)
// is a ValueError naming "autocast": it is never emulated.
void set_autocast_bf16(bool on);
bool autocast_bf16();
class AutocastBf16Guard {  // on for a scope, the previous state restored after
 public:
  explicit AutocastBf16Guard(bool on = true) : was_(autocast_bf16()) { set_autocast_bf16(on); }
  ~AutocastBf16Guard() { set_autocast_bf16(was_); }
  AutocastBf16Guard(const AutocastBf16Guard&) = delete;
  AutocastBf16Guard& operator=(const AutocastBf16Guard&) = delete;

 private:
  bool was_;
};

}  // namespace bigdl
