"""Writes variants.golden.json: encodings of many texts through variants of
the golden tokenizers, made with the Hugging Face tokenizers library.

Each variant takes one of the repo's tokenizer.json files (tiny-llama:
byte-level BPE; small-llama: Llama-2 SentencePiece BPE) and replaces some of
its components. The Go test (variants_test.go) applies the same patch and
compares. Run from the repository root, where `tokenizers` is installed:

    python3 tokenizer/testdata/gen_variants.py > tokenizer/testdata/variants.golden.json
"""

import copy
import json
import random
import sys

import tokenizers
from tokenizers import Tokenizer

BASES = {
    "tiny-llama": "testdata/tokenizers/tiny-llama/tokenizer.json",
    "small-llama": "testdata/tokenizers/small-llama/tokenizer.json",
}

LLAMA3 = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|"
          r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")


def bytelevel(prefix=False, regex=False):
    return {"type": "ByteLevel", "add_prefix_space": prefix, "trim_offsets": True, "use_regex": regex}


def split(pattern, behavior, invert=False, regex=True):
    return {"type": "Split", "pattern": {"Regex" if regex else "String": pattern},
            "behavior": behavior, "invert": invert}


def seq_pre(*pts):
    return {"type": "Sequence", "pretokenizers": list(pts)}


def seq_norm(*ns):
    return {"type": "Sequence", "normalizers": list(ns)}


def metaspace(scheme="always", split_=True):
    return {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": scheme, "split": split_}


def added(content, id_, special=False, normalized=None, lstrip=False, rstrip=False, single_word=False):
    return {"id": id_, "content": content, "single_word": single_word, "lstrip": lstrip,
            "rstrip": rstrip, "normalized": (not special) if normalized is None else normalized,
            "special": special}


BL_DEC = {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True}

# name, base, patch. Top-level keys replace the base's; "model" keys are
# merged into the base model; "extra_added_tokens" are appended.
VARIANTS = [
    ("llama3-split", "tiny-llama", {
        "pre_tokenizer": seq_pre(split(LLAMA3, "Isolated"), bytelevel()),
        "model": {"ignore_merges": True}}),
    ("gpt2-prefix-space", "tiny-llama", {"pre_tokenizer": bytelevel(prefix=True, regex=True)}),
    ("nfkc-lowercase", "tiny-llama", {
        "normalizer": seq_norm({"type": "NFKC"}, {"type": "Lowercase"})}),
    ("nfd-strip-accents", "tiny-llama", {
        "normalizer": seq_norm({"type": "NFD"}, {"type": "StripAccents"},
                               {"type": "Strip", "strip_left": True, "strip_right": True})}),
    ("nfc-replace-regex", "tiny-llama", {
        "normalizer": seq_norm({"type": "NFC"},
                               {"type": "Replace", "pattern": {"Regex": r"\s+"}, "content": " "})}),
    ("replace-groups", "tiny-llama", {
        "normalizer": {"type": "Replace", "pattern": {"Regex": "(l)(e)"}, "content": "$2$1$$"}}),
    ("nfkd-strip-left", "tiny-llama", {
        "normalizer": seq_norm({"type": "NFKD"}, {"type": "Strip", "strip_left": True, "strip_right": False})}),
    ("split-merged-previous", "tiny-llama", {
        "pre_tokenizer": seq_pre(split(" ", "MergedWithPrevious", regex=False), bytelevel())}),
    ("split-merged-next", "tiny-llama", {
        "pre_tokenizer": seq_pre(split(r"\s+", "MergedWithNext"), bytelevel())}),
    ("split-removed", "tiny-llama", {
        "pre_tokenizer": seq_pre(split(r"[aeiou]", "Removed"), bytelevel())}),
    ("split-contiguous-invert", "tiny-llama", {
        "pre_tokenizer": seq_pre(split(r"\p{L}+", "Contiguous", invert=True), bytelevel())}),
    ("split-empty-matches", "tiny-llama", {
        "pre_tokenizer": seq_pre(split(r"a*", "MergedWithNext"), bytelevel())}),
    ("digits-whitespace", "tiny-llama", {
        "pre_tokenizer": seq_pre({"type": "Digits", "individual_digits": True},
                                 {"type": "Whitespace"}, bytelevel())}),
    ("digits-contiguous-punct", "tiny-llama", {
        "pre_tokenizer": seq_pre({"type": "WhitespaceSplit"},
                                 {"type": "Digits", "individual_digits": False},
                                 {"type": "Punctuation", "behavior": "Isolated"}, bytelevel())}),
    ("bert-pre", "tiny-llama", {
        "pre_tokenizer": seq_pre({"type": "BertPreTokenizer"}, bytelevel())}),
    ("bytelevel-normalizer", "tiny-llama", {
        "normalizer": {"type": "ByteLevel"}, "pre_tokenizer": None}),
    ("added-tokens", "tiny-llama", {
        "normalizer": {"type": "Lowercase"},
        "extra_added_tokens": [
            added("<mask>", 4097, special=True, lstrip=True),
            added("[end]", 4098, special=True, rstrip=True),
            added("hello", 4099, single_word=True),
            added("WoRlD", 4100),
            added("the", 1, normalized=False),
            added("<sp>", 4101, special=True, lstrip=True, rstrip=True, single_word=True),
        ]}),
    ("template-sequence", "tiny-llama", {
        "post_processor": {"type": "Sequence", "processors": [
            {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True},
            {"type": "TemplateProcessing",
             "single": [{"SpecialToken": {"id": "<|endoftext|>", "type_id": 0}},
                        {"Sequence": {"id": "A", "type_id": 0}},
                        {"SpecialToken": {"id": "<|endoftext|>", "type_id": 0}}],
             "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}],
             "special_tokens": {"<|endoftext|>": {"id": "<|endoftext|>", "ids": [0],
                                                  "tokens": ["<|endoftext|>"]}}}]}}),
    ("no-decoder", "tiny-llama", {"decoder": None}),
    ("metaspace-always-split", "small-llama", {"pre_tokenizer": metaspace("always", True)}),
    ("metaspace-first-split", "small-llama", {"pre_tokenizer": metaspace("first", True)}),
    ("metaspace-never", "small-llama", {
        "pre_tokenizer": metaspace("never", True),
        "decoder": {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "never", "split": True}}),
    ("metaspace-legacy", "small-llama", {
        "pre_tokenizer": {"type": "Metaspace", "replacement": "\u2581", "add_prefix_space": True},
        "decoder": {"type": "Metaspace", "replacement": "\u2581", "add_prefix_space": True}}),
    ("metaspace-first-after-split", "small-llama", {
        "pre_tokenizer": seq_pre(split(r"\d+", "Isolated"), metaspace("first", False))}),
    ("metaspace-first-stripped", "small-llama", {
        "normalizer": {"type": "Strip", "strip_left": True, "strip_right": True},
        "pre_tokenizer": metaspace("first", False)}),
    ("metaspace-first-prepend", "small-llama", {
        "normalizer": seq_norm({"type": "Prepend", "prepend": "\u2581"}, {"type": "Lowercase"}),
        "pre_tokenizer": seq_pre(split("\u2581", "MergedWithPrevious", regex=False), metaspace("first", True))}),
    ("unk-fused", "small-llama", {
        "model": {"byte_fallback": False, "unk_token": "<unk>", "fuse_unk": True},
        "decoder": {"type": "Sequence", "decoders": [
            {"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "},
            {"type": "Strip", "content": " ", "start": 2, "stop": 0}]}}),
    ("unk-unfused", "small-llama", {
        "model": {"byte_fallback": False, "unk_token": "<unk>", "fuse_unk": False}}),
    ("ignore-merges", "small-llama", {"model": {"ignore_merges": True}}),
    ("small-no-post", "small-llama", {"post_processor": None, "decoder": {"type": "Fuse"}}),
]

FIXED_TEXTS = [
    "", " ", "  ", "\n", "Hello world", " Hello world", "Hello   world", "line one\nline two\n\nline four",
    "mixed \t\n whitespace \r\n windows", "Don't you think it's odd? I'd say we'll see, they're sure you've been.",
    "I'M SHOUTING, DON'T", "HE'S HERE 'S 'T 'RE 'VE 'M 'LL 'D 'Ll", "naïve café résumé",
    "é combining acute vs é precomposed", "Ünïcödé ẞ ß ﬁ ﬂ Å Ω µ ſ İstanbul K Σσς", "中文字符测试，标点符号。",
    "emoji 🤖🚀 mixed", "👨\u200d👩\u200d👧 family", "numbers 1234567890 and 3.14159", "1,000,000 people",
    "x² y³ H₂O ½ ⅓ ٣٤ ४२", "def f(x):\n    return x ** 2  # square", "  \n  indented\n    block\n",
    "hello!!!\n\nworld", "  \n\n  x", "x.5 a1b $hello 1234567", "Hello world's  123456",
    "\r\n\r\nfoo\r\nbar \r\n", "\u00a0non-breaking\u2009thin\u200bzero-width", "\u2028line\u2029para\u0085nel",
    "a<s>b</s>", "<s> literal tags </s>", "<|endoftext|>x<|endoftext|>", "<unk><unk>",
    "say hello world", "hello", "ahello hello_ hello!", "HELLO WoRlD world", "x <mask> y", "x<mask>y",
    "  <mask>  [end]  z", "[end]\n\nq", "a <sp> b", "a<sp>b", "the cat the", "The theme",
    "leading ▁ metaspace ▁▁ chars", "Ġ Ċ byte chars", "\x00\x01\x7f\x1b[0m", "tab\x0bvt\x0cff",
    "aaaaaaaaaaaaaaaaaaaa", "banana bandana", "le travail est lent", "supercalifragilisticexpialidocious",
    "ＦＵＬＬＷＩＤＴＨ ｋａｔａｋａｎａ ｶﾀｶﾅ", "Ǆ ǅ ǆ ﬀ ﬃ ㎏ ℌ ①", "Ω Ω Å Å",
    "   ", "\t\t", "!!!", "...hello...", "'s", "''s", " 's", "'", "it's", "O'Neill", "rock 'n' roll",
]

POOL = list("abcdeXYZ  \n\r\t'0123456789.,!?-_$@#") + [
    "é", "e\u0301", "ü", "ß", "ſ", "İ", "ﬁ", "\u212a", "▁", "Ġ", "中", "文", "😀", "🤖", "\u200d", "\u00a0",
    "\u2028", "\u3000", "\u0301", "Σ", "ς", "²", "٣", "<s>", "</s>", "<|endoftext|>", "<unk>", "<mask>",
    "[end]", "hello", "the", "WoRlD", "'s", "'LL", " ", "  ", "\n\n",
]


def random_texts(n, seed=1):
    rng = random.Random(seed)
    return ["".join(rng.choice(POOL) for _ in range(rng.randint(1, 24))) for _ in range(n)]


def build(base, patch):
    cfg = copy.deepcopy(base)
    for k, v in patch.items():
        if k == "model":
            cfg["model"].update(v)
        elif k == "extra_added_tokens":
            cfg["added_tokens"] = cfg["added_tokens"] + v
        else:
            cfg[k] = v
    return cfg


def main():
    texts = FIXED_TEXTS + random_texts(200)
    bases = {name: json.load(open(path, encoding="utf-8")) for name, path in BASES.items()}
    out = {"library": "tokenizers (Hugging Face) " + tokenizers.__version__, "variants": []}
    for name, base_name, patch in VARIANTS:
        v = {"name": name, "base": base_name, "patch": patch}
        try:
            tok = Tokenizer.from_str(json.dumps(build(bases[base_name], patch)))
        except Exception as e:  # the Go side must reject it too
            v["error"] = str(e)
            out["variants"].append(v)
            continue
        cases = []
        for t in texts:
            enc = tok.encode(t)
            ids = enc.ids
            c = {"text": t, "ids": ids,
                 "ids_no_special": tok.encode(t, add_special_tokens=False).ids,
                 "decoded": tok.decode(ids, skip_special_tokens=True),
                 "decoded_special": tok.decode(ids, skip_special_tokens=False)}
            if tok.pre_tokenizer is not None and name.startswith("llama3"):
                c["pre_tokens"] = [p for p, _ in tok.pre_tokenizer.pre_tokenize_str(t)]
            cases.append(c)
        v["cases"] = cases
        # Decoding arbitrary ids: byte tokens cut mid-character and the like.
        rng = random.Random(7)
        size = tok.get_vocab_size(with_added_tokens=True)
        v["decode_cases"] = []
        for _ in range(40):
            ids = [rng.randrange(size + 3) for _ in range(rng.randint(0, 12))]
            v["decode_cases"].append({"ids": ids,
                                      "decoded": tok.decode(ids, skip_special_tokens=True),
                                      "decoded_special": tok.decode(ids, skip_special_tokens=False)})
        out["variants"].append(v)
    json.dump(out, sys.stdout, ensure_ascii=False, indent=None, separators=(",", ":"))


if __name__ == "__main__":
    main()
