"""BigDL DLlib's Keras-style training from Python (bigdl_cpp.dllib.keras, docs/python.md):
an MLP on sklearn's 8x8 digits (Debian's python3-sklearn), 80/20 split, then the test
accuracy. Only the imports differ from a BigDL DLlib script.

    PYTHONPATH=build/python /usr/bin/python3 examples/python/dllib_keras_digits.py
"""
import numpy as np
from sklearn.datasets import load_digits

from bigdl_cpp.dllib.keras import callbacks, optimizers
from bigdl_cpp.dllib.keras.layers import Dense, Dropout
from bigdl_cpp.dllib.keras.models import Sequential

digits = load_digits()
x = (digits.data / 16.0).astype(np.float32)
y = digits.target.astype(np.int64)
perm = np.random.default_rng(0).permutation(len(x))
split = int(0.8 * len(x))
x_train, y_train, x_test, y_test = x[perm[:split]], y[perm[:split]], x[perm[split:]], y[perm[split:]]

model = Sequential()
model.add(Dense(128, activation="relu", input_shape=(64,)))
model.add(Dropout(0.2))
model.add(Dense(10, activation="softmax"))
model.compile(optimizer=optimizers.Adam(lr=3e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.summary()
model.fit(x_train, y_train, batch_size=32, nb_epoch=20, validation_data=(x_test, y_test),
          callbacks=[callbacks.EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True)])
loss, acc = model.evaluate(x_test, y_test)
print(f"test accuracy {acc:.4f} (loss {loss:.4f})")
