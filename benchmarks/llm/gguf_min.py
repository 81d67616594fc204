"""A minimal GGUF v3 reader/writer for the LLM benchmark scripts (numpy only).

Just enough for benchmarks/llm: read the metadata (values decoded, and each key-value
pair's raw bytes so a tokenizer can be copied verbatim into another file) and the tensor
table; write a file of f32 / q8_0 tensors tensor by tensor, so a 4 GB model never has to
sit in memory. The layout is GGUF v3 as in ggml's include/gguf.h: magic "GGUF", u32
version, u64 n_tensors, u64 n_kv, the key-value pairs, the tensor infos (name, u32 n_dims,
u64 dims innermost first, u32 type, u64 offset), padding to general.alignment (32), data.
"""
import struct

import numpy as np

# ggml type id -> (name, elements per block, bytes per block)
TYPES = {0: ("f32", 1, 4), 1: ("f16", 1, 2), 2: ("q4_0", 32, 18), 3: ("q4_1", 32, 20),
         6: ("q5_0", 32, 22), 7: ("q5_1", 32, 24), 8: ("q8_0", 32, 34), 10: ("q2_K", 256, 84),
         11: ("q3_K", 256, 110), 12: ("q4_K", 256, 144), 13: ("q5_K", 256, 176), 14: ("q6_K", 256, 210),
         20: ("iq4_nl", 32, 18), 23: ("iq4_xs", 256, 136)}
F32, Q8_0 = 0, 8
ALIGN = 32

# GGUF metadata value types
_SCALAR = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
T_U32, T_F32, T_STRING = 4, 6, 8


def tensor_nbytes(type_id, n_elements):
    name, block, size = TYPES[type_id]
    if n_elements % block:
        raise ValueError(f"gguf: {n_elements} elements of {name} is not a whole number of blocks")
    return n_elements // block * size


class Reader:
    """metadata: key -> value; raw_kv: key -> the pair's bytes; tensors: name -> (type, shape outermost first, nbytes)."""

    def __init__(self, path):
        self.path = path
        with open(path, "rb") as f:
            self._buf = f.read(64 << 20)  # metadata of a GGUF is at its start; 64 MiB covers big vocabs
        self._pos = 0
        if self._buf[:4] != b"GGUF":
            raise ValueError(f"gguf: {path}: not a GGUF file (bad magic)")
        version, n_tensors, n_kv = struct.unpack_from("<IQQ", self._buf, 4)
        if version not in (2, 3):
            raise ValueError(f"gguf: {path}: version {version} not supported")
        self._pos = 24
        self.metadata, self.raw_kv, self.tensors = {}, {}, {}
        for _ in range(n_kv):
            start = self._pos
            key = self._string()
            (vtype,) = self._unpack("<I")
            self.metadata[key] = self._value(vtype)
            self.raw_kv[key] = self._buf[start:self._pos]
        for _ in range(n_tensors):
            name = self._string()
            (n_dims,) = self._unpack("<I")
            dims = self._unpack("<" + "Q" * n_dims)
            ttype, _offset = self._unpack("<IQ")
            n = int(np.prod(dims)) if dims else 1
            self.tensors[name] = (ttype, tuple(reversed(dims)), tensor_nbytes(ttype, n))
        del self._buf

    def _unpack(self, fmt):
        v = struct.unpack_from(fmt, self._buf, self._pos)
        self._pos += struct.calcsize(fmt)
        return v

    def _string(self):
        (n,) = self._unpack("<Q")
        s = self._buf[self._pos:self._pos + n].decode("utf-8", errors="replace")
        self._pos += n
        return s

    def _value(self, vtype):
        if vtype in _SCALAR:
            return self._unpack(_SCALAR[vtype])[0]
        if vtype == T_STRING:
            return self._string()
        if vtype == 9:
            etype, n = self._unpack("<IQ")
            if etype in _SCALAR:  # skip numeric arrays in one step (token scores, types)
                size = struct.calcsize(_SCALAR[etype])
                arr = np.frombuffer(self._buf, dtype=np.dtype(_SCALAR[etype]), count=n, offset=self._pos)
                self._pos += n * size
                return arr
            return [self._value(etype) for _ in range(n)]
        raise ValueError(f"gguf: {self.path}: unknown metadata value type {vtype}")


def _str(s):
    b = s.encode("utf-8")
    return struct.pack("<Q", len(b)) + b


def kv_u32(key, v):
    return _str(key) + struct.pack("<II", T_U32, v)


def kv_f32(key, v):
    return _str(key) + struct.pack("<If", T_F32, v)


def kv_string(key, v):
    return _str(key) + struct.pack("<I", T_STRING) + _str(v)


def quantize_q8_0(x):
    """ggml's quantize_row_q8_0_ref: per 32 values d = amax/127 (stored f16), q = round(x/d)."""
    x = np.asarray(x, dtype=np.float32).reshape(-1, 32)
    amax = np.abs(x).max(axis=1, keepdims=True)
    d = amax / 127.0
    inv = np.where(d > 0, 1.0 / np.where(d > 0, d, 1.0), 0.0).astype(np.float32)
    q = np.round(x * inv).astype(np.int8)  # numpy rounds half to even, ggml roundf away from 0: ties have measure 0
    out = np.empty((x.shape[0], 34), dtype=np.uint8)
    out[:, :2] = d.astype(np.float16).view(np.uint8).reshape(-1, 2)
    out[:, 2:] = q.view(np.uint8)
    return out.reshape(-1)


def write(path, raw_kvs, tensors):
    """raw_kvs: list of encoded key-value pairs (kv_u32, ..., or Reader.raw_kv values).
    tensors: list of (name, shape outermost first, type id, producer); producer() returns
    the tensor's bytes (a numpy array) and is called once, in order, while writing."""
    infos, offset = [], 0
    for name, shape, ttype, _ in tensors:
        nbytes = tensor_nbytes(ttype, int(np.prod(shape)))
        infos.append(_str(name) + struct.pack("<I", len(shape)) +
                     struct.pack("<" + "Q" * len(shape), *reversed(shape)) + struct.pack("<IQ", ttype, offset))
        offset += (nbytes + ALIGN - 1) // ALIGN * ALIGN
    with open(path, "wb") as f:
        f.write(b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(raw_kvs)))
        for kv in raw_kvs:
            f.write(kv)
        for info in infos:
            f.write(info)
        f.write(b"\0" * (-f.tell() % ALIGN))
        for name, shape, ttype, producer in tensors:
            data = np.ascontiguousarray(producer())
            nbytes = tensor_nbytes(ttype, int(np.prod(shape)))
            if data.nbytes != nbytes:
                raise ValueError(f"gguf: tensor '{name}': {data.nbytes} bytes produced, {nbytes} expected")
            data.tofile(f)
            f.write(b"\0" * (-nbytes % ALIGN))
