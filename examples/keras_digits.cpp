// BigDL DLlib's Keras-style API on scikit-learn's digits: a Sequential MLP and the same
// network in the functional style, compiled by Keras names.
//
//   build/examples/keras_digits
#include <cstdio>

#include "bigdl/random.h"
#include "bigdl/train/data.h"
#include "bigdl/train/keras.h"

using namespace bigdl;

int main() {
  try {
    manual_seed(0);
    auto [x, y] = train::load_digits();
    auto [tr, te] = train::train_test_split(x, y, 0.2, 0);
    train::FitOptions fo;
    fo.epochs = 20;

    auto seq = std::make_shared<keras::Sequential>();
    seq->add(keras::Dense(128, "relu", {.input_shape = {64}}));
    seq->add(keras::Dropout(0.1));
    seq->add(keras::Dense(10, "softmax"));
    std::printf("%s\n", seq->summary().c_str());
    auto m1 = keras::compile(seq, "adam", "sparse_categorical_crossentropy", {"accuracy"});
    m1.fit(tr, te, fo);

    auto in = keras::Input({64});
    auto h = keras::Dense(128, "relu")(in);
    auto out = keras::Dense(10, "softmax")(h);
    auto fn = std::make_shared<keras::Model>(in, out);
    auto m2 = keras::compile(fn, "adam", "sparse_categorical_crossentropy", {"accuracy"});
    m2.fit(tr, te, fo);

    std::printf("Sequential test accuracy: %.2f%%\nfunctional test accuracy: %.2f%%\n", 100 * m1.evaluate(te)["accuracy"],
                100 * m2.evaluate(te)["accuracy"]);
    return 0;
  } catch (const Error& e) {
    std::fprintf(stderr, "keras_digits: %s\n", e.what());
    return 1;
  }
}
