"""DLlib: the core from Python: tensors, nn, optimizers and Keras-style models (issue 12).

    bigdl_cpp.dllib.tensor            tensor() over NumPy memory, autograd, no_grad
    bigdl_cpp.dllib.nn                Linear, Conv2d, ..., Sequential; losses (PyTorch's names)
    bigdl_cpp.dllib.optim             SGD, Adam, AdamW, RMSprop, Adagrad
    bigdl_cpp.dllib.keras.layers      Dense, Conv2D, MaxPooling2D, ..., Input
    bigdl_cpp.dllib.keras.models      Sequential, Model: compile / fit / evaluate / predict
    bigdl_cpp.dllib.keras.optimizers  SGD, Adam, AdamW, RMSprop, Adagrad
    bigdl_cpp.dllib.keras.callbacks   Callback (subclass it in Python), EarlyStopping,
                                      ModelCheckpoint

over the C++ engine (include/bigdl; keras as BigDL's bigdl.dllib.keras). Still to
come in issue 12 (docs/python.md): NNEstimator / NNClassifier in Spark ML pipelines, Orca.
"""
