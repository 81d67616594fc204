"""PPML: the software parts (encrypted I/O, KMS clients) (roadmap).

Not built yet: this package only reserves BigDL's module path (docs/python.md lists
what each package will hold and which issue builds it)."""
