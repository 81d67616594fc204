"""Real data sets as NumPy arrays, read by the engine (include/bigdl/train/data.h)."""
import os

from bigdl_cpp._native import dllib as _d

__all__ = ["load_idx", "fashion_mnist", "FASHION_MNIST_DIR"]

# Debian's dataset-fashion-mnist (scripts/install_deps.sh installs it).
FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"


def load_idx(images, labels):
    """IDX image and label files (gzipped or not): x float32 [N, 1, H, W] scaled to [0, 1],
    y int64 [N]. OSError / ValueError name the file."""
    return _d.load_idx_dataset(str(images), str(labels))


def fashion_mnist(split="train", directory=FASHION_MNIST_DIR, flat=False, limit=None):
    """Fashion-MNIST's "train" (60,000) or "test" (10,000) split; flat=True gives x as
    [N, 784]; limit keeps the first rows."""
    if split not in ("train", "test"):
        raise ValueError(f"fashion_mnist: split must be 'train' or 'test', got '{split}'")
    prefix = "train" if split == "train" else "t10k"
    x, y = load_idx(os.path.join(directory, f"{prefix}-images-idx3-ubyte.gz"),
                    os.path.join(directory, f"{prefix}-labels-idx1-ubyte.gz"))
    if limit is not None:
        x, y = x[:limit], y[:limit]
    return (x.reshape(len(x), -1) if flat else x), y
