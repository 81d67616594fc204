# BigDL Nano's InferenceOptimizer example on our engine (docs/nano.md): every method on a
# trained model, the table of status / latency / accuracy, and the best model within 0.5 %.
#
#   PYTHONPATH=build/python ~/.cache/bigdl-cpp/venv/test/bin/python examples/python/nano_inference_optimizer.py
#       [--model mlp|lenet|resnet] [--epochs 1] [--threads 1,2] [--batch 1,32]
#
# mlp (default): the trained MNIST MLP of ../shared/data/vision/mnist-mlp (784-500-10,
# PyTorch's weights, read with torch), on the MNIST test set. lenet: LeNet-5 with
# BatchNorm after each convolution, trained here for --epochs on Fashion-MNIST (Debian's
# dataset-fashion-mnist, seed 0) and scored on its test set. resnet: a small ResNet (three
# basic blocks, 16 / 32 / 64 channels, Keras functional API) trained the same way.
# benchmarks/nano/run.py and
# tests/python/test_nano.py build their models with the functions here. Uses the test venv's Python
# (Debian's torch for reading the MLP's checkpoint).
import argparse
import os
import time

import numpy as np

from bigdl_cpp.dllib import nn, optim
from bigdl_cpp.dllib.datasets import fashion_mnist, load_idx
from bigdl_cpp.dllib.tensor import manual_seed
from bigdl_cpp.nano import InferenceOptimizer

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHARED = os.environ.get("BIGDL_SHARED_DATA", os.path.join(os.path.dirname(ROOT), "shared", "data"))


def mlp_layers(m):
    """The MLP's layers from m = bigdl_cpp.dllib.nn (or torch.nn: the same names)."""
    return [m.Linear(784, 500), m.ReLU(), m.Linear(500, 10)]


def lenet_layers(m):
    """LeNet-5 with BatchNorm after each convolution, from m = bigdl_cpp.dllib.nn or torch.nn."""
    return [m.Conv2d(1, 6, 5, padding=2), m.BatchNorm2d(6), m.ReLU(), m.MaxPool2d(2), m.Conv2d(6, 16, 5),
            m.BatchNorm2d(16), m.ReLU(), m.MaxPool2d(2), m.Flatten(), m.Linear(400, 120), m.ReLU(), m.Dropout(0.1),
            m.Linear(120, 84), m.ReLU(), m.Linear(84, 10)]


def mnist_mlp():
    """(the trained MLP, the latency inputs, (x, y) to score on): the MNIST test set."""
    import torch
    v = os.path.join(SHARED, "vision")
    sd = torch.load(os.path.join(v, "mnist-mlp", "mnist_model.state_dict"), map_location="cpu")
    net = nn.Sequential(*mlp_layers(nn))
    net.load_state_dict({"0.weight": sd["fc1.weight"].numpy(), "0.bias": sd["fc1.bias"].numpy(),
                         "2.weight": sd["fc2.weight"].numpy(), "2.bias": sd["fc2.bias"].numpy()})
    x, y = load_idx(os.path.join(v, "mnist", "t10k-images-idx3-ubyte.gz"), os.path.join(v, "mnist", "t10k-labels-idx1-ubyte.gz"))
    x = np.asarray(x).reshape(-1, 784)
    return net, x, (x, np.asarray(y))


def fashion_lenet(epochs):
    """(LeNet-5 trained for epochs on Fashion-MNIST, seed 0, the training images, (x, y) of the test split)."""
    manual_seed(0)
    net = nn.Sequential(*lenet_layers(nn))
    x, y = (np.asarray(a) for a in fashion_mnist("train"))
    xt, yt = (np.asarray(a) for a in fashion_mnist("test"))
    opt, loss_fn = optim.Adam(net.parameters(), lr=2e-3), nn.CrossEntropyLoss()
    rng = np.random.default_rng(0)
    for epoch in range(epochs):
        t0, order = time.time(), rng.permutation(len(x))
        net.train()
        for i in range(0, len(x), 64):
            idx = order[i:i + 64]
            loss = loss_fn(net(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        print(f"epoch {epoch + 1}/{epochs}: last batch loss {loss.item():.4f} ({time.time() - t0:.1f} s)", flush=True)
    return net, x, (xt, yt)


def resnet_model(channels=(16, 32, 64)):
    """A small ResNet for [1, 28, 28] inputs, Keras functional API: a 3x3 convolution stem,
    then per stage one basic block (two 3x3 convolutions with BatchNorm, the shortcut added,
    ReLU); the stages after the first start with a 2x2 max pool and project the shortcut
    with a 1x1 convolution; global average pooling and Dense(10) logits."""
    from bigdl_cpp.dllib.keras.layers import (Activation, Add, BatchNormalization, Conv2D, Dense,
                                              GlobalAveragePooling2D, Input, MaxPooling2D)
    from bigdl_cpp.dllib.keras.models import Model

    def conv_bn(y, c, k):
        return BatchNormalization()(Conv2D(c, k, padding="same", use_bias=False)(y))
    x = Input((1, 28, 28))
    y = Activation("relu")(conv_bn(x, channels[0], 3))
    for i, c in enumerate(channels):
        if i > 0:
            y = MaxPooling2D(2)(y)
        shortcut = y if i == 0 else conv_bn(y, c, 1)
        z = conv_bn(Activation("relu")(conv_bn(y, c, 3)), c, 3)
        y = Activation("relu")(Add()([z, shortcut]))
    return Model(x, Dense(10)(GlobalAveragePooling2D()(y)))


def fashion_resnet(epochs):
    """(resnet_model() trained for epochs on Fashion-MNIST with Adam, seed 0, the training
    images, (x, y) of the test split)."""
    manual_seed(0)
    model = resnet_model()
    x, y = (np.asarray(a) for a in fashion_mnist("train"))
    xt, yt = (np.asarray(a) for a in fashion_mnist("test"))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x, y, batch_size=64, epochs=epochs)
    return model, x, (xt, yt)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", choices=["mlp", "lenet", "resnet"], default="mlp")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--batch", default="1,32")
    args = ap.parse_args()
    net, train_x, val = {"mlp": lambda: mnist_mlp(), "lenet": lambda: fashion_lenet(args.epochs),
                         "resnet": lambda: fashion_resnet(args.epochs)}[args.model]()
    for threads in [int(t) for t in args.threads.split(",")]:
        for batch in [int(b) for b in args.batch.split(",")]:
            opt = InferenceOptimizer().optimize(net, training_data=train_x, validation_data=val, thread_num=threads,
                                                batch_size=batch, latency_sample_num=100)
            print(f"\n{args.model}: batch {batch}, {threads} thread(s)")
            opt.summary()
            _, method = opt.get_best_model(accuracy_criterion=0.005)
            print(f"best within 0.5 %: {method}")


if __name__ == "__main__":
    main()
