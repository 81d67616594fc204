"""Keras-style models of the core: bigdl_cpp.dllib.keras.{layers, models, optimizers, callbacks}."""
