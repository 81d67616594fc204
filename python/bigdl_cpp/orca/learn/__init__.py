"""Orca Estimators (bigdl_cpp.orca.learn.estimator.Estimator)."""
