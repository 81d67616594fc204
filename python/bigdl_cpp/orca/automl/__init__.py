"""AutoML search spaces (BigDL's bigdl.orca.automl.hp)."""
