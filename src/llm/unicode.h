// Unicode for the tokenizers: UTF-8 <-> code points, the character classes the
// pre-tokenizers test (\p{L}, \p{N}, \s), GPT-2's byte <-> code point map, and the
// normalization BERT's tokenizer applies (lower case, accents stripped, NFC), the last
// through utf8proc (Debian's libutf8proc). Internal to src/llm.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace bigdl::llm::detail {

// Length of the UTF-8 sequence a lead byte starts; 1 for a stray continuation byte or an
// invalid lead, so that any byte string splits into "characters" (llama.cpp's
// unicode_len_utf8).
size_t utf8_len(uint8_t c);
void append_utf8(std::string& out, uint32_t cp);
// Code points of s; a malformed or truncated sequence gives U+FFFD for its first byte and
// decoding resumes at the next byte (llama.cpp's unicode_cpts_from_utf8).
std::vector<uint32_t> utf8_to_cpts(std::string_view s);
std::string cpts_to_utf8(const uint32_t* begin, const uint32_t* end);
// 0..15 for a hex digit, -1 otherwise.
int hex_value(char c);
// Every `from` in s replaced by `to`.
void replace_all(std::string& s, std::string_view from, std::string_view to);

// The classes of one code point the pre-tokenizers test: \p{L}, \p{N} (tables from
// Python 3.11's unicodedata, Unicode 14.0.0, as llama.cpp's) and \s (Unicode White_Space).
struct CpClass {
  bool letter = false, number = false, space = false, any = false;  // any: not past the end
};
CpClass classify(uint32_t cp);
bool is_whitespace(uint32_t cp);

// GPT-2's bytes_to_unicode: printable bytes map to themselves, the other 68 bytes to
// U+0100.. in byte order, so every byte string becomes printable text.
struct ByteUnicode {
  uint32_t to_cp[256];
  int16_t to_byte[324];  // code point -> byte, -1 when not a byte's code point
  ByteUnicode();
};
const ByteUnicode& byte_unicode();

// ---- BERT's normalizer and pre-tokenizer (transformers' BasicTokenizer) ----

// A code point's Unicode general category, as utf8proc names it ("Lu", "Mn", ...).
const char* category(uint32_t cp);
// Python's str.isspace-like test BERT uses: space, \t, \n, \r and category Zs.
bool bert_is_whitespace(uint32_t cp);
// Control characters BERT drops: category C* but \t, \n, \r.
bool bert_is_control(uint32_t cp);
// ASCII 33-47, 58-64, 91-96, 123-126 or category P*.
bool bert_is_punctuation(uint32_t cp);
// The CJK ideograph blocks BERT surrounds with spaces.
bool is_cjk(uint32_t cp);
// Lower case (simple, one code point to one) and, with strip_accents, NFD with the
// nonspacing marks (Mn) dropped, for one code point; appends the result.
void bert_fold(uint32_t cp, bool lowercase, bool strip_accents, std::vector<uint32_t>& out);
// Unicode NFC of a UTF-8 string (malformed input is returned as is).
std::string nfc(std::string_view s);

}  // namespace bigdl::llm::detail
