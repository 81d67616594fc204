#!/usr/bin/python3
"""Generates the fixtures of tests/io/ (committed; re-run only to change them).

Which Python:
  * torch.save files: /usr/bin/python3 (Debian, torch 1.13 + numpy 1.24).
  * .safetensors files: the first python3 on PATH (pyenv) with the official library:
        python3 -m pip install safetensors numpy
    Debian's python has no safetensors, so the torch part re-runs this script under that
    interpreter (override with SAFETENSORS_PYTHON=/path/to/python3).

Usage:
  /usr/bin/python3 tests/io/gen_io_fixtures.py            # all fixtures
  python3 tests/io/gen_io_fixtures.py --safetensors       # only the safetensors part
  python3 tests/io/gen_io_fixtures.py --check F.safetensors [...]
        # loads files written by bigdl-cpp with the official library and prints them;
        # exits non-zero if one does not load. (The C++ tests also check that our writer
        # reproduces the official library's bytes exactly.)

Expected values go to torch_expected.json / st_expected.json as
  {fixture: [[name, dtype, shape, hex of the contiguous little-endian bytes], ...]}.
"""
import collections
import io
import json
import os
import shutil
import struct
import subprocess
import sys
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
FIX = os.path.join(HERE, "fixtures")


def write_expected(path, expected):
    """One tensor per line, so a diff of a regenerated fixture stays readable."""
    lines = []
    for fixture, rows in expected.items():
        body = ",\n".join("  " + json.dumps(r) for r in rows) if isinstance(rows, list) \
            else "  " + json.dumps(rows)[1:-1]
        lines.append(f" {json.dumps(fixture)}: " + ("[\n" + body + "\n ]" if isinstance(rows, list)
                                                     else "{" + body.strip() + "}"))
    with open(path, "w") as f:
        f.write("{\n" + ",\n".join(lines) + "\n}\n")
    json.load(open(path))  # still valid JSON


# --------------------------------------------------------------------------------------
# torch part (/usr/bin/python3)

def torch_part():
    import torch

    dtype_names = {
        torch.float64: "F64", torch.float32: "F32", torch.float16: "F16",
        torch.bfloat16: "BF16", torch.int64: "I64", torch.int32: "I32",
        torch.int16: "I16", torch.int8: "I8", torch.uint8: "U8", torch.bool: "BOOL",
    }

    def raw_hex(t):
        t = t.detach().contiguous()
        if t.dtype in (torch.bfloat16, torch.float16):
            t = t.view(torch.int16)
        return t.numpy().astype(t.numpy().dtype.newbyteorder("<")).tobytes().hex()

    def expect(pairs):
        return [[k, dtype_names[v.dtype], list(v.shape), raw_hex(v)] for k, v in pairs]

    def save(obj, name, **kw):
        path = os.path.join(FIX, name)
        # torch names the archive folder after the file stem; keep it stable.
        torch.save(obj, path, **kw)
        return path

    expected = {}

    base = torch.arange(10, dtype=torch.float32) * 10
    grid = torch.arange(20, dtype=torch.int32).reshape(4, 5)
    sd = collections.OrderedDict()
    sd["f32"] = torch.arange(12, dtype=torch.float32).reshape(3, 4) * 0.5 - 1
    sd["f64"] = torch.arange(6, dtype=torch.float64) / 3
    sd["f16"] = torch.arange(5, dtype=torch.float16) * 0.25 - 1
    sd["bf16"] = torch.arange(4, dtype=torch.bfloat16) * 1.5 - 2
    sd["i64"] = torch.arange(-3, 3, dtype=torch.int64) * 1000000007
    sd["i32"] = torch.arange(10, dtype=torch.int32).reshape(2, 5) * -7
    sd["i16"] = torch.arange(4, dtype=torch.int16) * 300
    sd["i8"] = torch.arange(-4, 4, dtype=torch.int8)
    sd["u8"] = torch.arange(250, 256, dtype=torch.uint8)
    sd["bool"] = torch.tensor([True, False, True, True])
    sd["transposed"] = torch.arange(6, dtype=torch.float32).reshape(2, 3).t()  # stride (1, 3)
    sd["shared_a"] = base[2:6]                      # offset 2 into one storage ...
    sd["shared_b"] = base[5:]                       # ... offset 5, same storage
    sd["strided"] = grid[1:3, ::2]                  # offset 5, stride (5, 2)
    sd["scalar"] = torch.tensor(3.5, dtype=torch.float64)
    sd["empty"] = torch.zeros(0, 3)
    save(sd, "torch_dtypes.pt")
    expected["torch_dtypes.pt"] = expect(sd.items())

    # Protocol 4 (FRAME, MEMOIZE, STACK_GLOBAL, SHORT_BINUNICODE) and nn.Parameter
    # (torch._utils._rebuild_parameter).
    p4 = collections.OrderedDict()
    p4["weight"] = torch.nn.Parameter(torch.arange(6, dtype=torch.float32).reshape(2, 3) / 4)
    p4["view"] = base[1:4]
    p4["other"] = base[7:9]
    save(p4, "torch_proto4.pt", pickle_protocol=4)
    expected["torch_proto4.pt"] = expect(p4.items())

    # A training checkpoint: nested dicts, int keys, lists, non-tensor leaves.
    model = collections.OrderedDict()
    model["fc.weight"] = torch.arange(6, dtype=torch.float32).reshape(3, 2) - 2.5
    model["fc.bias"] = torch.tensor([0.5, -0.5, 1.5])
    model["bn.num_batches_tracked"] = torch.tensor(7)
    momentum = torch.full((3, 2), 0.125)
    ckpt = {
        "model": model,
        "epoch": 3,
        "optimizer": {"state": {0: {"momentum_buffer": momentum}},
                      "param_groups": [{"lr": 0.1, "params": [0]}]},
        "name": "mlp",
        "history": [torch.tensor([1.0, 2.0]), 0.25, None, (True, "x")],
    }
    save(ckpt, "torch_nested.pt")
    expected["torch_nested.pt"] = expect([
        ("model.fc.weight", model["fc.weight"]),
        ("model.fc.bias", model["fc.bias"]),
        ("model.bn.num_batches_tracked", model["bn.num_batches_tracked"]),
        ("optimizer.state.0.momentum_buffer", momentum),
        ("history.0", ckpt["history"][0]),
    ])

    # The same archive, deflated by Python's zipfile (torch itself always stores).
    src = os.path.join(FIX, "torch_dtypes.pt")
    dst = os.path.join(FIX, "torch_deflate.pt")
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():  # fixed dates keep the fixture reproducible
            zout.writestr(zipfile.ZipInfo(info.filename, (2020, 1, 1, 0, 0, 0)),
                          zin.read(info.filename), compress_type=zipfile.ZIP_DEFLATED)
    loaded = torch.load(dst)
    assert all(torch.equal(loaded[k], v) for k, v in sd.items()), "torch cannot read deflate"
    expected["torch_deflate.pt"] = expected["torch_dtypes.pt"]

    # Big-endian storages flagged by a byteorder entry (what torch >= 2.1 writes on s390x).
    dst = os.path.join(FIX, "torch_bigendian.pt")
    with zipfile.ZipFile(src) as zin:
        pkl_name = [n for n in zin.namelist() if n.endswith("/data.pkl")][0]
        prefix = pkl_name[: -len("data.pkl")]
        # element size of each storage key, from the pickle's persistent ids
        import pickle

        class Scan(pickle.Unpickler):
            keys = {}

            def find_class(self, mod, name):
                if name.endswith("Storage"):
                    return name
                if name == "_rebuild_tensor_v2":
                    return lambda *args: None
                return super().find_class(mod, name)

            def persistent_load(self, pid):
                _, stype, key, _, numel = pid
                Scan.keys[key] = getattr(torch, stype)().element_size()
                return None

        Scan(io.BytesIO(zin.read(pkl_name))).load()
        with zipfile.ZipFile(dst, "w", zipfile.ZIP_STORED) as zout:
            for info in zin.infolist():
                data = zin.read(info.filename)
                if info.filename.startswith(prefix + "data/"):
                    es = Scan.keys[info.filename[len(prefix + "data/"):]]
                    data = b"".join(data[i:i + es][::-1] for i in range(0, len(data), es))
                zout.writestr(zipfile.ZipInfo(info.filename, (2020, 1, 1, 0, 0, 0)), data)
            zout.writestr(zipfile.ZipInfo(prefix + "byteorder", (2020, 1, 1, 0, 0, 0)), b"big")
    expected["torch_bigendian.pt"] = expected["torch_dtypes.pt"]

    # Malicious pickles: unpickling them with Python would run a shell command.
    class EvilSystem:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    class EvilEval:
        def __reduce__(self):
            return (eval, ("__import__('os').system('echo pwned')",))

    save({"weight": torch.ones(2), "evil": EvilSystem()}, "torch_evil_system.pt")
    save({"evil": EvilEval()}, "torch_evil_eval.pt", pickle_protocol=4)

    # Pre-1.6 format: a bare pickle stream, which we refuse.
    save({"w": torch.ones(2)}, "torch_legacy.pt", _use_new_zipfile_serialization=False)

    write_expected(os.path.join(FIX, "torch_expected.json"), expected)

    # Values the C++ test checks in the real MNIST checkpoint.
    mnist = os.path.join(HERE, "..", "..", "..", "shared", "data", "vision", "mnist-mlp",
                         "mnist_model.state_dict")
    if os.path.exists(mnist):
        m = torch.load(mnist, map_location="cpu")
        for k, v in m.items():
            flat = v.flatten()
            print(f"mnist {k} {tuple(v.shape)} first {float.hex(flat[0].item())} "
                  f"last {float.hex(flat[-1].item())}")


# --------------------------------------------------------------------------------------
# safetensors part (python3 with the official safetensors package)

def safetensors_part():
    import numpy as np
    from safetensors import TensorSpec, serialize_file

    arrays = collections.OrderedDict()
    # (name, safetensors dtype, library dtype name, array holding the bytes, shape)
    arrays["f64"] = ("F64", "float64", np.arange(6, dtype=np.float64).reshape(2, 3) / 3)
    arrays["f32"] = ("F32", "float32", np.arange(12, dtype=np.float32).reshape(3, 4) * 0.5 - 1)
    arrays["f16"] = ("F16", "float16", np.arange(5, dtype=np.float16) * np.float16(0.25))
    # numpy has no bfloat16: these are the bf16 bit patterns of 1, -2, 0.5, 3.
    arrays["bf16"] = ("BF16", "bfloat16", np.array([0x3F80, 0xC000, 0x3F00, 0x4040], np.uint16))
    arrays["i64"] = ("I64", "int64", np.arange(-3, 3, dtype=np.int64) * 1000000007)
    arrays["i32"] = ("I32", "int32", np.arange(10, dtype=np.int32).reshape(2, 5) * -7)
    arrays["i16"] = ("I16", "int16", np.arange(4, dtype=np.int16) * 300)
    arrays["i8"] = ("I8", "int8", np.arange(-4, 4, dtype=np.int8))
    arrays["u8"] = ("U8", "uint8", np.arange(250, 256, dtype=np.uint8))
    arrays["bool"] = ("BOOL", "bool", np.array([True, False, True]))
    arrays["u16"] = ("U16", "uint16", np.array([1, 65535], np.uint16))
    arrays["u32"] = ("U32", "uint32", np.array([7, 4000000000], np.uint32))
    arrays["u64"] = ("U64", "uint64", np.array([2**63 + 5], np.uint64))
    arrays["scalar"] = ("F32", "float32", np.array(2.5, np.float32))
    arrays["empty"] = ("F32", "float32", np.zeros((0, 3), np.float32))

    specs = {}
    for name, (_, lib_dtype, arr) in arrays.items():
        arr = np.require(arr, requirements="C")  # unlike ascontiguousarray, keeps 0-d
        specs[name] = TensorSpec(dtype=lib_dtype, shape=list(arr.shape),
                                 data_ptr=arr.ctypes.data, data_len=arr.nbytes)
        arrays[name] = arrays[name][:2] + (arr,)
    # One key: the official writer emits metadata in hash order, so with several keys its
    # bytes would change from run to run (ours sorts them).
    metadata = {"format": "np"}
    path = os.path.join(FIX, "st_all_dtypes.safetensors")
    serialize_file(specs, path, metadata=metadata)

    # Small file for the every-prefix truncation test.
    small = os.path.join(FIX, "st_small.safetensors")
    import safetensors.numpy as stnp
    stnp.save_file({"w": np.array([[1, 2], [3, 4]], np.float32), "b": np.array([5], np.int64)},
                   small, metadata={"k": "v"})

    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
    order = sorted((k for k in header if k != "__metadata__"),
                   key=lambda k: tuple(header[k]["data_offsets"]))
    expected = {"st_all_dtypes.safetensors": [
        [k, arrays[k][0], list(arrays[k][2].shape), arrays[k][2].astype(
            arrays[k][2].dtype.newbyteorder("<")).tobytes().hex()] for k in order],
        "st_all_dtypes.safetensors metadata": metadata}
    write_expected(os.path.join(FIX, "st_expected.json"), expected)
    for p in (path, small):
        os.chmod(p, 0o644)


def check(paths):
    from safetensors import safe_open
    ok = True
    for p in paths:
        try:
            with safe_open(p, framework="numpy") as f:
                print(p, "metadata", f.metadata())
                for k in f.keys():
                    sl = f.get_slice(k)
                    print(" ", k, sl.get_dtype(), sl.get_shape())
                    if sl.get_dtype() not in ("BF16",):
                        f.get_tensor(k)
        except Exception as e:  # noqa: BLE001 - report every failure
            print(p, "FAILED:", e)
            ok = False
    return ok


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--check":
        sys.exit(0 if check(sys.argv[2:]) else 1)
    if len(sys.argv) > 1 and sys.argv[1] == "--safetensors":
        safetensors_part()
        return
    os.makedirs(FIX, exist_ok=True)
    torch_part()
    py = os.environ.get("SAFETENSORS_PYTHON") or shutil.which("python3")
    subprocess.run([py, os.path.abspath(__file__), "--safetensors"], check=True)


if __name__ == "__main__":
    main()
