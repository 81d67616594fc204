"""DLlib: the core's Keras-style models and training (issue 12).

    bigdl_cpp.dllib.keras.layers      Dense, Conv2D, MaxPooling2D, ..., Input
    bigdl_cpp.dllib.keras.models      Sequential, Model: compile / fit / evaluate / predict
    bigdl_cpp.dllib.keras.optimizers  SGD, Adam, AdamW, RMSprop, Adagrad
    bigdl_cpp.dllib.keras.callbacks   Callback (subclass it in Python), EarlyStopping,
                                      ModelCheckpoint

as BigDL's bigdl.dllib.keras, over the C++ engine (include/bigdl/train/keras.h). Still to
come in issue 12 (docs/python.md): tensors and nn modules / autograd from Python, and
NNEstimator / NNClassifier in Spark ML pipelines.
"""
