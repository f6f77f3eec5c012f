#!/usr/bin/env python3
"""The PyTorch + transformers side of bench-cuda: the same config, random
weights, the same sizes as bench_cuda. Prints one JSON object per mode.

  bench_cuda_torch.py --config FILE decode [--seqs 256] [--prompt 64] [--new 512]
  bench_cuda_torch.py --config FILE train  [--seqs 8] [--len 2048] [--steps 4]

decode: model.generate, bf16 weights, greedy, every sequence runs to --new
tokens (no EOS), sdpa attention. train: float32 master weights under bf16
autocast, fused AdamW, the cross-entropy of next tokens (what mixed-precision
training in PyTorch usually is)."""
import argparse
import json
import time

import torch
import transformers


def model_from(config_path, dtype):
    cfg = transformers.AutoConfig.from_pretrained(config_path)
    torch.manual_seed(0)
    with torch.device("cuda"):
        try:
            model = transformers.AutoModelForCausalLM.from_config(
                cfg, dtype=dtype, attn_implementation="sdpa")
        except TypeError:  # transformers 4 names it torch_dtype
            model = transformers.AutoModelForCausalLM.from_config(
                cfg, torch_dtype=dtype, attn_implementation="sdpa")
    return model.eval() if dtype == torch.bfloat16 else model.train()


def decode(args):
    model = model_from(args.config, torch.bfloat16)
    V = model.config.vocab_size
    ids = torch.tensor([[(s * 7919 + j * 104729) % V for j in range(args.prompt)]
                        for s in range(args.seqs)], device="cuda")
    mask = torch.ones_like(ids)
    kw = dict(do_sample=False, max_new_tokens=args.new, min_new_tokens=args.new,
              pad_token_id=0, eos_token_id=None)
    with torch.inference_mode():
        model.generate(ids, attention_mask=mask, **dict(kw, max_new_tokens=8, min_new_tokens=8))
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        out = model.generate(ids, attention_mask=mask, **kw)
        torch.cuda.synchronize()
        secs = time.perf_counter() - t0
    tokens = (out.shape[1] - args.prompt) * args.seqs
    print(json.dumps({"mode": "decode", "impl": "transformers", "seqs": args.seqs,
                      "tokens": tokens, "seconds": round(secs, 3),
                      "tokens_per_s": round(tokens / secs, 1),
                      "transformers": transformers.__version__, "torch": torch.__version__}))


def train(args):
    model = model_from(args.config, torch.float32)
    V = model.config.vocab_size
    T = args.seqs * args.len
    ids = (torch.arange(T, device="cuda", dtype=torch.int64) * 2654435761 % V).view(args.seqs, args.len)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5, betas=(0.9, 0.95), weight_decay=0.1,
                            fused=True)
    def step():
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return loss
    step()
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(args.steps):
        loss = step()
    torch.cuda.synchronize()
    secs = (time.perf_counter() - t0) / args.steps
    print(json.dumps({"mode": "train", "impl": "transformers", "seqs": args.seqs, "len": args.len,
                      "seconds_per_step": round(secs, 4), "tokens_per_s": round(T / secs, 1),
                      "loss": round(loss.item(), 4),
                      "gpu_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2)}))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", required=True)
    ap.add_argument("mode", choices=["decode", "train"])
    ap.add_argument("--seqs", type=int)
    ap.add_argument("--prompt", type=int, default=64)
    ap.add_argument("--new", type=int, default=512)
    ap.add_argument("--len", type=int, default=2048)
    ap.add_argument("--steps", type=int, default=4)
    args = ap.parse_args()
    if args.seqs is None:
        args.seqs = 256 if args.mode == "decode" else 8
    (decode if args.mode == "decode" else train)(args)


if __name__ == "__main__":
    main()
