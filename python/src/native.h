// Shared declarations of the _native extension's translation units.
#pragma once

#include <pybind11/pybind11.h>

namespace bigdl_py {

// bigdl_cpp._native.llm: Model, Tokenizer, generate, chat, save_low_bit (llm.cpp).
void bind_llm(pybind11::module_ m);
// bigdl_cpp._native.dllib: Keras-style layers, Sequential / Model, compile / fit / evaluate /
// predict, callbacks (dllib.cpp).
void bind_dllib(pybind11::module_ m);

}  // namespace bigdl_py
