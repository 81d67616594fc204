"""Orca: init_orca_context, Estimator.from_keras and XShards on Spark (issue 12).

Not built yet: this package only reserves BigDL's module path (docs/python.md lists
what each package will hold and which issue builds it)."""
