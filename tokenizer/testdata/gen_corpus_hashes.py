"""Writes corpus_hashes.json: for each golden tokenizer and each text file of
the shared data directory (corpus/*.txt, wikitext-2/wiki.test.raw,
wikitext-2/wiki.valid.tokens), the number of ids the Hugging Face tokenizers
library gives for encode(text) with special tokens, and the sha256 of those
ids joined by commas. corpus_test.go compares. Run from the repository root:

    python3 tokenizer/testdata/gen_corpus_hashes.py DATA_DIR > tokenizer/testdata/corpus_hashes.json
"""

import glob
import hashlib
import json
import os
import sys

import tokenizers
from tokenizers import Tokenizer

TOKENIZERS = ["tiny-llama", "small-llama", "llama-spm-tinyllama"]


def main():
    data = sys.argv[1]
    files = sorted(glob.glob(os.path.join(data, "corpus", "*.txt")))
    files += [os.path.join(data, "wikitext-2", f) for f in ("wiki.test.raw", "wiki.valid.tokens")]
    out = {"library": "tokenizers (Hugging Face) " + tokenizers.__version__,
           "note": "encode(text) with special tokens of each file under the shared data directory; "
                   "sha256 of the ids joined by commas",
           "files": {}}
    for name in TOKENIZERS:
        tok = Tokenizer.from_file(f"testdata/tokenizers/{name}/tokenizer.json")
        for path in files:
            ids = tok.encode(open(path, encoding="utf-8").read()).ids
            digest = hashlib.sha256(",".join(map(str, ids)).encode()).hexdigest()
            out["files"][f"{name}/{os.path.relpath(path, data)}"] = {"tokens": len(ids), "sha256": digest}
    json.dump(dict(out, files=dict(sorted(out["files"].items()))), sys.stdout, indent=1, ensure_ascii=False)


if __name__ == "__main__":
    main()
