"""PyTorch baseline for the decode benchmark: batched KV-cache generation with
the bench_model decoder, in PyTorch float32 on the CPU.

Written the way a competent eager-mode generation loop is (transformers'
StaticCache, gpt-fast): weights fused into one q|k|v and one gate|up F.linear
per layer, a K/V cache preallocated once as [B, kv_heads, max_len, hd] per
layer and filled by index assignment (no torch.cat growth), RoPE from a table
precomputed for every position, grouped-query attention without copying the
KV heads (the query heads of a group attend to their shared KV head as one
matmul), logits only for the last position, torch.multinomial sampling at
temperature 1 and the log-prob of each chosen token (a rollout stores them).
All under torch.inference_mode. B prompts of equal length are prefilled in one
batched forward, then every step decodes B tokens at once. Only prefill and
decode are timed, not weight init. Weights are random (init_params); speed
does not depend on their values. The first new token is sampled from the
prefill logits, so decode runs new_tokens - 1 forwards and decode_tok_s counts
the B * (new_tokens - 1) tokens they produce.

--check compares the cached logits of every step against a full no-cache
forward of tests/ref/model_ref.py's decoder on the same tokens (float32).

Prints one JSON line: {"impl":"pytorch","decode_tok_s":..,"prefill_tok_s":..,...}.
"""
import argparse
import json
import math
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "tests", "ref"))
# Builds whose torch ops run on libgomp but whose matmuls run on pthread
# OpenBLAS (e.g. Debian's) keep two thread pools spinning on the same cores;
# passive OpenMP waiting stops that fight (about 2.4x faster decode on a
# 2-core machine). Set before torch loads; an explicit setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import model_ref as ref  # noqa: E402
from bench_model_torch import bench_config  # noqa: E402

SDPA = getattr(F, "scaled_dot_product_attention", None)  # torch >= 2.0


def fuse(cfg, p):
    """Per layer: (norm1, Wqkv, bqkv, Wo, norm2, Wgate|up, Wdown)."""
    layers = []
    for l in range(cfg["num_hidden_layers"]):
        a, m = f"model.layers.{l}.self_attn.", f"model.layers.{l}.mlp."
        bias = [p.get(a + n + "_proj.bias") for n in "qkv"]
        layers.append((p[f"model.layers.{l}.input_layernorm.weight"],
                       torch.cat([p[a + n + "_proj.weight"] for n in "qkv"]),
                       torch.cat(bias) if bias[0] is not None else None,
                       p[a + "o_proj.weight"],
                       p[f"model.layers.{l}.post_attention_layernorm.weight"],
                       torch.cat([p[m + "gate_proj.weight"], p[m + "up_proj.weight"]]),
                       p[m + "down_proj.weight"]))
    return layers


def rope(x, cos, sin):
    half = x.shape[-1] // 2
    return x * cos + torch.cat((-x[..., half:], x[..., :half]), dim=-1) * sin


def attend(q, k, v, mask):
    """q [B, nh, T, hd]; k, v [B, nkv, L, hd] (query head h reads KV head
    h // (nh/nkv)); mask additive [T, L] or None. The rep query heads of a group
    are stacked along T so each group is one matmul against its KV head."""
    B, nh, T, hd = q.shape
    nkv = k.shape[1]
    rep = nh // nkv
    qg = q.reshape(B, nkv, rep * T, hd)
    if mask is not None:
        mask = mask.repeat(rep, 1)
    if SDPA is not None:
        out = SDPA(qg, k, v, attn_mask=mask)
    else:
        scores = torch.matmul(qg, k.transpose(2, 3)) * (1.0 / math.sqrt(hd))
        if mask is not None:
            scores = scores + mask
        out = torch.matmul(torch.softmax(scores, dim=-1), v)
    return out.view(B, nh, T, hd)


class Decoder:
    def __init__(self, cfg, params, batch, max_len):
        self.cfg, self.eps = cfg, cfg["rms_norm_eps"]
        self.nh, self.nkv, self.hd = cfg["num_attention_heads"], ref.n_kv_heads(cfg), ref.head_dim(cfg)
        self.embed, self.norm = params["model.embed_tokens.weight"], params["model.norm.weight"]
        self.head = ref.lm_head(cfg, params)
        self.layers = fuse(cfg, params)
        self.cos, self.sin = ref.rope_tables(cfg, torch.arange(max_len), torch.float32)
        shape = (batch, self.nkv, max_len, self.hd)
        self.cache = [(torch.zeros(shape), torch.zeros(shape)) for _ in self.layers]

    def forward(self, ids, pos):
        """Logits [B, V] of the last of tokens ids [B, T] at positions pos..pos+T-1,
        writing their K/V into the cache."""
        B, T = ids.shape
        nh, nkv, hd, eps = self.nh, self.nkv, self.hd, self.eps
        cos, sin = self.cos[pos:pos + T], self.sin[pos:pos + T]
        end = pos + T
        mask = None
        if T > 1:  # prefill: causal within the new tokens, all earlier visible
            mask = torch.full((T, end), float("-inf")).triu(pos + 1)
        x = F.embedding(ids, self.embed)
        for (n1, wqkv, bqkv, wo, n2, wgu, wd), (kc, vc) in zip(self.layers, self.cache):
            qkv = F.linear(ref.rms_norm(x, n1, eps), wqkv, bqkv).view(B, T, nh + 2 * nkv, hd)
            qkv = qkv.transpose(1, 2)
            q, k, v = qkv.split([nh, nkv, nkv], dim=1)
            kc[:, :, pos:end] = rope(k, cos, sin)
            vc[:, :, pos:end] = v
            o = attend(rope(q, cos, sin), kc[:, :, :end], vc[:, :, :end], mask)
            x = x + F.linear(o.transpose(1, 2).reshape(B, T, nh * hd), wo)
            gate, up = F.linear(ref.rms_norm(x, n2, eps), wgu).chunk(2, dim=-1)
            x = x + F.linear(F.silu(gate) * up, wd)
        return F.linear(ref.rms_norm(x[:, -1], self.norm, eps), self.head)


def sample(logits, gen):
    """Temperature-1 sample of each row and its log-prob."""
    tok = torch.multinomial(torch.softmax(logits, dim=-1), 1, generator=gen)
    return tok, torch.log_softmax(logits, dim=-1).gather(1, tok)


def generate(model, prompts, new_tokens, gen, keep_logits=False):
    """(tokens [B, P+new], logprobs [B, new], prefill_s, decode_s, step logits)."""
    with torch.inference_mode():
        t0 = time.perf_counter()
        P = prompts.shape[1]
        logits = model.forward(prompts, 0)
        tok, lp = sample(logits, gen)
        t1 = time.perf_counter()
        toks, lps, kept = [tok], [lp], [logits] if keep_logits else []
        for s in range(1, new_tokens):
            logits = model.forward(tok, P + s - 1)
            tok, lp = sample(logits, gen)
            toks.append(tok)
            lps.append(lp)
            if keep_logits:
                kept.append(logits)
        t2 = time.perf_counter()
    return torch.cat([prompts] + toks, 1), torch.cat(lps, 1), t1 - t0, t2 - t1, kept


def check(cfg, params, model, prompts, new_tokens, gen):
    tokens, _, _, _, kept = generate(model, prompts, new_tokens, gen, keep_logits=True)
    P = prompts.shape[1]
    with torch.no_grad():
        full = ref.decoder(cfg, params, tokens[:, :-1])  # no cache, every position
    err = max(float((full[:, P - 1 + s] - lg).abs().max()) for s, lg in enumerate(kept))
    ok = err <= 1e-3
    print(f"{'PASS' if ok else 'FAIL'}: cached decode vs model_ref.decoder, "
          f"{len(kept)} steps, max abs diff {err:.3g}")
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seqs", type=int, default=32)
    ap.add_argument("--prompt-len", type=int, default=32)
    ap.add_argument("--new-tokens", type=int, default=256)
    ap.add_argument("--iters", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--check", action="store_true", help="check against model_ref, no timing")
    args = ap.parse_args()

    threads = os.cpu_count()
    torch.set_num_threads(threads)
    torch.manual_seed(args.seed)
    cfg = bench_config()
    params = ref.init_params(cfg, args.seed, torch.float32)
    B, P, N = args.seqs, args.prompt_len, args.new_tokens
    model = Decoder(cfg, params, B, P + N)
    prompts = torch.randint(cfg["vocab_size"], (B, P))
    gen = torch.Generator().manual_seed(args.seed)
    if args.check:
        sys.exit(0 if check(cfg, params, model, prompts, N, gen) else 1)

    generate(model, prompts, min(N, 4), gen)  # warmup: allocations, thread pool
    runs = [generate(model, prompts, N, gen)[2:4] for _ in range(args.iters)]
    prefill_s = statistics.median(r[0] for r in runs)
    decode_s = statistics.median(r[1] for r in runs)
    result = {
        "impl": "pytorch",
        "decode_tok_s": B * (N - 1) / decode_s,
        "prefill_tok_s": B * P / prefill_s,
        "total_s": prefill_s + decode_s,
        "seqs": B,
        "prompt_len": P,
        "new_tokens": N,
        "threads": threads,
        "torch": torch.__version__,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
