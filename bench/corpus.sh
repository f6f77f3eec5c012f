#!/usr/bin/env bash
# corpus.sh OUT: writes the tokenizer benchmark corpus (~6 MB of UTF-8 text) to OUT.
# Mixed English / Chinese / LaTeX / code, from ../shared/data when it exists:
#   English math   gsm8k/train.jsonl questions and answers (~3.5 MB)
#   Chinese        cmath/test.jsonl questions and answers (small: 8 copies, ~0.8 MB)
#   LaTeX          math500 problems and solutions (2 copies) + aime24, amc23
#   code           this project's own C sources, core/*.c (4 copies, in 40-line chunks)
# Documents are shuffled (fixed seed) so the kinds are interleaved. Without
# ../shared, the decoded text of tests/fixtures/tok_corpus.jsonl is repeated
# (with the code part) up to the same size.
# The benchmarks encode each line, without its newline, on its own (no special tokens).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
: "${R1_PY:=$root/.venv/bin/python}"
[ $# -eq 1 ] || { echo "usage: corpus.sh OUT" >&2; exit 2; }
"$R1_PY" - "$root" "$1" <<'EOF'
import glob, json, os, random, sys

root, out = sys.argv[1], sys.argv[2]
shared = os.path.join(root, "..", "shared", "data")
rng = random.Random(2025)


def jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


code = []
for path in sorted(glob.glob(os.path.join(root, "core", "*.c"))):
    src = open(path, encoding="utf-8").read().split("\n")
    code += ["\n".join(src[i:i + 40]) for i in range(0, len(src), 40)]
docs, kinds = [], {}


def put(kind, texts, copies=1):
    texts = [t for t in texts if t]
    docs.extend(texts * copies)
    kinds[kind] = kinds.get(kind, 0) + copies * sum(len(t.encode()) + 1 for t in texts)


if os.path.isdir(shared):
    put("english (gsm8k)", [r["question"] + "\n" + r["answer"] for r in jsonl(f"{shared}/gsm8k/train.jsonl")])
    put("chinese (cmath)", [r["question"] + "\n答案：" + str(r["answer"]) for r in jsonl(f"{shared}/cmath/test.jsonl")],
        8)
    put("latex (math500)", [r["problem"] + "\n\n" + r["solution"] for r in jsonl(f"{shared}/math500/test.jsonl")], 2)
    for name in ("aime24", "amc23"):
        rows = jsonl(f"{shared}/{name}/test.jsonl")
        put(f"latex ({name})", [(r.get("problem") or r.get("question") or "") + "\n\n" + (r.get("solution") or "")
                                for r in rows])
    put("code (core/*.c)", code, 4)
else:
    fixture = os.path.join(root, "tests", "fixtures", "tok_corpus.jsonl")
    texts = [json.loads(line) for line in open(fixture, "rb").read().split(b"\n") if line]
    size = sum(len(t.encode()) + 1 for t in texts)
    put("tok_corpus.jsonl (no ../shared)", texts, max(1, 5_000_000 // size))
    put("code (core/*.c)", code, 4)
rng.shuffle(docs)
with open(out, "w", encoding="utf-8", newline="") as f:
    for d in docs:
        f.write(d + "\n")
total = os.path.getsize(out)
print(f"corpus: {total / 1e6:.2f} MB, {len(docs)} documents: "
      + ", ".join(f"{k} {100 * v / total:.0f}%" for k, v in kinds.items()), file=sys.stderr)
EOF
