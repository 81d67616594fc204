"""Search-space primitives with BigDL's names (bigdl.orca.automl.hp), sampled by Optuna:

    from bigdl_cpp.orca.automl import hp
    space = {"lr": hp.loguniform(1e-4, 1e-2), "dropout": hp.uniform(0, 0.3),
             "levels": hp.choice([2, 3, 4]), "past_seq_len": hp.randint(50, 200)}
"""

__all__ = ["Space", "choice", "randint", "uniform", "loguniform", "quniform", "sample"]


class Space:
    def __init__(self, kind, *args):
        self.kind, self.args = kind, args

    def suggest(self, trial, name):
        if self.kind == "choice":
            return self.args[0][trial.suggest_int(name + "#index", 0, len(self.args[0]) - 1)]
        if self.kind == "randint":
            return trial.suggest_int(name, self.args[0], self.args[1] - 1)  # upper bound exclusive, as BigDL's
        if self.kind == "uniform":
            return trial.suggest_float(name, self.args[0], self.args[1])
        if self.kind == "loguniform":
            return trial.suggest_float(name, self.args[0], self.args[1], log=True)
        return trial.suggest_float(name, self.args[0], self.args[1], step=self.args[2])  # quniform

    def __repr__(self):
        return f"hp.{self.kind}{self.args}"


def choice(categories):
    if not categories:
        raise ValueError("hp.choice: no categories")
    return Space("choice", list(categories))


def randint(lower, upper):
    if upper <= lower:
        raise ValueError(f"hp.randint: upper {upper} must exceed lower {lower}")
    return Space("randint", int(lower), int(upper))


def uniform(lower, upper):
    return Space("uniform", float(lower), float(upper))


def loguniform(lower, upper):
    if lower <= 0:
        raise ValueError(f"hp.loguniform: lower must be > 0, got {lower}")
    return Space("loguniform", float(lower), float(upper))


def quniform(lower, upper, q):
    return Space("quniform", float(lower), float(upper), float(q))


def sample(space, trial):
    """A concrete configuration: every Space in `space` suggested by the Optuna trial."""
    return {k: (v.suggest(trial, k) if isinstance(v, Space) else v) for k, v in space.items()}
