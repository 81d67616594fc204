"""Friesian: recommendation feature engineering and models (roadmap, docs/ARCHITECTURE).

Not built yet: this package only reserves BigDL's module path (docs/python.md lists
what each package will hold and which issue builds it)."""
