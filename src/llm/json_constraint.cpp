// JSON-constrained decoding (bigdl/llm/json_constraint.h).
#include "bigdl/llm/json_constraint.h"

#include <algorithm>
#include <limits>
#include <numeric>

namespace bigdl::llm {

namespace {
bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

// Number sub-states.
enum : int { kMinus, kZero, kInt, kDot, kFrac, kE, kESign, kExp };
}  // namespace

JsonConstraint::JsonConstraint(const Vocab& vocab, std::vector<TokenId> stop_ids, int keep)
    : vocab_(vocab), stop_ids_(std::move(stop_ids)), keep_(keep) {
  pieces_.resize(size_t(vocab.size()));
  for (int32_t i = 0; i < vocab.size(); ++i) pieces_[size_t(i)] = vocab.token_to_piece(i);
}

bool JsonConstraint::number_can_end(int num) { return num == kZero || num == kInt || num == kFrac || num == kExp; }

void JsonConstraint::value_done(State& s) {
  s.tok = Tok::None;
  Ctx& top = s.stack.back();
  switch (top) {
    case Ctx::Top: s.done = true; break;
    case Ctx::ObjectValue: top = Ctx::ObjectNext; break;
    case Ctx::ArrayValue: top = Ctx::ArrayNext; break;
    default: break;
  }
}

bool JsonConstraint::start_value(State& s, char c) {
  if (s.stack.back() == Ctx::Top && c != '{') return false;  // json_object: the document is an object
  switch (c) {
    case '{': s.stack.push_back(Ctx::ObjectKey); s.first = true; return true;
    case '[': s.stack.push_back(Ctx::ArrayValue); s.first = true; return true;
    case '"': s.tok = Tok::String; s.key = false; s.esc = 0; return true;
    case 't': s.tok = Tok::Literal; s.lit = "true"; s.lit_pos = 1; return true;
    case 'f': s.tok = Tok::Literal; s.lit = "false"; s.lit_pos = 1; return true;
    case 'n': s.tok = Tok::Literal; s.lit = "null"; s.lit_pos = 1; return true;
    default: break;
  }
  if (c == '-' || is_digit(c)) {
    s.tok = Tok::Number;
    s.num = c == '-' ? kMinus : c == '0' ? kZero : kInt;
    return true;
  }
  return false;
}

bool JsonConstraint::feed(State& s, char c) {
  const auto uc = static_cast<unsigned char>(c);
  switch (s.tok) {
    case Tok::String:
      if (s.esc == 1) {
        if (c == 'u') s.esc = 2;
        else if (c == '"' || c == '\\' || c == '/' || c == 'b' || c == 'f' || c == 'n' || c == 'r' || c == 't') s.esc = 0;
        else return false;
        return true;
      }
      if (s.esc >= 2) {
        if (!is_hex(c)) return false;
        s.esc = s.esc == 5 ? 0 : s.esc + 1;
        return true;
      }
      if (s.utf8_need > 0) {  // inside a multi-byte character
        if (uc < s.utf8_lo || uc > s.utf8_hi) return false;
        --s.utf8_need;
        s.utf8_lo = 0x80, s.utf8_hi = 0xBF;
        return true;
      }
      if (uc >= 0x80) {  // a lead byte: how many follow, and the range of the first (RFC 3629)
        if (uc >= 0xC2 && uc <= 0xDF) s.utf8_need = 1;
        else if (uc >= 0xE0 && uc <= 0xEF) s.utf8_need = 2;
        else if (uc >= 0xF0 && uc <= 0xF4) s.utf8_need = 3;
        else return false;
        s.utf8_lo = uc == 0xE0 ? 0xA0 : uc == 0xF0 ? 0x90 : 0x80;
        s.utf8_hi = uc == 0xED ? 0x9F : uc == 0xF4 ? 0x8F : 0xBF;
        return true;
      }
      if (c == '\\') {
        s.esc = 1;
        return true;
      }
      if (c == '"') {
        if (s.key) {
          s.tok = Tok::None;
          s.stack.back() = Ctx::ObjectColon;
        } else {
          value_done(s);
        }
        return true;
      }
      return uc >= 0x20;
    case Tok::Literal:
      if (s.lit_pos >= s.lit.size() || c != s.lit[s.lit_pos]) return false;
      if (++s.lit_pos == s.lit.size()) value_done(s);
      return true;
    case Tok::Number: {
      int& n = s.num;
      if (is_digit(c)) {
        switch (n) {
          case kMinus: n = c == '0' ? kZero : kInt; return true;
          case kZero: return false;  // no leading zeros
          case kInt: case kFrac: case kExp: return true;
          case kDot: n = kFrac; return true;
          case kE: case kESign: n = kExp; return true;
          default: return false;
        }
      }
      if (c == '.' && (n == kZero || n == kInt)) return n = kDot, true;
      if ((c == 'e' || c == 'E') && (n == kZero || n == kInt || n == kFrac)) return n = kE, true;
      if ((c == '+' || c == '-') && n == kE) return n = kESign, true;
      if (!number_can_end(n)) return false;
      value_done(s);
      break;  // the character belongs to what follows the number
    }
    case Tok::None: break;
  }
  if (is_ws(c)) return ++s.ws_run <= kMaxWhitespace;
  s.ws_run = 0;
  if (s.done) return false;
  Ctx& top = s.stack.back();
  const bool first = s.first;
  s.first = false;
  switch (top) {
    case Ctx::Top:
    case Ctx::ObjectValue:
    case Ctx::ArrayValue:
      if (top == Ctx::ArrayValue && c == ']' && first) {
        s.stack.pop_back();
        value_done(s);
        return true;
      }
      return start_value(s, c);
    case Ctx::ObjectKey:
      if (c == '}' && first) {
        s.stack.pop_back();
        value_done(s);
        return true;
      }
      if (c != '"') return false;
      s.tok = Tok::String;
      s.key = true;
      s.esc = 0;
      return true;
    case Ctx::ObjectColon:
      if (c != ':') return false;
      top = Ctx::ObjectValue;
      return true;
    case Ctx::ObjectNext:
    case Ctx::ArrayNext: {  // after a member / element: ',' for the next one, or the closer
      const bool object = top == Ctx::ObjectNext;
      if (c == ',') return top = object ? Ctx::ObjectKey : Ctx::ArrayValue, true;
      if (c != (object ? '}' : ']')) return false;
      s.stack.pop_back();
      value_done(s);
      return true;
    }
  }
  return false;
}

bool JsonConstraint::feed(State& s, std::string_view text) {
  for (char c : text)
    if (!feed(s, c)) return false;
  return true;
}

bool JsonConstraint::allows(std::string_view text) const {
  State s = state_;
  return feed(s, text);
}

bool JsonConstraint::complete() const { return state_.done && state_.tok == Tok::None; }

void JsonConstraint::mask(float* logits, int64_t n_vocab) const {
  // Scratch reused across steps (no allocation per token).
  std::vector<int32_t>& order = order_;
  order.resize(static_cast<size_t>(n_vocab));
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return logits[a] > logits[b] || (logits[a] == logits[b] && a < b); });
  std::vector<uint8_t>& ok = ok_;
  ok.assign(static_cast<size_t>(n_vocab), 0);
  const bool done = complete();
  int found = 0;
  for (const int32_t id : order) {
    if (found >= keep_) break;
    const bool stop = std::find(stop_ids_.begin(), stop_ids_.end(), id) != stop_ids_.end();
    bool allowed;
    if (stop) allowed = done;
    else if (done || size_t(id) >= pieces_.size() || pieces_[size_t(id)].empty()) allowed = false;
    else allowed = allows(pieces_[size_t(id)]);
    if (allowed) {
      ok[size_t(id)] = 1;
      ++found;
    }
  }
  for (int64_t i = 0; i < n_vocab; ++i)
    if (!ok[size_t(i)]) logits[i] = -std::numeric_limits<float>::infinity();
}

void JsonConstraint::accept(TokenId id) {
  if (std::find(stop_ids_.begin(), stop_ids_.end(), id) != stop_ids_.end()) return;
  if (size_t(id) < pieces_.size()) feed(state_, pieces_[size_t(id)]);
}

}  // namespace bigdl::llm
