# BigDL's DLlib Python example (the seed README's "Show DLlib Python example"), with only
# its imports changed from bigdl.dllib to bigdl_cpp.dllib. It reads the Parquet folders
# train_data and val_data from the working directory, with a vector column "in" (10
# values), a vector column "features" and a 1-based class "label" (the MinMaxScaler writes
# "value", which the estimator, left at its default features column, does not read — as in
# the original). tests/python/test_spark.py writes such folders from sklearn's
# breast_cancer data and runs this file as it is, in its own local Spark (init_nncontext()).

# 1. Call `init_nncontext` at the beginning of the code:
from bigdl_cpp.dllib.nncontext import init_nncontext
sc = init_nncontext()

# 2. Define the deep learning model using Keras-style API in DLlib:
from bigdl_cpp.dllib.keras.layers import Input, Dense, Activation
from bigdl_cpp.dllib.keras.models import Model
input = Input(shape=(10,))
dense = Dense(12)(input)
output = Activation("softmax")(dense)
model = Model(input, output)

# 3. Use `NNEstimator` to train/predict/evaluate the model using Spark DataFrame and ML pipeline APIs
from pyspark.sql import SparkSession
from pyspark.ml.feature import MinMaxScaler
from pyspark.ml import Pipeline
from bigdl_cpp.dllib.nnframes import NNEstimator
from bigdl_cpp.dllib.nn.criterion import CrossEntropyCriterion
from bigdl_cpp.dllib.optim.optimizer import Adam
spark = SparkSession.builder.getOrCreate()
train_df = spark.read.parquet("train_data")
validation_df = spark.read.parquet("val_data")
scaler = MinMaxScaler().setInputCol("in").setOutputCol("value")
estimator = NNEstimator(model, CrossEntropyCriterion())\
    .setBatchSize(128)\
    .setOptimMethod(Adam())\
    .setMaxEpoch(5)
pipeline = Pipeline(stages=[scaler, estimator])

pipelineModel = pipeline.fit(train_df)
predictions = pipelineModel.transform(validation_df)
