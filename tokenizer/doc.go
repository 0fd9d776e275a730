// Package tokenizer loads a Hugging Face tokenizer.json and encodes and
// decodes text exactly as the Hugging Face tokenizers library (v0.23) does.
//
// The pipeline is the library's: added tokens are cut out of the raw text,
// the text between them is normalized, split into pre-tokens, and each
// pre-token is encoded by the model (BPE). The post-processor then adds
// special tokens such as BOS. Decoding maps ids back to token strings and
// runs the decoder chain. A Tokenizer is safe for concurrent use.
//
// Supported components (by their tokenizer.json "type"):
//
//   - model: BPE, with merges as "a b" strings or ["a", "b"] pairs,
//     byte_fallback, unk_token, fuse_unk, ignore_merges,
//     continuing_subword_prefix and end_of_word_suffix.
//   - normalizer: Sequence, NFC, NFD, NFKC, NFKD, Lowercase, Strip,
//     StripAccents, Replace, Prepend, ByteLevel.
//   - pre_tokenizer: Sequence, Metaspace, ByteLevel, Split, Digits,
//     Punctuation, Whitespace, WhitespaceSplit, BertPreTokenizer.
//   - post_processor: Sequence, TemplateProcessing (single template only),
//     ByteLevel, BertProcessing, RobertaProcessing.
//   - decoder: Sequence, ByteLevel, Metaspace, Replace, ByteFallback, Fuse,
//     Strip, BPEDecoder.
//
// Other types are rejected by Parse with an error naming them. Where this
// package knowingly parts from the library:
//
//   - BPE dropout is ignored: encoding is deterministic.
//   - Regular expressions run on regexp2 rather than Oniguruma. The two
//     agree on the patterns tokenizer files use (GPT-2's, Llama-3's and the
//     like, checked against the library); (?i:...) groups of plain literals
//     are rewritten so that ſ folds to s as in Oniguruma. Oniguruma-only
//     syntax (possessive quantifiers, \h, \R, \X, \p{^...}, POSIX
//     brackets, class intersection, {,n}) is refused by Parse.
//   - An unk_token missing from the vocabulary is an error at Parse; the
//     library fails later, on the first unknown character.
//   - Where the library panics (a Strip decoder whose stop exceeds a token)
//     or mis-slices (an empty String pattern), this package does neither.
//   - Text that is not valid UTF-8 is first repaired: each maximal invalid
//     sequence becomes U+FFFD, as Rust's String::from_utf8_lossy does.
package tokenizer
