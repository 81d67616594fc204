// Loader for torch.save checkpoints in the zip format (PyTorch >= 1.6), without Python
// and without ever executing anything the file asks for.
//
// A torch.save file is a zip archive (see zip.h), usually "stored", under one top-level
// folder whose name is arbitrary ("archive", or the file stem):
//
//   <archive>/data.pkl      the object graph, a pickle (protocol 2 by default, up to 5)
//   <archive>/data/<key>    raw bytes of one storage, little-endian unless byteorder says
//   <archive>/version       format version ("3\n")
//   <archive>/byteorder     optional, "little" or "big" (big-endian storages are swapped)
//
// In data.pkl a tensor is
//   REDUCE(torch._utils._rebuild_tensor_v2,
//          (storage, storage_offset, size, stride, requires_grad, backward_hooks[, meta]))
// where storage is a persistent id (BINPERSID) holding the tuple
//   ('storage', torch.<Type>Storage, key, location, numel)
// and nn.Parameter wraps it in torch._utils._rebuild_parameter(tensor, requires_grad, hooks).
// Offsets, sizes and strides count elements; several tensors may view one storage.
//
// The unpickler is a restricted VM: it knows only the opcodes that plain containers
// (dict, OrderedDict, list, tuple, str, bytes, int, float, bool, None) and tensors need,
// and it resolves GLOBAL / STACK_GLOBAL only for this allow-list:
//   collections.OrderedDict, torch._utils._rebuild_tensor_v2,
//   torch._utils._rebuild_parameter, torch._utils._rebuild_parameter_with_state,
//   torch.{Float,Double,Half,BFloat16,Long,Int,Short,Char,Byte,Bool}Storage
// Any other global (os.system, builtins.eval, ...) throws SecurityError
//   [load_torch_state_dict] f.pt: pickle asks for global 'posix.system'; only tensors and
//   plain containers are allowed
// Nothing is ever called: allowed globals are interpreted as data constructors.
// Malformed input (truncated or inconsistent zip, unknown opcode, stack underflow, memo
// miss, missing or short storage, view outside its storage, ...) throws FormatError naming
// the file. Work is linear in the input size (every opcode consumes input), and memory is
// bounded by a constant factor of the file size.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "bigdl/io/raw_tensor.h"

namespace bigdl::io {

// Loads every tensor reachable from the object torch.save wrote to `path`, each
// materialized contiguous (row-major) in its storage dtype. Nested dicts, lists and tuples
// flatten to "."-joined keys ({"model": {"fc.weight": t}, "epoch": 3} gives
// "model.fc.weight"; list items and int keys use their decimal index); non-tensor leaves
// (ints, floats, strings, None, an OrderedDict's _metadata) are skipped. Order is the
// pickle's (= the state_dict's) order. Throws IOError, FormatError, SecurityError.
std::vector<std::pair<std::string, RawTensor>> load_torch_state_dict(const std::string& path);

// Same as load_torch_state_dict over an in-memory file image; errors read
// "[parse_torch_state_dict] <name_for_errors>: ...". The entry point for fuzzers.
std::vector<std::pair<std::string, RawTensor>> parse_torch_state_dict(
    const uint8_t* data, size_t size, const std::string& name_for_errors);

}  // namespace bigdl::io
