"""PyTorch baseline for the GRPO step benchmark (bench/bench_grpo.sh): one GRPO
step of bin/r1-rollout + bin/r1-grpo, in PyTorch float32 on the CPU, on the
bench model's shape (bench_model_torch.bench_config) with random weights
(speed does not depend on their values), or on the model of --model (a Hugging
Face directory: bench/bench_grpo_real.sh gives it SmolLM2-135M-Instruct).

The prompts are the ones r1c rolled out: the token ids of each prompt of a step
of the run database (rollouts.prompt_ids, little-endian int32), in prompt_id
order, each sampled --group times. The three timed parts:

  rollout  KV-cache generation at temperature 1 with bench/bench_decode_torch.py's
           decoder (fused q|k|v and gate|up weights, preallocated cache, grouped
           KV heads without copies, logits of the last position only, multinomial
           sampling with the log-prob of each sampled token, inference_mode),
           its `generate` loop included. Prompts of different lengths are
           left-padded in batches of --gen-batch sequences (r1-rollout's default
           --batch 64), with per-row RoPE positions and a key-padding mask, as
           transformers' generate does. Every batch decodes as many tokens as
           the longest completion r1c made for it (--lengths r1c) or
           --max-new-tokens (--lengths max).
  ref      the reference model's forward, no grad, over prompt + completion,
           log-probs of the completion tokens.
  update   the policy's forward + GRPO loss + backward + clip of the gradient
           norm to 1 + torch.optim.AdamW step: one iteration, one minibatch (all
           completions), gradients accumulated over micro-batches of at most
           --micro-batch-tokens padded tokens (r1-grpo's --micro-batch-tokens
           4096). Loss per token: rho = exp(logp - old) with the sampled log-probs
           as old, -min(rho A, clip(rho, 0.8, 1.2) A) + beta (exp(ref - logp) -
           (ref - logp) - 1), beta 0.04; 'grpo' aggregation (mean over each
           completion's tokens, then over completions); advantages (r - group
           mean) / (group std + 1e-4) of random 0/1 rewards; the mean entropy of
           the policy is computed as r1-grpo reports it (no grad).

Both forwards batch the sequences right-padded as [b, T] (sorted by length so
padding stays small) with one causal mask, and apply the LM head only at the
positions that predict completion tokens (TRL's logits_to_keep). The policy
and the reference are separate copies of the same weights, as bench_grpo.sh
gives r1-grpo.

Prints one JSON line: {"impl":"pytorch","rollout_s":..,"ref_s":..,"update_s":..,
"total_s":..,"tokens":..,...}.
"""
import argparse
import json
import math
import os
import sqlite3
import struct
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "tests", "ref"))
# As bench_decode_torch (which sets it too): before torch loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import bench_decode_torch as bd  # noqa: E402
import model_ref as ref  # noqa: E402
from bench_model_torch import bench_config  # noqa: E402

NEG = float("-inf")


def read_step(db, step):
    """([prompt ids of each prompt], [[r1c completion length of each sample]])."""
    con = sqlite3.connect(db)
    rows = con.execute("SELECT prompt_id, prompt_ids, n_tokens FROM rollouts WHERE step = ? "
                       "ORDER BY prompt_id, sample", (step,)).fetchall()
    con.close()
    if not rows:
        sys.exit(f"bench_grpo_torch: {db}: no rollouts at step {step}")
    prompts, lengths, last = [], [], None
    for pid, blob, n in rows:
        if pid != last:
            prompts.append(list(struct.unpack(f"<{len(blob) // 4}i", blob)))
            lengths.append([])
            last = pid
        lengths[-1].append(n)
    return prompts, lengths


def attend_masked(q, k, v, mask):
    """bench_decode_torch.attend with a per-row additive mask [B, 1, T, L]:
    the rep query heads of a KV group are stacked along T, so the mask is
    repeated along T to match."""
    B, nh, T, hd = q.shape
    nkv = k.shape[1]
    rep = nh // nkv
    qg = q.reshape(B, nkv, rep * T, hd)
    if T > 1:
        mask = mask.repeat(1, 1, rep, 1)
    if bd.SDPA is not None:
        out = bd.SDPA(qg, k, v, attn_mask=mask)
    else:
        scores = torch.matmul(qg, k.transpose(2, 3)) * (1.0 / math.sqrt(hd)) + mask
        out = torch.matmul(torch.softmax(scores, dim=-1), v)
    return out.view(B, nh, T, hd)


class PaddedDecoder(bd.Decoder):
    """bench_decode_torch.Decoder for left-padded prompts: row b starts with
    pad[b] padding slots that no query attends to; its positions count from its
    first real token (transformers' position_ids = cumsum(attention_mask) - 1)."""

    def __init__(self, cfg, params, pad, max_len):
        super().__init__(cfg, params, len(pad), max_len)
        self.pad = pad
        cols = torch.arange(max_len)
        self.keymask = torch.zeros(len(pad), max_len).masked_fill(cols[None] < pad[:, None], NEG)

    def forward(self, ids, pos):
        B, T = ids.shape
        nh, nkv, hd, eps = self.nh, self.nkv, self.hd, self.eps
        end = pos + T
        p = (torch.arange(pos, end)[None] - self.pad[:, None]).clamp(min=0)  # [B, T]
        cos, sin = self.cos[p][:, None], self.sin[p][:, None]  # [B, 1, T, hd]
        mask = self.keymask[:, None, None, :end]  # [B, 1, 1, end]
        if T > 1:  # prefill: causal, padding hidden, the diagonal always visible (no NaN rows)
            mask = mask + torch.full((T, end), NEG).triu(pos + 1)
            t = torch.arange(T)
            mask[:, :, t, pos + t] = 0.0
        x = F.embedding(ids, self.embed)
        for (n1, wqkv, bqkv, wo, n2, wgu, wd), (kc, vc) in zip(self.layers, self.cache):
            qkv = F.linear(ref.rms_norm(x, n1, eps), wqkv, bqkv).view(B, T, nh + 2 * nkv, hd)
            q, k, v = qkv.transpose(1, 2).split([nh, nkv, nkv], dim=1)
            kc[:, :, pos:end] = bd.rope(k, cos, sin)
            vc[:, :, pos:end] = v
            o = attend_masked(bd.rope(q, cos, sin), kc[:, :, :end], vc[:, :, :end], mask)
            x = x + F.linear(o.transpose(1, 2).reshape(B, T, nh * hd), wo)
            gate, up = F.linear(ref.rms_norm(x, n2, eps), wgu).chunk(2, dim=-1)
            x = x + F.linear(F.silu(gate) * up, wd)
        return F.linear(ref.rms_norm(x[:, -1], self.norm, eps), self.head)


def rollout(cfg, params, seqs, new_of, gen_batch, gen):
    """seqs: prompt ids of each sequence; new_of: tokens to decode for each.
    Returns (completions, their sampled log-probs, prefill_s, decode_s)."""
    comps, lps, prefill_s, decode_s = [], [], 0.0, 0.0
    for at in range(0, len(seqs), gen_batch):
        batch = seqs[at:at + gen_batch]
        N = max(new_of[at:at + gen_batch])
        P = max(len(s) for s in batch)
        pad = torch.tensor([P - len(s) for s in batch])
        ids = torch.tensor([[0] * (P - len(s)) + s for s in batch])
        model = PaddedDecoder(cfg, params, pad, P + N)
        tokens, logp, t_pre, t_dec, _ = bd.generate(model, ids, N, gen)
        prefill_s, decode_s = prefill_s + t_pre, decode_s + t_dec
        for i in range(len(batch)):
            n = new_of[at + i]
            comps.append(tokens[i, P:P + n].tolist())
            lps.append(logp[i, :n].clone())
    return comps, lps, prefill_s, decode_s


class Policy:
    """The decoder as fused parameter leaves (one q|k|v and one gate|up matrix
    a layer, as bench_decode_torch.fuse and as r1c stores them)."""

    def __init__(self, cfg, params, grad):
        self.cfg, self.eps = cfg, cfg["rms_norm_eps"]
        self.nh, self.nkv, self.hd = cfg["num_attention_heads"], ref.n_kv_heads(cfg), ref.head_dim(cfg)
        lay = [[t.detach().clone() if t is not None else None for t in l] for l in bd.fuse(cfg, params)]
        self.layers = lay
        self.embed = params["model.embed_tokens.weight"].detach().clone()
        self.norm = params["model.norm.weight"].detach().clone()
        # tied embeddings (SmolLM2): one leaf, its gradient the sum of both uses, as r1c's
        tied = ref.is_tied(cfg)
        self.head = self.embed if tied else ref.lm_head(cfg, params).detach().clone()
        self.params = [self.embed, self.norm] + ([] if tied else [self.head])
        self.params += [t for l in lay for t in l if t is not None]
        for t in self.params:
            t.requires_grad_(grad)

    def logits(self, ids, sel):
        """ids [B, T] (each row from position 0, right-padded); logits [N, V]
        of the flat positions sel of [B * T] only."""
        B, T = ids.shape
        nh, nkv, hd, eps = self.nh, self.nkv, self.hd, self.eps
        cos, sin = ref.rope_tables(self.cfg, torch.arange(T), torch.float32)
        mask = ref.causal_mask(T, torch.float32)
        x = F.embedding(ids, self.embed)
        for n1, wqkv, bqkv, wo, n2, wgu, wd in self.layers:
            qkv = F.linear(ref.rms_norm(x, n1, eps), wqkv, bqkv).view(B, T, nh + 2 * nkv, hd)
            q, k, v = qkv.transpose(1, 2).split([nh, nkv, nkv], dim=1)
            o = bd.attend(bd.rope(q, cos, sin), bd.rope(k, cos, sin), v, mask)
            x = x + F.linear(o.transpose(1, 2).reshape(B, T, nh * hd), wo)
            gate, up = F.linear(ref.rms_norm(x, n2, eps), wgu).chunk(2, dim=-1)
            x = x + F.linear(F.silu(gate) * up, wd)
        h = x.reshape(B * T, -1)[sel]
        return F.linear(ref.rms_norm(h, self.norm, eps), self.head)


def micro_batches(seqs, comps, budget):
    """Micro-batches of sequence indices, sorted by length, each at most budget
    padded tokens (at least one sequence). A sequence is prompt + completion but
    its last token."""
    lens = [len(s) + len(c) - 1 for s, c in zip(seqs, comps)]
    order = sorted(range(len(seqs)), key=lambda i: lens[i])
    out, cur = [], []
    for i in order:
        if cur and (len(cur) + 1) * max(lens[j] for j in cur + [i]) > budget:
            out.append(cur)
            cur = []
        cur.append(i)
    return out + [cur] if cur else out


def pack(seqs, comps, idx):
    """ids [b, T] right-padded, sel (flat positions predicting completion tokens,
    in order), targets, and the completion lengths."""
    T = max(len(seqs[i]) + len(comps[i]) - 1 for i in idx)
    ids = torch.zeros(len(idx), T, dtype=torch.long)
    sel, tgt, ns = [], [], []
    for r, i in enumerate(idx):
        s, c = seqs[i], comps[i]
        row = s + c[:-1]
        ids[r, :len(row)] = torch.tensor(row)
        sel.extend(r * T + len(s) - 1 + j for j in range(len(c)))
        tgt.extend(c)
        ns.append(len(c))
    return ids, torch.tensor(sel), torch.tensor(tgt), ns


def token_logp(logits, tgt):
    lse = torch.logsumexp(logits, dim=-1)
    return logits.gather(1, tgt[:, None])[:, 0] - lse, lse


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--db", required=True, help="the run database r1-rollout wrote")
    ap.add_argument("--step", type=int, default=0)
    ap.add_argument("--max-new-tokens", type=int, default=128)
    ap.add_argument("--lengths", choices=("r1c", "max"), default="r1c",
                    help="completion lengths: r1c's (from the database) or all --max-new-tokens")
    ap.add_argument("--gen-batch", type=int, default=64, help="sequences decoded together")
    ap.add_argument("--micro-batch-tokens", type=int, default=4096)
    ap.add_argument("--beta", type=float, default=0.04)
    ap.add_argument("--epsilon", type=float, default=0.2)
    ap.add_argument("--lr", type=float, default=1e-6)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--model", help="a Hugging Face model directory (default: the bench model, "
                    "random weights)")
    args = ap.parse_args()

    threads = os.cpu_count()
    torch.set_num_threads(threads)
    torch.manual_seed(args.seed)
    if args.model:
        cfg, loaded = ref.load(args.model)
        loaded = {k: v.float() for k, v in loaded.items()}
    else:
        cfg, loaded = bench_config(), None
    prompts, lengths = read_step(args.db, args.step)
    G = len(lengths[0])
    seqs = [p for p, ls in zip(prompts, lengths) for _ in ls]
    if args.lengths == "r1c":
        new_of = [n for ls in lengths for n in ls]
    else:
        new_of = [args.max_new_tokens] * len(seqs)
    policy_init = loaded if loaded is not None else ref.init_params(cfg, args.seed, torch.float32)
    gen = torch.Generator().manual_seed(args.seed)

    # Warm-up (allocations, thread pools): a short generation and a tiny step's forward.
    bd.generate(PaddedDecoder(cfg, policy_init, torch.tensor([0]), 8), torch.tensor([seqs[0][:4]]), 4, gen)

    # -- rollout
    t0 = time.perf_counter()
    comps, old, prefill_s, decode_s = rollout(cfg, policy_init, seqs, new_of, args.gen_batch, gen)
    rollout_s = time.perf_counter() - t0
    tokens = sum(len(c) for c in comps)

    policy = Policy(cfg, policy_init, grad=True)
    reference = Policy(cfg, policy_init, grad=False)  # a copy of the policy, as in bench_grpo.sh
    del policy_init
    opt = torch.optim.AdamW(policy.params, lr=args.lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
    mbs = micro_batches(seqs, comps, args.micro_batch_tokens)
    packs = [pack(seqs, comps, idx) for idx in mbs]
    padded = sum(p[0].numel() for p in packs)

    # -- reference forward
    t0 = time.perf_counter()
    ref_lp = [None] * len(seqs)
    with torch.no_grad():
        for idx, (ids, sel, tgt, ns) in zip(mbs, packs):
            lp = token_logp(reference.logits(ids, sel), tgt)[0]
            for i, chunk in zip(idx, lp.split(ns)):
                ref_lp[i] = chunk.clone()
    ref_s = time.perf_counter() - t0

    # advantages of random 0/1 rewards, normalised within each group
    rewards = torch.randint(0, 2, (len(seqs) // G, G), generator=gen).float()
    adv = ((rewards - rewards.mean(1, keepdim=True)) / (rewards.std(1, keepdim=True) + 1e-4)).reshape(-1)

    # -- update: one minibatch of all completions, accumulated over micro-batches
    t0 = time.perf_counter()
    opt.zero_grad(set_to_none=True)
    n_comp, loss_sum, ent_sum = len(seqs), 0.0, 0.0
    for idx, (ids, sel, tgt, ns) in zip(mbs, packs):
        logits = policy.logits(ids, sel)
        logp, lse = token_logp(logits, tgt)
        with torch.no_grad():
            ent_sum += float((lse - (torch.softmax(logits, dim=-1) * logits).sum(-1)).sum())
        old_t = torch.cat([old[i] for i in idx])
        ref_t = torch.cat([ref_lp[i] for i in idx])
        a = torch.cat([adv[i].expand(n) for i, n in zip(idx, ns)])
        w = torch.cat([torch.full((n,), 1.0 / (n_comp * n)) for n in ns])  # grpo aggregation
        rho = torch.exp(logp - old_t)
        surr = torch.min(rho * a, torch.clamp(rho, 1 - args.epsilon, 1 + args.epsilon) * a)
        d = ref_t - logp
        kl = torch.exp(d) - d - 1
        loss = (w * (-surr + args.beta * kl)).sum()
        loss.backward()
        loss_sum += float(loss)
    grad_norm = float(torch.nn.utils.clip_grad_norm_(policy.params, 1.0))
    opt.step()
    update_s = time.perf_counter() - t0

    result = {
        "impl": "pytorch",
        "rollout_s": rollout_s,
        "ref_s": ref_s,
        "update_s": update_s,
        "total_s": rollout_s + ref_s + update_s,
        "tokens": tokens,
        "prefill_s": prefill_s,
        "decode_s": decode_s,
        "completions": len(seqs),
        "lengths": args.lengths,
        "gen_batch": args.gen_batch,
        "micro_batches": len(mbs),
        "padded_tokens": padded,
        "loss": loss_sum,
        "entropy": ent_sum / tokens,
        "grad_norm": grad_norm,
        "threads": threads,
        "torch": torch.__version__,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
