"""BigDL's criterion names for NNEstimator / NNClassifier (bigdl.dllib.nn.criterion), each
standing for one of the Keras losses of the engine:

    ClassNLLCriterion, CrossEntropyCriterion   class labels (BigDL's 1-based 1..n in
                                               NNEstimator / NNClassifier)
    MSECriterion, AbsCriterion, BCECriterion   values / binary targets

CrossEntropyCriterion reads the model's output as scores (logits) and ClassNLLCriterion as
log-probabilities, as BigDL's; a model ending in softmax is read as probabilities by both
(the engine's sparse_categorical_crossentropy), where BigDL would apply log-softmax to
probabilities again (docs/spark.md).
"""

__all__ = ["Criterion", "ClassNLLCriterion", "CrossEntropyCriterion", "MSECriterion", "AbsCriterion", "BCECriterion"]


class Criterion:
    loss = ""           # the engine's Keras loss name
    classes = False     # labels are class indices
    metrics = ()

    def __repr__(self):
        return f"{type(self).__name__}()"


class ClassNLLCriterion(Criterion):
    loss, classes, metrics = "sparse_categorical_crossentropy", True, ("accuracy",)

    def __init__(self, weights=None, size_average=True, logProbAsInput=True):  # noqa: N803 - BigDL's names
        if weights is not None:
            raise ValueError("ClassNLLCriterion: class weights are not supported")


class CrossEntropyCriterion(ClassNLLCriterion):
    def __init__(self, weights=None, size_average=True):
        super().__init__(weights, size_average)


class MSECriterion(Criterion):
    loss = "mse"


class AbsCriterion(Criterion):
    loss = "mae"

    def __init__(self, size_average=True):
        pass


class BCECriterion(Criterion):
    loss = "binary_crossentropy"

    def __init__(self, weights=None, size_average=True):
        if weights is not None:
            raise ValueError("BCECriterion: weights are not supported")
