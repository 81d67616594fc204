"""BigDL's module path for get_public_dataset (bigdl.chronos.data.repo_dataset)."""
from bigdl_cpp.chronos.data import get_public_dataset

__all__ = ["get_public_dataset"]
