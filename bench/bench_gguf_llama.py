"""llama.cpp's batched decoding of a GGUF (the reference of bench/bench_gguf.sh).

--seqs prompts of --prompt-len random token ids (the same generator as bench_decode: any
ids, speed does not depend on them) prefilled in one llama_batch, then --new-tokens
steps in which ONE llama_batch carries the next token of every sequence (llama.cpp's
batched decoding, as its examples/batched does), each token sampled from the logits at
temperature 1 on the host (vectorised over the batch). Prints one JSON line like bench_decode: decode tokens/s (new
tokens after the first over the time after the prefill), prefill tokens/s, total seconds.
"""
import argparse
import ctypes
import json
import time

import llama_cpp as L
import numpy as np


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gguf", required=True)
    ap.add_argument("--seqs", type=int, default=32)
    ap.add_argument("--prompt-len", type=int, default=32)
    ap.add_argument("--new-tokens", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    L.llama_backend_init()
    mp = L.llama_model_default_params()
    model = L.llama_model_load_from_file(a.gguf.encode(), mp)
    vocab = L.llama_model_get_vocab(model)
    n_vocab = L.llama_vocab_n_tokens(vocab)
    cp = L.llama_context_default_params()
    n_ctx = a.seqs * (a.prompt_len + a.new_tokens) + 64
    cp.n_ctx, cp.n_batch, cp.n_ubatch = n_ctx, max(512, a.seqs * a.prompt_len), 512
    cp.n_seq_max = a.seqs
    cp.n_threads = cp.n_threads_batch = a.threads
    ctx = L.llama_init_from_model(model, cp)
    rng = np.random.default_rng(7)
    prompts = rng.integers(0, min(n_vocab, 32000), size=(a.seqs, a.prompt_len))
    batch = L.llama_batch_init(max(a.seqs * a.prompt_len, a.seqs), 0, 1)

    def fill(tokens, positions, seq_ids, want_logits):
        batch.n_tokens = len(tokens)
        for i, (t, p, s, w) in enumerate(zip(tokens, positions, seq_ids, want_logits)):
            batch.token[i], batch.pos[i], batch.n_seq_id[i] = int(t), int(p), 1
            batch.seq_id[i][0], batch.logits[i] = int(s), bool(w)

    t0 = time.perf_counter()
    toks, pos, sid, want = [], [], [], []
    for s in range(a.seqs):
        for i in range(a.prompt_len):
            toks.append(prompts[s, i]), pos.append(i), sid.append(s), want.append(i == a.prompt_len - 1)
    fill(toks, pos, sid, want)
    assert L.llama_decode(ctx, batch) == 0
    out_rows = [i for i, w in enumerate(want) if w]
    t_pre = time.perf_counter()

    def sample(rows):
        # All output rows at once (Gumbel-max: a sample at temperature 1), so that the host
        # side costs llama.cpp as little as r1c's sampler costs r1c.
        z = np.ctypeslib.as_array(L.llama_get_logits(ctx), shape=(len(rows), n_vocab))
        return list(np.argmax(z - np.log(-np.log(rng.random(z.shape, dtype=np.float32))), axis=1))

    cur = sample(out_rows)
    for step in range(1, a.new_tokens):
        fill(cur, [a.prompt_len + step - 1] * a.seqs, range(a.seqs), [True] * a.seqs)
        assert L.llama_decode(ctx, batch) == 0
        cur = sample(range(a.seqs))
    t1 = time.perf_counter()
    print(json.dumps({"impl": "llama.cpp", "decode_tok_s": round(a.seqs * (a.new_tokens - 1) / (t1 - t_pre), 1),
                      "prefill_tok_s": round(a.seqs * a.prompt_len / (t_pre - t0), 1),
                      "total_s": round(t1 - t0, 3), "seqs": a.seqs, "new_tokens": a.new_tokens,
                      "prompt_len": a.prompt_len, "llama_cpp_python": L.__version__}))
    L.llama_batch_free(batch)
    L.llama_free(ctx)
    L.llama_model_free(model)


if __name__ == "__main__":
    main()
