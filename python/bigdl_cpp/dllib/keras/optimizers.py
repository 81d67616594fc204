"""Optimizers for compile(): the name alone ("adam") takes BigDL's defaults; these classes
carry hyper-parameters (Keras' argument names; lr and learning_rate are the same)."""

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad"]


class Optimizer:
    name = ""

    def __init__(self, **hyper_parameters):
        self.hyper_parameters = {k: float(v) for k, v in hyper_parameters.items() if v is not None}

    def __repr__(self):
        return f"{type(self).__name__}({self.hyper_parameters})"


class SGD(Optimizer):
    name = "sgd"

    def __init__(self, lr=0.01, momentum=0.0, nesterov=False, weight_decay=0.0, learning_rate=None):
        super().__init__(lr=learning_rate or lr, momentum=momentum, nesterov=nesterov, weight_decay=weight_decay)


class Adam(Optimizer):
    name = "adam"

    def __init__(self, lr=1e-3, beta_1=0.9, beta_2=0.999, epsilon=1e-8, amsgrad=False, weight_decay=0.0,
                 learning_rate=None):
        super().__init__(lr=learning_rate or lr, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon, amsgrad=amsgrad,
                         weight_decay=weight_decay)


class AdamW(Optimizer):
    name = "adamw"

    def __init__(self, lr=1e-3, weight_decay=0.01, beta_1=0.9, beta_2=0.999, epsilon=1e-8, learning_rate=None):
        super().__init__(lr=learning_rate or lr, weight_decay=weight_decay, beta_1=beta_1, beta_2=beta_2,
                         epsilon=epsilon)


class RMSprop(Optimizer):
    name = "rmsprop"

    def __init__(self, lr=1e-3, rho=0.9, epsilon=1e-8, momentum=0.0, learning_rate=None):
        super().__init__(lr=learning_rate or lr, rho=rho, epsilon=epsilon, momentum=momentum)


class Adagrad(Optimizer):
    name = "adagrad"

    def __init__(self, lr=0.01, epsilon=1e-10, learning_rate=None):
        super().__init__(lr=learning_rate or lr, epsilon=epsilon)
