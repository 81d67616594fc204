"""Anomaly detectors (BigDL's bigdl.chronos.detector.anomaly)."""
