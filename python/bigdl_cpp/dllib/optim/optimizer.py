"""BigDL's optimizer, trigger and validation-method names for NNEstimator
(bigdl.dllib.optim.optimizer), over the engine's optimizers and metrics."""
from bigdl_cpp.dllib.keras import optimizers as _k

__all__ = ["Adam", "SGD", "Adagrad", "RMSprop", "EveryEpoch", "SeveralIteration", "MaxEpoch", "Top1Accuracy",
           "Top5Accuracy", "Loss", "MAE"]


def Adam(learningrate=1e-3, learningrate_decay=0.0, beta1=0.9, beta2=0.999, epsilon=1e-8):
    if learningrate_decay:
        raise ValueError("Adam: learningrate_decay is not supported (use a LearningRateScheduler callback)")
    return _k.Adam(lr=learningrate, beta_1=beta1, beta_2=beta2, epsilon=epsilon)


def SGD(learningrate=1e-3, learningrate_decay=0.0, weightdecay=0.0, momentum=0.0, dampening=None, nesterov=False):
    if learningrate_decay:
        raise ValueError("SGD: learningrate_decay is not supported (use a LearningRateScheduler callback)")
    return _k.SGD(lr=learningrate, momentum=momentum, nesterov=nesterov, weight_decay=weightdecay)


def Adagrad(learningrate=1e-3, learningrate_decay=0.0, weightdecay=0.0):
    return _k.Adagrad(lr=learningrate)


def RMSprop(learningrate=1e-2, learningrate_decay=0.0, decayrate=0.99, epsilon=1e-8):
    return _k.RMSprop(lr=learningrate, rho=decayrate, epsilon=epsilon)


class EveryEpoch:
    """Validate at the end of every epoch (the engine's only validation trigger)."""


class SeveralIteration:
    def __init__(self, interval):
        raise ValueError("SeveralIteration: validation runs at the end of each epoch; use EveryEpoch()")


class MaxEpoch:
    def __init__(self, max_epoch):
        self.max_epoch = int(max_epoch)


class _Metric:
    metric = ""


class Top1Accuracy(_Metric):
    metric = "accuracy"


class Top5Accuracy(_Metric):
    metric = "top5_accuracy"


class Loss(_Metric):
    metric = ""  # the loss is always reported


class MAE(_Metric):
    metric = "mae"
