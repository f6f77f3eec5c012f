"""PyTorch baseline for bench_model: the same Qwen2-shaped decoder timed in
PyTorch float32 on the CPU.

It runs tests/ref/model_ref.py's decoder, the one the C model is tested against,
in float32 with batched [B, T] tensors, F.linear matmuls and one additive
causal mask: the formulation of transformers' eager attention, so a fair
baseline and not a deliberately slow one. Weights are random (init_params);
speed does not depend on their values.

Prints one JSON line: {"impl":"pytorch","fwd_tok_s":..,"fwdbwd_tok_s":..,...}.
"""
import argparse
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "ref"))

import torch  # noqa: E402

import model_ref as ref  # noqa: E402


def bench_config():
    """Qwen2-shaped, ~22M parameters outside the (untied) 32000-token embedding
    and head; the shape bench_model uses."""
    return dict(model_type="qwen2", hidden_size=512, num_hidden_layers=8, num_attention_heads=8,
                num_key_value_heads=2, intermediate_size=1408, vocab_size=32000,
                max_position_embeddings=4096, rms_norm_eps=1e-6, rope_theta=1000000.0,
                tie_word_embeddings=False, initializer_range=0.02, hidden_act="silu",
                torch_dtype="float32", rope_scaling=None)


def median_seconds(fn, iters):
    fn()  # warmup: first-touch allocations, thread pool start-up
    times = []
    for _ in range(iters):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--iters", type=int, default=3)
    args = ap.parse_args()

    threads = os.cpu_count()
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    cfg = bench_config()
    params = {n: t.requires_grad_() for n, t in ref.init_params(cfg, 0, torch.float32).items()}
    shape = (args.batch, args.seq)
    ids = torch.randint(cfg["vocab_size"], shape)
    targets = torch.randint(cfg["vocab_size"], shape)

    def loss():
        return ref.cross_entropy(ref.decoder(cfg, params, ids), targets)

    def fwd():
        with torch.no_grad():
            loss()

    def fwdbwd():
        for t in params.values():  # as zero_grad(set_to_none=True) in a training step
            t.grad = None
        loss().backward()

    tokens = args.batch * args.seq
    result = {
        "impl": "pytorch",
        "fwd_tok_s": tokens / median_seconds(fwd, args.iters),
        "fwdbwd_tok_s": tokens / median_seconds(fwdbwd, args.iters),
        "params": sum(t.numel() for t in params.values()),
        "threads": threads,
        "torch": torch.__version__,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
