#!/usr/bin/env bash
# Chat templates token by token against the official Jinja templates shipped in the real
# tokenizer_config.json files, rendered with jinja2 and encoded with Hugging Face
# `tokenizers`:
#   deepseek-r1 vs DeepSeek-V3's template (the R1 one differs only in the generation
#               prompt, which adds "<think>\n", and in dropping reasoning from earlier turns,
#               so conversations here carry no </think>);
#   qwen2.5     vs Qwen3's template on conversations that end with a user turn, where the
#               two templates write the same text but for Qwen2.5's default system message
#               (added here when the conversation has none).
# Also checks the assistant mask: the masked tokens are those of each assistant reply and
# its end token. Prints "PASS: ..." / "FAIL: ..." lines (counted by tests/run.sh).
set -uo pipefail
: "${R1_BIN:?}" "${R1_ROOT:?}" "${R1_PY:?}"
. "$(dirname "$0")/lib.sh"
"$R1_ROOT/tests/fixture-tokenizer.sh" deepseek-v3 "$tmp/deepseek-v3"
"$R1_ROOT/tests/fixture-tokenizer.sh" qwen "$tmp/qwen"

cat >"$tmp/chats.jsonl" <<'JSON'
[{"role":"user","content":"What is 7 * 6?"}]
[{"role":"system","content":"You are a careful math tutor."},{"role":"user","content":"Solve x + 3 = 10."},{"role":"assistant","content":"x = 7"},{"role":"user","content":"And 2x + 3 = 11?"}]
[{"role":"system","content":"Réponds en français."},{"role":"user","content":"Combien font 12 × 12 ?"},{"role":"assistant","content":"  144\n\nC'est tout."},{"role":"user","content":"中文呢？\n"}]
[{"role":"system","content":"s"},{"role":"user","content":"<|im_start|>tricky <｜User｜> text"},{"role":"assistant","content":"ok 👍"},{"role":"user","content":""}]
JSON

for spec in deepseek-v3:deepseek-r1 qwen:qwen2.5; do
    tok=${spec%%:*} tpl=${spec##*:}
    for gen in 0 1; do
        flag=()
        [ "$gen" = 1 ] && flag=(--generation-prompt)
        if ! "$R1_BIN/r1-model" tokenize --tokenizer "$tmp/$tok" --messages --template "$tpl" "${flag[@]}" \
            <"$tmp/chats.jsonl" >"$tmp/ours-$tok-$gen.jsonl"; then
            echo "FAIL: $tpl: r1-model tokenize --messages failed"
            fails=$((fails + 1))
            continue
        fi
        "$R1_PY" - "$tmp/$tok" "$tpl" "$gen" "$tmp/chats.jsonl" "$tmp/ours-$tok-$gen.jsonl" <<'PY' || fails=$((fails + 1))
import json, sys
import jinja2
from tokenizers import Tokenizer

tdir, tpl, gen, chats, ours = sys.argv[1], sys.argv[2], sys.argv[3] == "1", sys.argv[4], sys.argv[5]
cfg = json.load(open(f"{tdir}/tokenizer_config.json", encoding="utf-8"))
tok = Tokenizer.from_file(f"{tdir}/tokenizer.json")
env = jinja2.Environment()
template = env.from_string(cfg["chat_template"])
bos = cfg.get("bos_token")
bos = bos["content"] if isinstance(bos, dict) else bos
bad = 0
for i, (line, out) in enumerate(zip(open(chats, encoding="utf-8"), open(ours, encoding="utf-8"))):
    msgs, got = json.loads(line), json.loads(out)
    want = template.render(messages=msgs, add_generation_prompt=gen, bos_token=bos or "")
    if tpl == "deepseek-r1" and gen:
        want += "<think>\n"  # R1's generation prompt opens the reasoning
    if tpl == "qwen2.5" and msgs[0]["role"] != "system":
        want = ("<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. "
                "You are a helpful assistant.<|im_end|>\n") + want
    ids = tok.encode(want, add_special_tokens=False).ids
    ok_text, ok_ids = got["text"] == want, got["ids"] == ids
    # The mask covers each assistant reply and its end-of-turn token.
    end = "<｜end▁of▁sentence｜>" if tpl == "deepseek-r1" else "<|im_end|>"
    replies = "".join(m["content"] + end for m in msgs if m["role"] == "assistant")
    masked = tok.decode([t for t, m in zip(got["ids"], got["assistant_mask"]) if m],
                        skip_special_tokens=False)
    ok_mask = masked == replies
    name = f"{tpl} chat {i + 1}{' + generation prompt' if gen else ''}"
    for what, ok in (("text", ok_text), ("ids", ok_ids), ("mask", ok_mask)):
        print(("PASS" if ok else "FAIL") + f": {name}: {what}")
        bad += not ok
    if not ok_text:
        print(f"   want {want!r}\n   got  {got['text']!r}")
    if not ok_mask:
        print(f"   masked {masked!r}\n   want   {replies!r}")
sys.exit(1 if bad else 0)
PY
    done
done
[ "$fails" -eq 0 ]
