"""DLlib: tensors, nn modules, optimizers and Keras-style models of the core, and NNEstimator (issue 12).

Not built yet: this package only reserves BigDL's module path (docs/python.md lists
what each package will hold and which issue builds it)."""
