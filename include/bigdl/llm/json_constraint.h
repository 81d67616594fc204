// Constrained decoding to JSON: OpenAI's response_format {"type": "json_object"}.
//
//   JsonConstraint jc(vocab);
//   jc.mask(logits, n_vocab);          // tokens that cannot continue valid JSON -> -inf
//   TokenId t = sampler.sample(logits);
//   jc.accept(t);                      // advance; jc.complete(): a whole object was written
//
// The constraint is a character-level pushdown recognizer of RFC 8259 JSON whose top-level
// value must be an object, fed the text of each token (Vocab::token_to_piece). mask()
// keeps a token when its whole text keeps the output a prefix of some valid document
// (leading whitespace allowed; after the closing brace only whitespace), and the end-of-text
// tokens (`stop_ids`) only once the object is complete; once it is complete, only those
// and whitespace remain. Strings accept well-formed UTF-8 (no control characters, '"' and
// '\' only escaped; overlong forms and surrogates refused, as RFC 3629), escapes are JSON's (\uXXXX with 4 hex digits); numbers follow the
// grammar (no leading zeros, fraction, exponent). Whitespace between tokens comes in runs
// of at most kMaxWhitespace characters (as llama.cpp's json.gbnf bounds it), so a model
// cannot loop on newlines. Checking is lazy: tokens are tried in
// descending logit order and the search stops after `keep` allowed ones (the rest are
// masked too), so a step costs a few hundred token checks, not n_vocab.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "bigdl/llm/vocab.h"

namespace bigdl::llm {

class JsonConstraint {
 public:
  static constexpr int kMaxWhitespace = 16;

  // stop_ids: the tokens that end generation (EOS, end-of-turn).
  JsonConstraint(const Vocab& vocab, std::vector<TokenId> stop_ids, int keep = 64);

  // Sets to -inf every logit whose token may not come next.
  void mask(float* logits, int64_t n_vocab) const;
  // Advances by the token's text (a stop token ends nothing here).
  void accept(TokenId id);
  // Whether the text so far is one complete JSON object (plus whitespace).
  bool complete() const;
  // Whether `text` would keep the output valid (for tests).
  bool allows(std::string_view text) const;

 private:
  enum class Ctx : uint8_t { Top, ObjectKey, ObjectColon, ObjectValue, ObjectNext, ArrayValue, ArrayNext };
  enum class Tok : uint8_t { None, String, Number, Literal };
  struct State {
    std::vector<Ctx> stack{Ctx::Top};
    Tok tok = Tok::None;
    bool key = false;       // the string being read is an object key
    int esc = 0;            // 0: none, 1: after '\', 2..5: hex digits of \u read so far + 1
    int num = 0;            // number sub-state
    bool first = false;     // right after '{' or '[' (so '}' / ']' may close it)
    int utf8_need = 0;      // in a string: UTF-8 continuation bytes still due
    int ws_run = 0;         // whitespace characters in a row between tokens
    unsigned char utf8_lo = 0x80, utf8_hi = 0xBF;  // the range of the next one
    std::string lit;        // the literal being matched ("true", ...) and how far
    size_t lit_pos = 0;
    bool done = false;      // the top-level object closed
  };
  static bool feed(State& s, char c);
  static bool feed(State& s, std::string_view text);
  static void value_done(State& s);
  static bool start_value(State& s, char c);
  static bool number_can_end(int num);

  const Vocab& vocab_;
  std::vector<TokenId> stop_ids_;
  std::vector<std::string> pieces_;
  int keep_;
  State state_;
  mutable std::vector<int32_t> order_;  // mask()'s scratch
  mutable std::vector<uint8_t> ok_;
};

}  // namespace bigdl::llm
