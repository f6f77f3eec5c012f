"""PyTorch baseline for the SFT benchmark (bench/bench_sft.sh): bin/r1-sft's
packed training steps in PyTorch float32 on the CPU, on the bench model's shape
(bench_model_torch.bench_config).

The samples are r1-sft's: the sft_samples of --kind in the run database, in id
order, rendered and tokenized by `r1-model tokenize --messages` (the chat
template and assistant mask r1-sft uses, through the same C code), each cut to
--max-len tokens. Targets are r1-sft's: position t predicts token t + 1 when
that token is an assistant token (-100 otherwise, and at each sample's last
position); a sample with no target is dropped.

Batches as `r1-sft --pack`: the samples in a seeded shuffled order, filled
greedily, a new batch started when the next sample would take it past
--batch-tokens. (The shuffle is Python's, not r1c's, so the batches hold other
samples than r1c's, drawn from the same lengths.) A batch is one packed row
[1, T] with no padding; each sample keeps its own positions (RoPE restarts at
0) and sees only itself (DeepSeek-V3's sample masking), as r1c does it. Two
ways to mask, --attn:
  segments  (default) attention per sample, each with its own causal additive
            mask: only the pairs within a sample are computed, as r1c does (and
            as varlen flash attention does on a GPU). The faster of the two here.
  mask      one block-diagonal causal additive mask [T, T] over the whole row,
            the 4D-mask formulation of tests/ref/model_ref.py's decoder (and
            transformers' eager attention with a packed mask): scores for all
            T x T pairs, those across samples masked.
The decoder is model_ref's in float32 with one q|k|v and one gate|up matrix a
layer (bench_decode_torch.fuse, as r1c stores them; grouped KV heads without
copies, bench_decode_torch.attend); logits for every position, as r1c computes
them. One step: forward, mean cross-entropy over the batch's targets,
backward, clip of the global gradient norm to 1.0, torch.optim.AdamW step
(betas 0.9, 0.95, eps 1e-8, weight decay 0.1, r1-sft's defaults) at a cosine
learning rate, as r1-sft.

Weights: --model DIR (the checkpoint r1-sft starts from) or random.
--check DUMP compares the loss and per-sample losses of the first batch of
`r1-sft --dry-run --dump DUMP` (same weights, same samples) with this script's
forward: the proof that both sides train on the same tokens and targets.

Timing: one warm-up step, then --steps steps (cycling over the batches if there
are fewer), each timed alone. tokens_s counts every token of the timed batches
(prompt tokens included: the count r1-sft's tokens_per_s uses) over their total
time; median_tokens_s is the median of the per-step rates.

Prints one JSON line: {"impl":"pytorch","tokens_s":..,"steps":..,...}.
"""
import argparse
import json
import math
import os
import random
import sqlite3
import statistics
import subprocess
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

IGNORE = ref.IGNORE_INDEX
KINDS = ("cold_start", "reasoning", "non_reasoning", "distill")


def read_samples(db, kinds, r1_bin, tokenizer, max_len):
    """[(db id, token ids, targets)] as r1-sft prepares them."""
    for k in kinds:
        if k not in KINDS:
            sys.exit(f"bench_sft_torch: --kind: '{k}' is not one of {', '.join(KINDS)}")
    con = sqlite3.connect(db)
    rows = con.execute(f"SELECT id, messages FROM sft_samples WHERE kind IN "
                       f"({','.join('?' * len(kinds))}) ORDER BY id", kinds).fetchall()
    con.close()
    if not rows:
        sys.exit(f"bench_sft_torch: {db}: no sft_samples of kind {','.join(kinds)}")
    # One line a sample: the messages array, re-serialised on one line (the text,
    # not the serialisation, is what the template renders).
    lines = "".join(json.dumps(json.loads(m), ensure_ascii=False) + "\n" for _, m in rows)
    out = subprocess.run([os.path.join(r1_bin, "r1-model"), "tokenize", "--tokenizer", tokenizer,
                          "--messages"], input=lines.encode(), stdout=subprocess.PIPE, check=True)
    enc = [json.loads(l) for l in out.stdout.decode().splitlines() if l.strip()]
    if len(enc) != len(rows):
        sys.exit(f"bench_sft_torch: r1-model tokenize returned {len(enc)} results for {len(rows)} samples")
    samples = []
    for (sid, _), e in zip(rows, enc):
        ids, mask = e["ids"][:max_len], e["assistant_mask"]
        n = len(ids)
        tgt = [ids[t + 1] if t + 1 < n and mask[t + 1] else IGNORE for t in range(n)]
        if any(t != IGNORE for t in tgt):
            samples.append((sid, ids, tgt))
    return samples


def plan(samples, batch_tokens, seed):
    """Batches (lists of sample indices) as r1-sft --pack: shuffled, filled greedily."""
    order = list(range(len(samples)))
    random.Random(seed).shuffle(order)
    batches, tokens = [], 0
    for i in order:
        n = len(samples[i][1])
        if not batches or tokens + n > batch_tokens:
            batches.append([])
            tokens = 0
        batches[-1].append(i)
        tokens += n
    return batches


class Packed:
    """The decoder over one packed row of samples, fused parameter leaves."""

    def __init__(self, cfg, params, max_len, attn):
        self.cfg, self.eps, self.attn = cfg, cfg["rms_norm_eps"], attn
        self.nh, self.nkv, self.hd = cfg["num_attention_heads"], ref.n_kv_heads(cfg), ref.head_dim(cfg)
        self.layers = [[t.detach().clone() if t is not None else None for t in l]
                       for l in bd.fuse(cfg, params)]
        self.embed = params["model.embed_tokens.weight"].detach().clone()
        self.norm = params["model.norm.weight"].detach().clone()
        self.head = ref.lm_head(cfg, params).detach().clone()
        self.params = [self.embed, self.norm, self.head] + [t for l in self.layers for t in l
                                                            if t is not None]
        for t in self.params:
            t.requires_grad_(True)
        self.cos, self.sin = ref.rope_tables(cfg, torch.arange(max_len), torch.float32)

    def batch(self, lens):
        """Per-row inputs for samples of lengths lens: RoPE tables at each sample's
        own positions, and the mask (block-diagonal causal [T, T]) or the
        segment bounds with one causal mask per distinct length."""
        pos = torch.cat([torch.arange(n) for n in lens])
        cos, sin = self.cos[pos], self.sin[pos]
        if self.attn == "mask":
            T = sum(lens)
            seg = torch.repeat_interleave(torch.arange(len(lens)), torch.tensor(lens))
            t = torch.arange(T)
            ok = (seg[:, None] == seg[None, :]) & (t[None, :] <= t[:, None])
            mask = torch.zeros(T, T).masked_fill(~ok, float("-inf"))
            return cos, sin, mask
        bounds, at = [], 0
        masks = {n: ref.causal_mask(n, torch.float32) for n in set(lens)}
        for n in lens:
            bounds.append((at, at + n, masks[n]))
            at += n
        return cos, sin, bounds

    def logits(self, ids, inputs):
        """ids [1, T]; logits [T, V]."""
        cos, sin, how = inputs
        B, T = ids.shape
        nh, nkv, hd, eps = self.nh, self.nkv, self.hd, self.eps
        x = F.embedding(ids, self.embed)
        for n1, wqkv, bqkv, wo, n2, wgu, wd in self.layers:
            qkv = F.linear(ref.rms_norm(x, n1, eps), wqkv, bqkv).view(B, T, nh + 2 * nkv, hd)
            q, k, v = qkv.transpose(1, 2).split([nh, nkv, nkv], dim=1)
            q, k = bd.rope(q, cos, sin), bd.rope(k, cos, sin)
            if self.attn == "mask":
                o = bd.attend(q, k, v, how)
            else:
                o = torch.cat([bd.attend(q[:, :, a:b], k[:, :, a:b], v[:, :, a:b], m)
                               for a, b, m in how], dim=2)
            x = x + F.linear(o.transpose(1, 2).reshape(B, T, nh * hd), wo)
            gate, up = F.linear(ref.rms_norm(x, n2, eps), wgu).chunk(2, dim=-1)
            x = x + F.linear(F.silu(gate) * up, wd)
        return F.linear(ref.rms_norm(x[0], self.norm, eps), self.head)


def make_batch(samples, idx):
    ids = torch.tensor([[t for i in idx for t in samples[i][1]]])
    tgt = torch.tensor([t for i in idx for t in samples[i][2]])
    return ids, tgt, [len(samples[i][1]) for i in idx]


def check(model, samples, dump):
    """|loss - r1c's| and the largest per-sample difference on r1-sft's first batch."""
    from safetensors.torch import load_file

    d = load_file(dump)
    where = {s[0]: i for i, s in enumerate(samples)}
    idx = [where[int(round(float(x)))] for x in d["sample_ids"]]
    ids, tgt, lens = make_batch(samples, idx)
    with torch.no_grad():
        ce = F.cross_entropy(model.logits(ids, model.batch(lens)), tgt, ignore_index=IGNORE,
                             reduction="none")
    loss = float(ce.sum() / (tgt != IGNORE).sum())
    per, at = [], 0
    for n in lens:
        per.append(float(ce[at:at + n].sum() / (tgt[at:at + n] != IGNORE).sum()))
        at += n
    return {"check_loss": loss, "check_r1c_loss": float(d["loss"][0]),
            "check_loss_diff": abs(loss - float(d["loss"][0])),
            "check_sample_diff": max(abs(a - float(b)) for a, b in zip(per, d["sample_loss"])),
            "check_samples": len(idx)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--db", required=True, help="the run database with the sft_samples")
    ap.add_argument("--kind", default="reasoning", help="kinds, comma-separated (as r1-sft)")
    ap.add_argument("--tokenizer", required=True, help="the directory of the tokenizer r1-sft uses")
    ap.add_argument("--model", help="initial weights (a checkpoint directory); default random")
    ap.add_argument("--r1-bin", default=os.path.join(HERE, "..", "bin"))
    ap.add_argument("--batch-tokens", type=int, default=2048)
    ap.add_argument("--max-len", type=int, default=2048)
    ap.add_argument("--steps", type=int, default=8, help="timed steps, after one warm-up step")
    ap.add_argument("--attn", choices=("segments", "mask"), default="segments")
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--check", metavar="DUMP", help="r1-sft --dry-run --dump file to compare with")
    args = ap.parse_args()

    threads = os.cpu_count()
    torch.set_num_threads(threads)
    torch.manual_seed(args.seed)
    samples = read_samples(args.db, args.kind.split(","), args.r1_bin, args.tokenizer, args.max_len)
    batches = plan(samples, args.batch_tokens, args.seed)
    if args.model:
        cfg, params = ref.load(args.model)
        cfg.setdefault("rope_scaling", None)
        params = {k: v.float() for k, v in params.items()}
    else:
        cfg = bench_config()
        params = ref.init_params(cfg, args.seed, torch.float32)
    model = Packed(cfg, params, args.max_len, args.attn)
    del params
    result = {"impl": "pytorch", "attn": args.attn}
    if args.check:
        result.update(check(model, samples, args.check))

    opt = torch.optim.AdamW(model.params, lr=args.lr, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1)
    total = 1 + args.steps
    # r1-sft's cosine: from lr down to 0.1 lr over the run's steps.
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(s, total) / total)))
    # Everything a step needs but the step itself (token tensors, masks) is built
    # outside the timed region, as r1-sft builds its batches before timing.
    prepared = []
    for s in range(total):
        ids, tgt, lens = make_batch(samples, batches[s % len(batches)])
        prepared.append((ids, tgt, model.batch(lens)))

    times, tokens, losses = [], [], []
    for s, (ids, tgt, inputs) in enumerate(prepared):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model.logits(ids, inputs), tgt, ignore_index=IGNORE)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(model.params, 1.0)
        opt.step()
        sched.step()
        dt = time.perf_counter() - t0
        if s > 0:  # step 0 is the warm-up
            times.append(dt)
            tokens.append(ids.shape[1])
            losses.append(float(loss))
        if not math.isfinite(float(loss)) or not math.isfinite(float(norm)):
            sys.exit(f"bench_sft_torch: step {s + 1}: loss {float(loss)}, gradient norm {float(norm)}")

    result.update({
        "tokens_s": sum(tokens) / sum(times),
        "median_tokens_s": statistics.median(n / t for n, t in zip(tokens, times)),
        "steps": len(times),
        "tokens": sum(tokens),
        "seconds": sum(times),
        "batches": len(batches),
        "samples": len(samples),
        "mean_batch_tokens": sum(len(s[1]) for s in samples) / len(batches),
        "samples_per_batch": len(samples) / len(batches),
        "last_loss": losses[-1],
        "weights": "model" if args.model else "random",
        "threads": threads,
        "torch": torch.__version__,
    })
    print(json.dumps(result))


if __name__ == "__main__":
    main()
