// ONNX reader (include/bigdl/io/onnx.h): protobuf parse by Debian's onnx_proto, then a copy
// into plain structs with every size and reference checked.
#include "bigdl/io/onnx.h"

#include <climits>
#include <cstring>
#include <limits>
#include <unordered_set>

#include <onnx/onnx_pb.h>

#include "bigdl/error.h"
#include "bigdl/io/gzip.h"

namespace bigdl::io {
namespace {

constexpr const char* kOp = "read_onnx";

// Element count of dims, refusing negative dims and products past 2^40 elements.
int64_t numel_of(const std::vector<int64_t>& dims, const std::string& what, const std::string& tensor) {
  int64_t n = 1;
  for (int64_t d : dims) {
    BIGDL_CHECK(d >= 0, FormatError, kOp, what, ": tensor '", tensor, "' has a negative dim ", d);
    BIGDL_CHECK(d == 0 || n <= (int64_t(1) << 40) / d, FormatError, kOp, what, ": tensor '", tensor, "' is too large");
    n *= d;
  }
  return n;
}

template <typename To, typename Field>
void copy_field(const Field& f, int64_t n, RawTensor& t) {
  t.data.resize(size_t(n) * sizeof(To));
  To* out = reinterpret_cast<To*>(t.data.data());
  for (int64_t k = 0; k < n; ++k) out[k] = static_cast<To>(f.Get(int(k)));
}

RawTensor tensor_of(const onnx::TensorProto& p, const std::string& what) {
  const std::string& name = p.name();
  BIGDL_CHECK(p.data_location() != onnx::TensorProto::EXTERNAL && p.external_data_size() == 0, FormatError, kOp, what,
              ": tensor '", name, "' keeps its data in an external file (save the model with its weights inside)");
  RawTensor t;
  t.dtype = onnx_dtype_name(p.data_type());
  BIGDL_CHECK(!t.dtype.empty(), DTypeError, kOp, what, ": tensor '", name, "' has ONNX data type ", p.data_type(),
              ", which we do not hold (float, float16, bfloat16, double, int8, uint8, int32, int64, bool)");
  t.shape.assign(p.dims().begin(), p.dims().end());
  const int64_t n = numel_of(t.shape, what, name);
  const int64_t es = raw_element_size(t.dtype);
  if (p.has_raw_data()) {
    BIGDL_CHECK(int64_t(p.raw_data().size()) == n * es, FormatError, kOp, what, ": tensor '", name, "' has ",
                p.raw_data().size(), " bytes of data, its shape needs ", n * es);
    t.data.assign(p.raw_data().begin(), p.raw_data().end());
    return t;
  }
  // Typed fields: float_data (float), int32_data (int32 and the smaller ints, bool and the
  // 16-bit floats as bit patterns), int64_data, double_data.
  int64_t have = 0;
  const int32_t type = p.data_type();
  if (type == onnx::TensorProto::FLOAT) have = p.float_data_size();
  else if (type == onnx::TensorProto::INT64) have = p.int64_data_size();
  else if (type == onnx::TensorProto::DOUBLE) have = p.double_data_size();
  else have = p.int32_data_size();
  BIGDL_CHECK(have == n, FormatError, kOp, what, ": tensor '", name, "' holds ", have, " values, its shape needs ", n);
  switch (type) {
    case onnx::TensorProto::FLOAT: copy_field<float>(p.float_data(), n, t); break;
    case onnx::TensorProto::INT64: copy_field<int64_t>(p.int64_data(), n, t); break;
    case onnx::TensorProto::DOUBLE: copy_field<double>(p.double_data(), n, t); break;
    case onnx::TensorProto::INT32: copy_field<int32_t>(p.int32_data(), n, t); break;
    case onnx::TensorProto::INT8: copy_field<int8_t>(p.int32_data(), n, t); break;
    case onnx::TensorProto::UINT8: copy_field<uint8_t>(p.int32_data(), n, t); break;
    case onnx::TensorProto::BOOL: copy_field<uint8_t>(p.int32_data(), n, t); break;
    default: copy_field<uint16_t>(p.int32_data(), n, t); break;  // FLOAT16, BFLOAT16
  }
  if (type == onnx::TensorProto::BOOL)
    for (uint8_t& b : t.data) b = b != 0;
  return t;
}

OnnxValueInfo value_info_of(const onnx::ValueInfoProto& v) {
  OnnxValueInfo info;
  info.name = v.name();
  if (v.has_type() && v.type().has_tensor_type()) {
    const auto& tt = v.type().tensor_type();
    info.dtype = onnx_dtype_name(tt.elem_type());
    if (tt.has_shape()) {
      info.has_shape = true;
      for (const auto& d : tt.shape().dim()) info.shape.push_back(d.has_dim_value() && d.dim_value() >= 0 ? d.dim_value() : -1);
    }
  }
  return info;
}

OnnxAttribute attribute_of(const onnx::AttributeProto& a, const std::string& what) {
  OnnxAttribute out;
  out.name = a.name();
  switch (a.type()) {
    case onnx::AttributeProto::FLOAT: out.kind = OnnxAttribute::floating, out.f = a.f(); break;
    case onnx::AttributeProto::INT: out.kind = OnnxAttribute::integer, out.i = a.i(); break;
    case onnx::AttributeProto::STRING: out.kind = OnnxAttribute::string, out.s = a.s(); break;
    case onnx::AttributeProto::TENSOR: out.kind = OnnxAttribute::tensor, out.t = tensor_of(a.t(), what); break;
    case onnx::AttributeProto::FLOATS: out.kind = OnnxAttribute::floats, out.fs.assign(a.floats().begin(), a.floats().end()); break;
    case onnx::AttributeProto::INTS: out.kind = OnnxAttribute::ints, out.is.assign(a.ints().begin(), a.ints().end()); break;
    case onnx::AttributeProto::STRINGS: out.kind = OnnxAttribute::strings, out.ss.assign(a.strings().begin(), a.strings().end()); break;
    case onnx::AttributeProto::GRAPH:
    case onnx::AttributeProto::GRAPHS: out.kind = OnnxAttribute::graph; break;
    default: out.kind = OnnxAttribute::other; break;
  }
  return out;
}

}  // namespace

std::string onnx_dtype_name(int32_t t) {
  switch (t) {
    case onnx::TensorProto::FLOAT: return "F32";
    case onnx::TensorProto::FLOAT16: return "F16";
    case onnx::TensorProto::BFLOAT16: return "BF16";
    case onnx::TensorProto::DOUBLE: return "F64";
    case onnx::TensorProto::INT8: return "I8";
    case onnx::TensorProto::UINT8: return "U8";
    case onnx::TensorProto::INT32: return "I32";
    case onnx::TensorProto::INT64: return "I64";
    case onnx::TensorProto::BOOL: return "BOOL";
    default: return "";
  }
}

const OnnxAttribute* OnnxNode::attr(const std::string& n) const {
  for (const OnnxAttribute& a : attributes)
    if (a.name == n) return &a;
  return nullptr;
}

std::string OnnxNode::label() const { return op_type + " '" + (name.empty() ? (outputs.empty() ? "?" : outputs[0]) : name) + "'"; }

OnnxModel parse_onnx(const uint8_t* data, size_t size, const std::string& what) {
  BIGDL_CHECK(size <= size_t(INT_MAX), FormatError, kOp, what, ": larger than 2 GB (ONNX keeps such weights as external data)");
  onnx::ModelProto proto;
  BIGDL_CHECK(proto.ParseFromArray(data, int(size)), FormatError, kOp, what,
              ": not an ONNX model (the protobuf does not parse: truncated or another format)");
  BIGDL_CHECK(proto.has_graph(), FormatError, kOp, what, ": the model has no graph");
  OnnxModel m;
  m.ir_version = proto.ir_version();
  m.producer = proto.producer_name();
  for (const auto& o : proto.opset_import())
    if (o.domain().empty() || o.domain() == "ai.onnx") m.opset = o.version();
  const onnx::GraphProto& g = proto.graph();
  std::unordered_set<std::string> defined;
  const auto define = [&](const std::string& name, const std::string& by) {
    BIGDL_CHECK(!name.empty(), FormatError, kOp, what, ": ", by, " names a value ''");
    BIGDL_CHECK(defined.insert(name).second, FormatError, kOp, what, ": ", by, " defines '", name, "', already defined");
  };
  for (const auto& t : g.initializer()) {
    define(t.name(), "an initializer");
    m.initializers.emplace_back(t.name(), tensor_of(t, what));
  }
  for (const auto& v : g.input()) {
    if (defined.count(v.name())) continue;  // an initializer listed as an input too (older exporters)
    define(v.name(), "a graph input");
    m.inputs.push_back(value_info_of(v));
  }
  for (const auto& n : g.node()) {
    OnnxNode node;
    node.name = n.name();
    node.op_type = n.op_type();
    node.domain = n.domain();
    node.inputs.assign(n.input().begin(), n.input().end());
    node.outputs.assign(n.output().begin(), n.output().end());
    for (const std::string& in : node.inputs)
      BIGDL_CHECK(in.empty() || defined.count(in), FormatError, kOp, what, ": node ", node.label(), " reads '", in,
                  "', which no graph input, initializer or earlier node defines");
    for (const auto& a : n.attribute()) node.attributes.push_back(attribute_of(a, what + ": node " + node.label()));
    for (const std::string& out : node.outputs)
      if (!out.empty()) define(out, "node " + node.label());
    m.nodes.push_back(std::move(node));
  }
  for (const auto& v : g.output()) {
    BIGDL_CHECK(defined.count(v.name()), FormatError, kOp, what, ": graph output '", v.name(), "' is not computed");
    m.outputs.push_back(value_info_of(v));
  }
  BIGDL_CHECK(!m.outputs.empty(), FormatError, kOp, what, ": the graph has no outputs");
  return m;
}

OnnxModel read_onnx(const std::string& path) {
  const std::vector<uint8_t> bytes = read_file_bytes(path);
  return parse_onnx(bytes.data(), bytes.size(), path);
}

}  // namespace bigdl::io
