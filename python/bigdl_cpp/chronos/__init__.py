"""Chronos: TSDataset, forecasters, AutoTSEstimator and anomaly detectors (issue 13).

Not built yet: this package only reserves BigDL's module path (docs/python.md lists
what each package will hold and which issue builds it)."""
