"""NNEstimator / NNClassifier: Keras-style models as Spark ML estimators (BigDL's
bigdl.dllib.nnframes; docs/spark.md).

    from pyspark.ml import Pipeline
    from pyspark.ml.feature import MinMaxScaler
    from bigdl_cpp.dllib.nnframes import NNEstimator, NNClassifier
    from bigdl_cpp.dllib.nn.criterion import CrossEntropyCriterion
    from bigdl_cpp.dllib.optim.optimizer import Adam
    scaler = MinMaxScaler().setInputCol("features").setOutputCol("scaled")
    est = NNClassifier(model, CrossEntropyCriterion()).setFeaturesCol("scaled") \\
        .setBatchSize(64).setOptimMethod(Adam()).setMaxEpoch(10)
    model = Pipeline(stages=[scaler, est]).fit(train_df)    # a PipelineModel ending in an NNClassifierModel
    model.transform(test_df)                                # + "prediction"

fit(df) trains on the cluster in one barrier stage (bigdl_cpp.orca._spark): one task per
partition on its own rows, synchronised over Gloo, equal to one process on all rows in
partition order. Class labels are BigDL's 1-based indices (1.0 .. n); NNClassifierModel
predicts argmax + 1 (a one-output model: 1.0 when the output is > 0.5, else 0.0).
"""
import pickle

import numpy as np
from pyspark.ml import Estimator, Model
from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.ml.param.shared import HasFeaturesCol, HasLabelCol, HasPredictionCol

from bigdl_cpp.dllib.nn.criterion import ClassNLLCriterion, Criterion
from bigdl_cpp.orca import _spark

__all__ = ["NNEstimator", "NNModel", "NNClassifier", "NNClassifierModel"]


class _NNParams(HasFeaturesCol, HasPredictionCol):
    batchSize = Param(Params._dummy(), "batchSize", "rows per global batch", TypeConverters.toInt)

    def setFeaturesCol(self, value):
        return self._set(featuresCol=value)

    def setPredictionCol(self, value):
        return self._set(predictionCol=value)

    def setBatchSize(self, value):
        return self._set(batchSize=value)

    def getBatchSize(self):
        return self.getOrDefault(self.batchSize)


def _feature_shape(size):
    if size is None:
        return None
    return [int(d) for d in (size if isinstance(size, (list, tuple)) else [size])]


class NNEstimator(Estimator, _NNParams, HasLabelCol):
    """A Spark ML Estimator training `model` (a bigdl_cpp.dllib.keras Sequential / Model) with
    `criterion` (bigdl_cpp.dllib.nn.criterion). feature_size: the shape of one row's
    features when the model wants them shaped (e.g. [1, 28, 28]); default flat."""

    maxEpoch = Param(Params._dummy(), "maxEpoch", "epochs to train", TypeConverters.toInt)
    learningRate = Param(Params._dummy(), "learningRate", "learning rate of the default SGD", TypeConverters.toFloat)

    def __init__(self, model, criterion, feature_size=None, label_size=None):
        super().__init__()
        if not hasattr(model, "_spec"):
            raise TypeError(f"NNEstimator: model must be a bigdl_cpp.dllib.keras Sequential or Model, got "
                            f"{type(model).__name__}")
        if not isinstance(criterion, Criterion):
            raise TypeError(f"NNEstimator: criterion must come from bigdl_cpp.dllib.nn.criterion, got "
                            f"{type(criterion).__name__}")
        self.model, self.criterion = model, criterion
        self.feature_size = _feature_shape(feature_size)
        self.optim_method = None
        self.validation = None
        self.checkpoint = None
        self._setDefault(featuresCol="features", labelCol="label", predictionCol="prediction", batchSize=1,
                         maxEpoch=50, learningRate=1e-3)

    # BigDL's setters
    def setLabelCol(self, value):
        return self._set(labelCol=value)

    def setMaxEpoch(self, value):
        return self._set(maxEpoch=value)

    def getMaxEpoch(self):
        return self.getOrDefault(self.maxEpoch)

    def setLearningRate(self, value):
        return self._set(learningRate=value)

    def getLearningRate(self):
        return self.getOrDefault(self.learningRate)

    def setOptimMethod(self, optim_method):
        """An optimizer of bigdl_cpp.dllib.optim.optimizer or .keras.optimizers (default: SGD at learningRate)."""
        self.optim_method = optim_method
        return self

    def setValidation(self, trigger, val_df, val_method, batch_size):
        """Validation on val_df at the end of every epoch (trigger: EveryEpoch); val_method:
        Top1Accuracy(), Top5Accuracy(), MAE(), Loss() as BigDL's."""
        self.validation = (val_df, list(val_method or []), int(batch_size))
        return self

    def setCheckpoint(self, path, trigger=100, isOverWrite=True):  # noqa: N803 - BigDL's name
        """Step checkpoints every `trigger` steps under path (seen by every worker); a stage
        retried after a lost executor resumes from them."""
        self.checkpoint = (str(path), int(trigger) if isinstance(trigger, int) else 100)
        return self

    def _compiled_copy(self):
        from bigdl_cpp.dllib.keras import optimizers as k

        model = pickle.loads(pickle.dumps(self.model))
        opt = self.optim_method if self.optim_method is not None else k.SGD(lr=self.getLearningRate())
        metrics = list(self.criterion.metrics)
        if self.validation:
            metrics += [m.metric for m in self.validation[1] if getattr(m, "metric", "") and m.metric not in metrics]
        model.compile(opt, self.criterion.loss, metrics)
        return model

    def _fit(self, dataset):
        model = self._compiled_copy()
        label_offset = 1 if self.criterion.classes else 0
        feature_col, label_col = self.getFeaturesCol(), self.getLabelCol()
        val = None
        if self.validation:
            vdf = _spark.check_columns(self.validation[0], [feature_col, label_col], "setValidation")
            pdf = vdf.select(feature_col, label_col).toPandas()
            vx = np.stack([np.asarray(v, dtype=np.float32).reshape(-1) for v in pdf[feature_col]])
            if self.feature_size:
                vx = vx.reshape((len(vx),) + tuple(self.feature_size))
            vy = pdf[label_col].to_numpy()
            vy = (vy - label_offset).astype(np.int64) if self.criterion.classes else vy.astype(np.float32)
            val = (vx, vy)
        ckpt_dir, every = self.checkpoint or (None, 0)
        logs = _spark.fit(model, dataset, [feature_col], [label_col], self.getMaxEpoch(), self.getBatchSize(),
                          validation=val, checkpoint_dir=ckpt_dir, checkpoint_every=every,
                          feature_shape=self.feature_size, label_offset=label_offset)
        out = self._copyValues(self._model_class()(model, self.feature_size))
        out.history = logs
        # The model predicts in its own batches (256 unless set on it; BigDL's NNModel too
        # keeps a batch size of its own): the training batch (default 1) would be slow.
        out._set(batchSize=256)
        return out

    def _model_class(self):
        return NNModel


class NNModel(Model, _NNParams):
    """A trained model as a Spark ML Model: transform(df) adds predictionCol (a double for
    one output, else an array of floats)."""

    def __init__(self, model, feature_size=None):
        super().__init__()
        self.model = model
        self.feature_size = _feature_shape(feature_size)
        self.history = []
        self._setDefault(featuresCol="features", predictionCol="prediction", batchSize=256)

    def _post(self):
        return None

    def _transform(self, dataset):
        return _spark.predict(self.model, dataset, [self.getFeaturesCol()], self.getBatchSize(),
                              self.getPredictionCol(), self.feature_size, self._post())


def _classes(out):
    if out.ndim == 1 or out.shape[1] == 1:
        return (out.reshape(-1) > 0.5).astype(np.float64)
    return out.argmax(axis=1).astype(np.float64) + 1.0


class NNClassifier(NNEstimator):
    """NNEstimator for classification: criterion defaults to ClassNLLCriterion, labels are
    1-based class indices, fit returns an NNClassifierModel."""

    def __init__(self, model, criterion=None, feature_size=None):
        super().__init__(model, criterion or ClassNLLCriterion(), feature_size)

    def _model_class(self):
        return NNClassifierModel


class NNClassifierModel(NNModel):
    """predictionCol: the class (argmax + 1, as BigDL's), a double."""

    def _post(self):
        return _classes
