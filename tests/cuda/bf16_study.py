#!/usr/bin/env python3
"""Where the CUDA backend's bf16 error comes from: a float64 / float32 PyTorch
model of the three shapes tests/cuda/test_cuda_model.c checks, with each bf16
rounding the GPU path makes as a switch (f1 norm outputs, f2 gate|up output,
f3 SwiGLU output, f4 attention output, f5 the tensor cores' q/k/v/P; b1 the
gradients entering each product's backward, b2 the tensor cores' dO/q/k/v/dS/P,
b3 the bf16 KV cache). It prints the logits and worst-gradient relative errors
with every rounding on, with each one off, and with each one alone.

  bf16_study.py MODE SEEDS [OUT.json]     MODE: all | single | pairs | combo:a&b;c
  bf16_study.py --table OUT.json          the table of a saved run

CPU only (a few minutes for `single` on 2 cores). Its findings are in
tests/cuda/README.md."""
import itertools
import json
import math
import sys
import torch
import torch.nn.functional as F
from torch.autograd import Function

torch.set_num_threads(2)

def bf(x):
    return x.to(torch.bfloat16).to(x.dtype)

def tf32(x):
    x32 = x.float().contiguous()
    i = x32.view(torch.int32) & ~0x1FFF
    return i.view(torch.float32).to(x.dtype)

# ---------------- switches ----------------
FINE = ['f1', 'f2', 'f3', 'f4', 'f5q', 'f5P',
        'b1_lm', 'b1_down', 'b1_o', 'b1_gu', 'b1_qkv',
        'b2_dO', 'b2_qkv', 'b2_dS', 'b2_P']
GROUPS = {'f5': ['f5q', 'f5P'], 'b1': ['b1_lm', 'b1_down', 'b1_o', 'b1_gu', 'b1_qkv'],
          'b2': ['b2_dO', 'b2_qkv', 'b2_dS', 'b2_P'],
          'tc_qkv(f5q+b2_qkv)': ['f5q', 'b2_qkv'], 'tc_P(f5P+b2_P)': ['f5P', 'b2_P']}

class SW:
    def __init__(self, on=True, **kw):
        for s in FINE:
            setattr(self, s, on)
        self.b3 = False          # extra bf16 K/V (decode cache)
        self.dP = 'bf16'         # 'bf16' (uses b2 rounding of dO/V), 'tf32', 'fp32'
        self.D = 'stored'        # 'stored' (bf16 O if f4), 'fp32O', 'consistent' (rowsum(P*dP))
        for k, v in kw.items():
            setattr(self, k, v)
    def copy(self, **kw):
        s = SW.__new__(SW); s.__dict__.update(self.__dict__); s.__dict__.update(kw); return s

class RF(Function):  # round forward, straight-through backward
    @staticmethod
    def forward(ctx, x): return bf(x)
    @staticmethod
    def backward(ctx, g): return g

class RB(Function):  # identity forward, round grad in backward
    @staticmethod
    def forward(ctx, x): return x.view_as(x)
    @staticmethod
    def backward(ctx, g): return bf(g)

def rf(x, on): return RF.apply(x) if on else x
def rb(x, on): return RB.apply(x) if on else x

class Attn(Function):
    # q [H,T,d], k,v [KV,T,d], mask [T,T] bool (True = allowed)
    @staticmethod
    def forward(ctx, q, k, v, mask, sw, scale):
        H, KV = q.shape[0], k.shape[0]
        g = H // KV
        kk = k.repeat_interleave(g, 0); vv = v.repeat_interleave(g, 0)
        if sw.b3:
            kk, vv = bf(kk), bf(vv)
        if sw.f5q:
            qf, kf, vf = bf(q), bf(kk), bf(vv)
        else:
            qf, kf, vf = q, kk, vv
        S = (qf @ kf.transpose(-1, -2)) * scale
        S = S.masked_fill(~mask, float('-inf'))
        lse = torch.logsumexp(S, -1, keepdim=True)
        P = torch.exp(S - lse)
        Pf = bf(P) if sw.f5P else P
        O = Pf @ vf
        ctx.save_for_backward(q, k, v, O, lse, mask)
        ctx.sw, ctx.scale = sw, scale
        return O

    @staticmethod
    def backward(ctx, dO):
        q, k, v, O, lse, mask = ctx.saved_tensors
        sw, scale = ctx.sw, ctx.scale
        H, KV = q.shape[0], k.shape[0]
        g = H // KV
        kk = k.repeat_interleave(g, 0); vv = v.repeat_interleave(g, 0)
        if sw.b3:
            kk, vv = bf(kk), bf(vv)
        dOb = bf(dO) if sw.b2_dO else dO
        if sw.b2_qkv:
            qb, kb, vb = bf(q), bf(kk), bf(vv)
        else:
            qb, kb, vb = q, kk, vv
        S = (qb @ kb.transpose(-1, -2)) * scale
        S = S.masked_fill(~mask, float('-inf'))
        P = torch.exp(S - lse)
        if sw.dP == 'bf16':
            dP = dOb @ vb.transpose(-1, -2)
        elif sw.dP == 'tf32':
            dP = tf32(dO) @ tf32(vv).transpose(-1, -2)
        else:
            dP = dO @ vv.transpose(-1, -2)
        if sw.D == 'stored':
            Os = bf(O) if sw.f4 else O
            D = (dOb * Os).sum(-1, keepdim=True)
        elif sw.D == 'fp32O':
            D = (dOb * O).sum(-1, keepdim=True)
        elif sw.D == 'fp32all':
            D = (dO * O).sum(-1, keepdim=True)
        else:  # consistent
            D = (P * dP).sum(-1, keepdim=True)
        dS = P * (dP - D)
        dSb = bf(dS) if sw.b2_dS else dS
        dq = (dSb @ kb) * scale
        dkk = (dSb.transpose(-1, -2) @ qb) * scale
        Pb = bf(P) if sw.b2_P else P
        dvv = Pb.transpose(-1, -2) @ dOb
        T, d = q.shape[1], q.shape[2]
        dk = dkk.view(KV, g, T, d).sum(1)
        dv = dvv.view(KV, g, T, d).sum(1)
        return dq, dk, dv, None, None, None

# ---------------- model ----------------
CONFIGS = {
    'A': dict(arch='llama', C=256, L=2, H=4, KV=1, I=512, V=1000, tied=False, bias=False),
    'B': dict(arch='qwen2', C=768, L=2, H=6, KV=1, I=1024, V=2048, tied=True, bias=True),
    'C': dict(arch='qwen2', C=128, L=2, H=4, KV=2, I=344, V=768, tied=True, bias=True),
}
LENS = [37, 1, 64, 130, 9]

def make_params(cfg, seed):
    g = torch.Generator().manual_seed(seed)
    C, L, H, KV, I, V = cfg['C'], cfg['L'], cfg['H'], cfg['KV'], cfg['I'], cfg['V']
    hd = C // H
    std = 0.5 / math.sqrt(C)
    def w(*s): return torch.randn(*s, generator=g, dtype=torch.float64) * std
    def nw(n): return 1 + 0.3 * torch.randn(n, generator=g, dtype=torch.float64)
    def bb(n): return 0.2 * torch.randn(n, generator=g, dtype=torch.float64)
    p = {'embed_tokens.weight': w(V, C)}
    for l in range(L):
        pre = f'layers.{l}.'
        p[pre + 'input_layernorm.weight'] = nw(C)
        p[pre + 'self_attn.q_proj.weight'] = w(H * hd, C)
        p[pre + 'self_attn.k_proj.weight'] = w(KV * hd, C)
        p[pre + 'self_attn.v_proj.weight'] = w(KV * hd, C)
        if cfg['bias']:
            p[pre + 'self_attn.q_proj.bias'] = bb(H * hd)
            p[pre + 'self_attn.k_proj.bias'] = bb(KV * hd)
            p[pre + 'self_attn.v_proj.bias'] = bb(KV * hd)
        p[pre + 'self_attn.o_proj.weight'] = w(C, H * hd)
        p[pre + 'post_attention_layernorm.weight'] = nw(C)
        p[pre + 'mlp.gate_proj.weight'] = w(I, C)
        p[pre + 'mlp.up_proj.weight'] = w(I, C)
        p[pre + 'mlp.down_proj.weight'] = w(C, I)
    p['norm.weight'] = nw(C)
    if not cfg['tied']:
        p['lm_head.weight'] = w(V, C)
    return {k: bf(v) for k, v in p.items()}  # bf16-valued weights

def make_batch(cfg, seed):
    g = torch.Generator().manual_seed(seed + 1000)
    V = cfg['V']
    T = sum(LENS)
    tokens = torch.randint(0, V, (T,), generator=g)
    pos = torch.cat([torch.arange(n) for n in LENS])
    seq = torch.cat([torch.full((n,), i) for i, n in enumerate(LENS)])
    mask = (seq[:, None] == seq[None, :]) & (pos[None, :] <= pos[:, None])
    tidx = torch.cat([torch.arange(n)[torch.arange(n) >= n // 3] + s
                      for n, s in zip(LENS, torch.tensor([0] + LENS[:-1]).cumsum(0).tolist())])
    # "first third has none": positions < ceil? use n//3 -> positions >= n//3 have targets
    tgt = torch.randint(0, V, (len(tidx),), generator=g)
    dlogp = torch.randn(len(tidx), generator=g, dtype=torch.float64)
    last = torch.tensor(LENS).cumsum(0) - 1
    return dict(tokens=tokens, pos=pos, mask=mask, tidx=tidx, tgt=tgt, dlogp=dlogp, last=last)

def rmsnorm(x, w, eps=1e-6):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w

def rope_cs(pos, hd, dtype):
    inv = 1.0 / (10000 ** (torch.arange(0, hd, 2, dtype=torch.float64) / hd))
    fr = pos.double()[:, None] * inv[None, :]
    emb = torch.cat([fr, fr], -1)
    return emb.cos().to(dtype), emb.sin().to(dtype)

def rot_half(x):
    d = x.shape[-1] // 2
    return torch.cat([-x[..., d:], x[..., :d]], -1)

def run(cfg, params, batch, sw, dtype):
    p = {k: v.to(dtype).clone().requires_grad_(True) for k, v in params.items()}
    C, L, H, KV, I = cfg['C'], cfg['L'], cfg['H'], cfg['KV'], cfg['I']
    hd = C // H
    T = batch['tokens'].shape[0]
    cos, sin = rope_cs(batch['pos'], hd, dtype)
    scale = 1.0 / math.sqrt(hd)
    x = p['embed_tokens.weight'][batch['tokens']]
    for l in range(L):
        pre = f'layers.{l}.'
        a = rf(rmsnorm(x, p[pre + 'input_layernorm.weight']), sw.f1)
        def lin(nm, inp):
            return F.linear(inp, p[pre + f'self_attn.{nm}.weight'], p.get(pre + f'self_attn.{nm}.bias'))
        q = rb(lin('q_proj', a), sw.b1_qkv)
        k = rb(lin('k_proj', a), sw.b1_qkv)
        v = rb(lin('v_proj', a), sw.b1_qkv)
        q = q.view(T, H, hd).transpose(0, 1)
        k = k.view(T, KV, hd).transpose(0, 1)
        v = v.view(T, KV, hd).transpose(0, 1)
        q = q * cos + rot_half(q) * sin
        k = k * cos + rot_half(k) * sin
        o = Attn.apply(q, k, v, batch['mask'], sw, scale)
        o = o.transpose(0, 1).reshape(T, H * hd)
        o = rf(o, sw.f4)
        y = rb(F.linear(o, p[pre + 'self_attn.o_proj.weight']), sw.b1_o)
        x = x + y
        h2 = rf(rmsnorm(x, p[pre + 'post_attention_layernorm.weight']), sw.f1)
        Wgu = torch.cat([p[pre + 'mlp.gate_proj.weight'], p[pre + 'mlp.up_proj.weight']], 0)
        gu = rb(F.linear(h2, Wgu), sw.b1_gu)
        gu = rf(gu, sw.f2)
        gate, up = gu[:, :I], gu[:, I:]
        act = rf(F.silu(gate) * up, sw.f3)
        d = rb(F.linear(act, p[pre + 'mlp.down_proj.weight']), sw.b1_down)
        x = x + d
    hf = rf(rmsnorm(x, p['norm.weight']), sw.f1)
    Wlm = p['embed_tokens.weight'] if cfg['tied'] else p['lm_head.weight']
    logits = rb(F.linear(hf, Wlm), sw.b1_lm)
    lp = torch.log_softmax(logits[batch['tidx']] / 0.7, -1)
    lpt = lp.gather(1, batch['tgt'][:, None])[:, 0]
    loss = (batch['dlogp'].to(dtype) * lpt).sum()
    loss.backward()
    return logits.detach().double(), {k: v.grad.double() for k, v in p.items()}

def rel(a, b, denom=None):
    return ((a - b).norm() / (denom if denom is not None else b.norm())).item()

def metrics(res, ref, batch):
    lg, gr = res
    rlg, rgr = ref
    out = {'logits': rel(lg, rlg), 'decode': rel(lg[batch['last']], rlg[batch['last']])}
    worst, wname, errs = 0.0, None, {}
    for k in rgr:
        # NOTE: with RoPE the true k_proj.bias gradient is NOT zero (R(pos_j) b_k varies with j),
        # so plain relative error is used; brief's metric (denominator |grad q_proj.bias|) reported separately.
        e = rel(gr[k], rgr[k])
        if k.endswith('k_proj.bias'):
            out.setdefault('kb_brief', []).append(rel(gr[k], rgr[k], rgr[k.replace('k_proj', 'q_proj')].norm()))
        errs[k] = e
        if e > worst:
            worst, wname = e, k
    out['grad'] = worst
    out['gname'] = wname.replace('layers.', 'L').replace('self_attn.', '').replace('mlp.', '').replace('.weight', '.w').replace('.bias', '.b')
    out['errs'] = errs
    return out

def short(m):
    return f"{m['logits']:.2e} {m['grad']:.2e} {m['gname']}"

# ---------------- driver ----------------
MODS = {'dP=tf32': dict(dP='tf32'), 'dP=fp32': dict(dP='fp32'), 'D=fp32O': dict(D='fp32O'),
        'D=fp32(O,dO)': dict(D='fp32all'), 'D=rowsum(P*dP)': dict(D='consistent')}
ITEMS = FINE + list(GROUPS) + list(MODS)

def apply_off(sw, item):
    if item in MODS: return sw.copy(**MODS[item])
    names = GROUPS.get(item, [item])
    return sw.copy(**{n: False for n in names})

def only_on(item):
    sw = SW(False)
    names = GROUPS.get(item, [item])
    return sw.copy(**{n: True for n in names})

def table(path):
    R = json.load(open(path))
    keys = sorted(R)
    def row(tag):
        out = []
        for k in keys:
            m = R[k].get(tag)
            out.append('-' if m is None else f"{m['logits'] * 1e3:5.2f} {m['grad'] * 1e3:5.1f} {m['gname'][:12]:12s}")
        return ' | '.join(out)
    print('logits relerr x1e-3, worst gradient relerr x1e-3 (its tensor)')
    print(f"{'':24s}", ' | '.join(f'{k:24s}' for k in keys))
    for tag in ['fp32', 'ALL'] + [t for t in R[keys[0]] if t not in ('fp32', 'ALL')]:
        print(f'{tag[:24]:24s}', row(tag))


if __name__ == '__main__':
    if sys.argv[1] == '--table':
        table(sys.argv[2])
        sys.exit(0)
    mode = sys.argv[1]
    seeds = [int(x) for x in sys.argv[2].split(',')]
    results = {}
    for seed in seeds:
        for cname, cfg in CONFIGS.items():
            params = make_params(cfg, seed); batch = make_batch(cfg, seed)
            ref = run(cfg, params, batch, SW(False), torch.float64)
            R = {}
            def go(key, sw):
                m = metrics(run(cfg, params, batch, sw, torch.float32), ref, batch)
                m.pop('errs'); R[key] = m
            go('fp32', SW(False)); go('ALL', SW(True))
            go('ALL-f5+b3(decode)', apply_off(SW(True), 'f5').copy(b3=True))
            if mode in ('single', 'pairs'):
                for it in ITEMS:
                    go('off:' + it, apply_off(SW(True), it))
                    if it not in MODS: go('only:' + it, only_on(it))
            if mode == 'pairs':
                for a, b in itertools.combinations(ITEMS, 2):
                    go(f'off:{a}&{b}', apply_off(apply_off(SW(True), a), b))
            if mode.startswith('combo:'):
                for combo in mode[6:].split(';'):
                    sw = SW(True)
                    for it in combo.split('&'): sw = apply_off(sw, it)
                    go('off:' + combo, sw)
            results[f'{cname}/{seed}'] = R
            print(cname, seed, 'done', flush=True)
    out = sys.argv[3] if len(sys.argv) > 3 else 'bf16_study.json'
    json.dump(results, open(out, 'w'), indent=0)
    table(out)
