"""Plain-PyTorch reference of the Qwen2 / Llama decoder (the models r1c trains).

Written independently of the C code, the way Hugging Face transformers'
modeling_qwen2.py / modeling_llama.py compute it, so the C model can be checked
against it: RMSNorm, rotate-half RoPE (with the llama3 rope_scaling of
inv_freq), grouped-query attention via repeat_kv, causal softmax attention with
scale 1/sqrt(head_dim), SwiGLU MLP, final norm, tied or untied lm_head and
cross-entropy with ignore_index=-100. Tests run it in float64 as the ground
truth; the benchmark runs it in float32 as the PyTorch baseline.

Library use:
    cfg, params = load(model_dir)
    logits, loss = forward(cfg, params, [[1, 2, 3], [4, 5]], [[2, 3, -100], [5, 6]])
    logits, loss, grads = grads(cfg, params, seqs, targets)
`python model_ref.py --selftest` checks the reference against textbook formulas
and finite differences, printing PASS:/FAIL: lines.
"""
import json
import math
import os
import sys

import torch
import torch.nn.functional as F

IGNORE_INDEX = -100


# ---------------------------------------------------------------- loading


def load_config(model_dir):
    with open(os.path.join(model_dir, "config.json")) as f:
        return json.load(f)


def load_params(model_dir):
    """All tensors of model.safetensors, or of every shard named by the index."""
    from safetensors.torch import load_file

    index = os.path.join(model_dir, "model.safetensors.index.json")
    if not os.path.exists(index):
        return load_file(os.path.join(model_dir, "model.safetensors"))
    with open(index) as f:
        shards = sorted(set(json.load(f)["weight_map"].values()))
    params = {}
    for shard in shards:
        params.update(load_file(os.path.join(model_dir, shard)))
    return params


def load(model_dir):
    return load_config(model_dir), load_params(model_dir)


# ---------------------------------------------------------------- config


def head_dim(cfg):
    # As transformers: an explicit head_dim wins, else hidden / heads.
    return cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"]


def n_kv_heads(cfg):
    return cfg.get("num_key_value_heads") or cfg["num_attention_heads"]


def is_tied(cfg):
    # Qwen2Config and LlamaConfig both default to untied.
    return bool(cfg.get("tie_word_embeddings", False))


def has_qkv_bias(cfg):
    return cfg["model_type"] == "qwen2" or bool(cfg.get("attention_bias", False))


def param_shapes(cfg):
    """The Hugging Face parameter names and shapes the config implies, in order."""
    C, V, I = cfg["hidden_size"], cfg["vocab_size"], cfg["intermediate_size"]
    hd, nh, nkv = head_dim(cfg), cfg["num_attention_heads"], n_kv_heads(cfg)
    shapes = {"model.embed_tokens.weight": (V, C)}
    for l in range(cfg["num_hidden_layers"]):
        pre = f"model.layers.{l}."
        shapes[pre + "input_layernorm.weight"] = (C,)
        for name, rows in (("q", nh * hd), ("k", nkv * hd), ("v", nkv * hd)):
            shapes[pre + f"self_attn.{name}_proj.weight"] = (rows, C)
            if has_qkv_bias(cfg):
                shapes[pre + f"self_attn.{name}_proj.bias"] = (rows,)
        shapes[pre + "self_attn.o_proj.weight"] = (C, nh * hd)
        shapes[pre + "post_attention_layernorm.weight"] = (C,)
        shapes[pre + "mlp.gate_proj.weight"] = (I, C)
        shapes[pre + "mlp.up_proj.weight"] = (I, C)
        shapes[pre + "mlp.down_proj.weight"] = (C, I)
    shapes["model.norm.weight"] = (C,)
    if not is_tied(cfg):
        shapes["lm_head.weight"] = (V, C)
    return shapes


def init_params(cfg, seed=0, dtype=torch.float32):
    """Random weights as transformers' _init_weights: normal(0, initializer_range)
    for matrices, ones for norms, zeros for biases."""
    gen = torch.Generator().manual_seed(seed)
    std = cfg.get("initializer_range", 0.02)
    params = {}
    for name, shape in param_shapes(cfg).items():
        if name.endswith("norm.weight"):
            params[name] = torch.ones(shape, dtype=dtype)
        elif name.endswith(".bias"):
            params[name] = torch.zeros(shape, dtype=dtype)
        else:
            params[name] = torch.randn(shape, generator=gen, dtype=dtype) * std
    return params


# ---------------------------------------------------------------- building blocks


def rms_norm(x, weight, eps):
    # transformers upcasts to float32 for the variance; in float32/float64 that
    # is the working dtype already.
    var = x.pow(2).mean(-1, keepdim=True)
    return weight * (x * torch.rsqrt(var + eps))


def llama3_inv_freq(inv_freq, rs):
    """transformers' _compute_llama3_parameters: keep high frequencies, divide
    low ones by `factor`, blend smoothly in between (by wavelength)."""
    factor = rs["factor"]
    low, high = rs["low_freq_factor"], rs["high_freq_factor"]
    old_len = rs["original_max_position_embeddings"]
    low_freq_wavelen, high_freq_wavelen = old_len / low, old_len / high
    wavelen = 2 * math.pi / inv_freq
    scaled = torch.where(wavelen > low_freq_wavelen, inv_freq / factor, inv_freq)
    smooth = (old_len / wavelen - low) / (high - low)
    smoothed = (1 - smooth) * scaled / factor + smooth * scaled
    medium = ~(wavelen < high_freq_wavelen) & ~(wavelen > low_freq_wavelen)
    return torch.where(medium, smoothed, scaled)


def rope_inv_freq(cfg):
    """float64 inverse frequencies 1 / theta^(2i/hd), llama3-scaled if configured."""
    hd = head_dim(cfg)
    theta = cfg.get("rope_theta", 10000.0)
    inv_freq = 1.0 / (theta ** (torch.arange(0, hd, 2, dtype=torch.float64) / hd))
    rs = cfg.get("rope_scaling")
    if rs:
        kind = rs.get("rope_type", rs.get("type"))
        if kind != "llama3":
            raise ValueError(f"rope_scaling type {kind!r} not supported by the reference")
        inv_freq = llama3_inv_freq(inv_freq, rs)
    return inv_freq


def rope_tables(cfg, positions, dtype):
    """cos, sin [T, hd] for integer positions [T]; the angle table is duplicated
    across both halves as transformers' cat((freqs, freqs))."""
    freqs = positions.to(torch.float64)[:, None] * rope_inv_freq(cfg)[None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos().to(dtype), emb.sin().to(dtype)


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def apply_rope(x, cos, sin):
    # x [B, heads, T, hd]; cos/sin [T, hd] broadcast over batch and heads.
    return x * cos + rotate_half(x) * sin


def repeat_kv(x, n_rep):
    """[B, nkv, T, hd] -> [B, nkv*n_rep, T, hd]; query head h reads KV head h // n_rep."""
    if n_rep == 1:
        return x
    B, nkv, T, hd = x.shape
    return x[:, :, None].expand(B, nkv, n_rep, T, hd).reshape(B, nkv * n_rep, T, hd)


def causal_mask(T, dtype):
    # Additive: 0 on and below the diagonal, -inf above (the diagonal is always
    # visible, so no row is all -inf).
    return torch.full((T, T), float("-inf"), dtype=dtype).triu(1)


def attention(cfg, p, pre, h, cos, sin, mask):
    B, T, _ = h.shape
    hd, nh, nkv = head_dim(cfg), cfg["num_attention_heads"], n_kv_heads(cfg)
    bias = (lambda n: p[n]) if has_qkv_bias(cfg) else (lambda n: None)

    def proj(name, heads):
        y = F.linear(h, p[pre + name + ".weight"], bias(pre + name + ".bias"))
        return y.view(B, T, heads, hd).transpose(1, 2)

    q, k, v = proj("q_proj", nh), proj("k_proj", nkv), proj("v_proj", nkv)
    q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
    k, v = repeat_kv(k, nh // nkv), repeat_kv(v, nh // nkv)
    scores = torch.matmul(q, k.transpose(2, 3)) / math.sqrt(hd) + mask
    # transformers takes the softmax in float32; we keep the working dtype so the
    # float64 reference stays float64 throughout.
    probs = torch.softmax(scores, dim=-1)
    out = torch.matmul(probs, v).transpose(1, 2).reshape(B, T, nh * hd)
    return F.linear(out, p[pre + "o_proj.weight"])


def mlp(p, pre, h):
    gate = F.linear(h, p[pre + "gate_proj.weight"])
    up = F.linear(h, p[pre + "up_proj.weight"])
    return F.linear(F.silu(gate) * up, p[pre + "down_proj.weight"])


def lm_head(cfg, p):
    return p["model.embed_tokens.weight"] if is_tied(cfg) else p["lm_head.weight"]


def decoder(cfg, p, ids):
    """Logits [B, T, V] for a batch of equal-length sequences ids [B, T] (long),
    each at positions 0..T-1. p holds tensors already in the working dtype."""
    eps = cfg["rms_norm_eps"]
    embed = p["model.embed_tokens.weight"]
    T = ids.shape[1]
    cos, sin = rope_tables(cfg, torch.arange(T), embed.dtype)
    mask = causal_mask(T, embed.dtype)
    x = F.embedding(ids, embed)
    for l in range(cfg["num_hidden_layers"]):
        pre = f"model.layers.{l}."
        h = rms_norm(x, p[pre + "input_layernorm.weight"], eps)
        x = x + attention(cfg, p, pre + "self_attn.", h, cos, sin, mask)
        h = rms_norm(x, p[pre + "post_attention_layernorm.weight"], eps)
        x = x + mlp(p, pre + "mlp.", h)
    x = rms_norm(x, p["model.norm.weight"], eps)
    return F.linear(x, lm_head(cfg, p))


def cross_entropy(logits, targets):
    """Mean over positions whose target is not IGNORE_INDEX (targets are
    already aligned with the positions: no shift here)."""
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1),
                           ignore_index=IGNORE_INDEX)


# ---------------------------------------------------------------- entry points


def cast(params, dtype):
    # .to() of a tensor already in dtype returns the tensor itself, so leaves
    # the caller marked requires_grad keep receiving gradients.
    return {name: t.to(dtype) for name, t in params.items()}


def forward(cfg, params, seqs, targets=None, dtype=torch.float64):
    """Independent sequences (lists of ids, any lengths), each causal on its own
    with positions from 0, their logits concatenated into [T, V]. With targets
    (one list per sequence, same lengths) returns (logits, loss) instead."""
    p = cast(params, dtype)
    logits = torch.cat([decoder(cfg, p, torch.tensor([s], dtype=torch.long))[0] for s in seqs])
    if targets is None:
        return logits
    assert [len(t) for t in targets] == [len(s) for s in seqs], "targets/tokens length mismatch"
    y = torch.tensor([i for t in targets for i in t], dtype=torch.long)
    return logits, cross_entropy(logits, y)


def grads(cfg, params, seqs, targets, dtype=torch.float64):
    """(logits, loss, {name: dloss/dparam}) with autograd, all in dtype."""
    leaves = {n: t.detach().to(dtype).requires_grad_() for n, t in params.items()}
    logits, loss = forward(cfg, leaves, seqs, targets, dtype)
    loss.backward()
    return logits.detach(), loss.detach(), {n: t.grad for n, t in leaves.items()}


# ---------------------------------------------------------------- self-test


def _tiny_cfg(**over):
    cfg = dict(model_type="qwen2", hidden_size=16, num_hidden_layers=2, num_attention_heads=4,
               num_key_value_heads=2, intermediate_size=24, vocab_size=23,
               max_position_embeddings=64, rms_norm_eps=1e-6, rope_theta=10000.0,
               tie_word_embeddings=True, initializer_range=0.3)
    cfg.update(over)
    return cfg


def _report(ok_all, name, err, tol):
    ok = err <= tol
    print(f"{'PASS' if ok else 'FAIL'}: reference {name} relerr={err:.3g}")
    return ok_all and ok


def _relerr(a, b):
    return float((a - b).abs().max() / max(float(b.abs().max()), 1e-30))


def _check_rmsnorm():
    x, w = torch.randn(3, 7, dtype=torch.float64), torch.randn(7, dtype=torch.float64)
    want = torch.stack([w * r / math.sqrt(sum(v * v for v in r.tolist()) / 7 + 1e-5) for r in x])
    return _relerr(rms_norm(x, w, 1e-5), want)


def _check_rope():
    # rotate-half RoPE pairs (i, i + hd/2) and rotates each pair as the complex
    # number x_i + j x_{i+hd/2} times exp(j * pos * inv_freq_i).
    cfg = _tiny_cfg(hidden_size=32, num_attention_heads=2)  # hd 16
    hd, T = 16, 9
    x = torch.randn(1, 1, T, hd, dtype=torch.float64)
    cos, sin = rope_tables(cfg, torch.arange(T), torch.float64)
    got = apply_rope(x, cos, sin)[0, 0]
    z = torch.complex(x[0, 0, :, : hd // 2], x[0, 0, :, hd // 2:])
    ang = torch.arange(T, dtype=torch.float64)[:, None] * rope_inv_freq(cfg)[None, :]
    rz = z * torch.polar(torch.ones_like(ang), ang)
    return _relerr(got, torch.cat((rz.real, rz.imag), dim=-1))


def _check_llama3():
    # Meta's original apply_scaling (llama3 repo), written per frequency.
    rs = dict(rope_type="llama3", factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0,
              original_max_position_embeddings=64)
    cfg = _tiny_cfg(hidden_size=64, num_attention_heads=4, rope_scaling=rs)  # hd 16
    want = []
    for i in range(8):
        freq = 1.0 / 10000.0 ** (2 * i / 16)
        wavelen = 2 * math.pi / freq
        if wavelen < 64 / 4:
            want.append(freq)
        elif wavelen > 64 / 1:
            want.append(freq / 8)
        else:
            s = (64 / wavelen - 1) / (4 - 1)
            want.append((1 - s) * freq / 8 + s * freq)
    return _relerr(rope_inv_freq(cfg), torch.tensor(want, dtype=torch.float64))


def _check_attention():
    """Batched attention against a loop over (head, query, key) with explicit
    GQA indexing and causal limits."""
    cfg = _tiny_cfg()
    p = init_params(cfg, 1, torch.float64)
    for n in p:
        if n.endswith(".bias"):
            p[n] = torch.randn_like(p[n])
    T, nh, nkv, hd = 6, 4, 2, 4
    h = torch.randn(1, T, 16, dtype=torch.float64)
    cos, sin = rope_tables(cfg, torch.arange(T), torch.float64)
    got = attention(cfg, p, "model.layers.0.self_attn.", h, cos, sin, causal_mask(T, torch.float64))
    pre = "model.layers.0.self_attn."
    lin = lambda n: F.linear(h[0], p[pre + n + ".weight"], p[pre + n + ".bias"])
    q = apply_rope(lin("q_proj").view(T, nh, hd).transpose(0, 1), cos, sin)
    k = apply_rope(lin("k_proj").view(T, nkv, hd).transpose(0, 1), cos, sin)
    v = lin("v_proj").view(T, nkv, hd).transpose(0, 1)
    out = torch.zeros(T, nh, hd, dtype=torch.float64)
    for hh in range(nh):
        g = hh // (nh // nkv)
        for t in range(T):
            s = torch.stack([q[hh, t] @ k[g, u] / math.sqrt(hd) for u in range(t + 1)])
            w = s.exp() / s.exp().sum()
            out[t, hh] = sum(w[u] * v[g, u] for u in range(t + 1))
    want = F.linear(out.reshape(T, nh * hd), p[pre + "o_proj.weight"])
    return _relerr(got[0], want)


def _check_independence():
    # Separate sequences never see each other; equal-length batching agrees.
    cfg = _tiny_cfg()
    p = init_params(cfg, 2, torch.float64)
    a, b = [1, 5, 7, 2, 9], [3, 3, 4, 8, 0]
    both = forward(cfg, p, [a, b])
    alone = torch.cat([forward(cfg, p, [a]), forward(cfg, p, [b])])
    batched = decoder(cfg, p, torch.tensor([a, b])).reshape(10, -1)
    return max(_relerr(both, alone), _relerr(batched, alone))


def _check_finite_diff():
    """Autograd gradients against central differences of the float64 loss for a
    few entries of every kind of parameter (tied and untied head)."""
    worst = 0.0
    for tied in (True, False):
        cfg = _tiny_cfg(tie_word_embeddings=tied)
        p = init_params(cfg, 3, torch.float64)
        for n in p:  # make norms and biases non-trivial
            if not n.endswith("proj.weight") and n != "model.embed_tokens.weight":
                p[n] = p[n] + 0.3 * torch.randn_like(p[n])
        seqs, tgts = [[1, 4, 9, 2], [7, 7, 3]], [[4, -100, 2, 11], [7, 3, -100]]
        _, _, g = grads(cfg, p, seqs, tgts)
        gen = torch.Generator().manual_seed(4)
        for name in p:
            for _ in range(2):
                i = int(torch.randint(p[name].numel(), (1,), generator=gen))
                flat, eps = p[name].view(-1), 1e-5
                old = float(flat[i])
                flat[i] = old + eps
                up = float(forward(cfg, p, seqs, tgts)[1])
                flat[i] = old - eps
                down = float(forward(cfg, p, seqs, tgts)[1])
                flat[i] = old
                fd, ad = (up - down) / (2 * eps), float(g[name].view(-1)[i])
                worst = max(worst, abs(fd - ad) / max(abs(ad), 1e-3))
    return worst


def selftest():
    torch.manual_seed(0)
    ok = True
    ok = _report(ok, "rmsnorm-formula", _check_rmsnorm(), 1e-12)
    ok = _report(ok, "rope-complex-rotation", _check_rope(), 1e-12)
    ok = _report(ok, "llama3-inv-freq", _check_llama3(), 1e-12)
    ok = _report(ok, "attention-loops", _check_attention(), 1e-12)
    ok = _report(ok, "sequence-independence", _check_independence(), 1e-12)
    ok = _report(ok, "finite-difference-grads", _check_finite_diff(), 1e-5)
    return ok


if __name__ == "__main__":
    if sys.argv[1:] == ["--selftest"]:
        sys.exit(0 if selftest() else 1)
    print(__doc__)
    sys.exit(2)
