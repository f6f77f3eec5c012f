"""Hugging Face `tokenizers` encode throughput, single-threaded: the reference
for bench_tokenizer (r1c).

  bench_tokenizer.py --tokenizer DIR --corpus FILE [--name NAME] [--iters N]

The corpus is UTF-8 text (bench/corpus.sh); each line, without its newline, is
encoded on its own with add_special_tokens=False, as bench_tokenizer does.
Two ways of calling HF are timed, best of N passes each, every pass with a
freshly loaded tokenizer (an empty BPE cache, as bench_tokenizer's passes):
Tokenizer.encode per line, and one Tokenizer.encode_batch over all lines
(sequential here, as RAYON_NUM_THREADS=1 and TOKENIZERS_PARALLELISM=false).
The faster one is the baseline, named in "method". Prints one JSON line:
{"impl": "hf-tokenizers", "tokenizer": NAME, "mb_s": MB/s of UTF-8 input
(10^6 bytes), "tokens": total ids, ...}.
"""

import os

os.environ["RAYON_NUM_THREADS"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import tokenizers  # noqa: E402
from tokenizers import Tokenizer  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokenizer", required=True, help="directory with tokenizer.json")
    ap.add_argument("--corpus", required=True, help="UTF-8 text; each line is encoded on its own")
    ap.add_argument("--name", help="tokenizer name in the result (default: the directory's name)")
    ap.add_argument("--iters", type=int, default=2, help="timed passes per method (best is kept)")
    a = ap.parse_args()
    name = a.name or os.path.basename(os.path.normpath(a.tokenizer))
    tok_json = os.path.join(a.tokenizer, "tokenizer.json")
    data = open(a.corpus, "rb").read()
    lines = data.decode("utf-8").split("\n")
    if data.endswith(b"\n"):
        lines.pop()

    def per_line(tok):
        return sum(len(tok.encode(s, add_special_tokens=False).ids) for s in lines)

    def batch(tok):
        return sum(len(e.ids) for e in tok.encode_batch(lines, add_special_tokens=False))

    results, tokens = {}, None
    for method, fn in (("encode", per_line), ("encode_batch", batch)):
        best = float("inf")
        for _ in range(max(1, a.iters)):
            tok = Tokenizer.from_file(tok_json)  # fresh: the BPE cache starts empty
            t0 = time.perf_counter()
            n = fn(tok)
            best = min(best, time.perf_counter() - t0)
            if tokens is not None and n != tokens:
                sys.exit(f"bench_tokenizer.py: {method} gave {n} tokens, an earlier pass {tokens}")
            tokens = n
        results[method] = (best, tokens)
        print(f"hf {name} {method}: {len(data) / best / 1e6:.2f} MB/s, {tokens} tokens", file=sys.stderr)
    method = min(results, key=lambda m: results[m][0])
    secs, tokens = results[method]
    print(json.dumps({
        "impl": "hf-tokenizers", "tokenizer": name, "mb_s": round(len(data) / secs / 1e6, 3),
        "tokens": tokens, "bytes": len(data), "lines": len(lines), "method": method,
        "seconds": round(secs, 4), "iters": a.iters, "threads": 1, "tokenizers": tokenizers.__version__,
    }))


if __name__ == "__main__":
    main()
