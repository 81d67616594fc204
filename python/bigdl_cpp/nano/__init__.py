"""Nano: InferenceOptimizer and accelerated training (issue 14).

Not built yet: this package only reserves BigDL's module path (docs/python.md lists
what each package will hold and which issue builds it)."""
