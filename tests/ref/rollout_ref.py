"""Float64 PyTorch check of bin/r1-rollout's rows (used by tests/test_rollout.sh).

The C sampler stores, for every completion token, log softmax(logits / T) of the
full distribution (top-k / top-p only choose the token). Here the logits come
from tests/ref/model_ref.py in float64, computed over prompt_ids + the
completion ids before the token (one causal forward per rollout gives all of
them), independently of the C KV cache.

    rollout_ref.py perturb MODEL_DIR SEED
        gives the checkpoint's norm weights and biases random values (init
        writes ones and zeros, which would hide a bias or norm left out of
        decoding); rewrites model.safetensors in place.
    rollout_ref.py sampled DB MODEL_DIR STEP TEMPERATURE TOP_K MAX_NEW TOL
        every rollout of STEP: stored logprobs vs the reference log_softmax at
        TEMPERATURE (max abs error <= TOL), each sampled token among the TOP_K
        most likely of the reference, finish_reason consistent with the ids, and
        text equal to the tokenizer's decoding of the ids.
    rollout_ref.py greedy DB MODEL_DIR STEP MAX_NEW TOL
        rollouts made with --temperature 0: the reference decodes greedily by
        full recomputation (argmax over the float64 logits of prompt + tokens so
        far, no cache) up to the stored length or an EOS id, and must give the
        same ids (where the top two logits are within TIE, either is accepted);
        stored logprobs vs log_softmax at T = 1.
Each prints PASS:/FAIL: lines and exits non-zero when anything failed.
"""
import json
import os
import sqlite3
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import model_ref as ref  # noqa: E402
import refutil  # noqa: E402
from refutil import ints, report  # noqa: E402

torch.set_num_threads(min(2, os.cpu_count() or 1))
TIE = 1e-4  # logits closer than this may order differently in float32: either is greedy


def rows(db, step):
    con = sqlite3.connect(db)
    con.text_factory = bytes  # text may hold bytes that are not UTF-8 (see check_text)
    out = con.execute(
        "SELECT id, prompt_id, sample, prompt_ids, completion_ids, logprobs, text, finish_reason, "
        "n_tokens FROM rollouts WHERE step = ? ORDER BY id", (step,)).fetchall()
    con.close()
    return [dict(id=r[0], prompt=r[1], sample=r[2], pids=ints(r[3]), ids=ints(r[4]),
                 lps=torch.tensor(refutil.floats(r[5]), dtype=torch.float64), text=r[6], finish=r[7].decode(), n=r[8]) for r in out]


def eos_ids(model_dir, cfg):
    """The config's eos_token_id(s) and the tokenizer's eos_token."""
    e = cfg.get("eos_token_id")
    ids = set(e if isinstance(e, list) else [] if e is None else [e])
    try:
        with open(os.path.join(model_dir, "tokenizer_config.json")) as f:
            name = json.load(f).get("eos_token")
        if isinstance(name, dict):
            name = name.get("content")
        with open(os.path.join(model_dir, "tokenizer.json")) as f:
            tok = json.load(f)
        for t in tok.get("added_tokens", []):
            if t["content"] == name:
                ids.add(t["id"])
    except OSError:
        pass
    return ids


def decoder(model_dir):
    """ids -> text as the tokenizers library decodes without special tokens, or
    None when the library is missing."""
    try:
        from tokenizers import Tokenizer
    except ImportError:
        return None
    tok = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
    return lambda ids: tok.decode(ids, skip_special_tokens=True)


def check_shape(rs, what):
    bad = [r["id"] for r in rs if not (r["n"] == len(r["ids"]) == len(r["lps"]) >= 1
                                       and r["finish"] in ("stop", "length"))]
    report(rs and not bad, f"{what}: {len(rs)} rows, n_tokens = ids = logprobs",
           f"bad rows {bad[:5]}" if bad else "")
    return rs and not bad


def check_finish(rs, eos, max_new, what):
    """'stop' rows end with an EOS id (no stop strings here); 'length' rows are
    max_new long; no row holds an EOS id before its end."""
    bad = []
    for r in rs:
        early = any(t in eos for t in r["ids"][:-1])
        if early or (r["finish"] == "stop") != (r["ids"][-1] in eos) or \
                (r["finish"] == "length" and r["n"] != max_new):
            bad.append((r["id"], r["finish"], r["n"]))
    n_stop = sum(r["finish"] == "stop" for r in rs)
    report(not bad, f"{what}: finish_reason agrees with EOS ids {sorted(eos)} and max_new {max_new}",
           f"({n_stop} stop)" + (f" bad {bad[:5]}" if bad else ""))


def check_text(rs, decode, what):
    """The stored text is valid UTF-8 (bytes of an incomplete character become
    U+FFFD) and equals the tokenizers library's decoding of the ids."""
    invalid = 0
    for r in rs:
        try:
            r["text"].decode("utf-8")
        except UnicodeDecodeError:
            invalid += 1
    report(not invalid, f"{what}: every text is valid UTF-8", f"({invalid} of {len(rs)} are not)")
    if decode is None:
        report(False, f"{what}: text vs tokenizers decode", "(no tokenizers module: run make deps)")
        return
    text = lambda r: r["text"].decode("utf-8", errors="replace")
    bad = [r["id"] for r in rs if decode(r["ids"]) != text(r)]
    detail = f"rows {bad[:5]}" if bad else ""
    if bad:
        r = next(x for x in rs if x["id"] == bad[0])
        detail += f" first: got {text(r)[:80]!r} want {decode(r['ids'])[:80]!r}"
    report(not bad, f"{what}: text equals the tokenizer's decoding of completion_ids", detail)


def sampled(db, model_dir, step, temperature, top_k, max_new, tol):
    cfg, params = ref.load(model_dir)
    name = f"{cfg['model_type']} sampled T={temperature:g} top-k={top_k}"
    rs = rows(db, step)
    if not check_shape(rs, name):
        return
    worst, rank_bad, n_tok = 0.0, [], 0
    for r in rs:
        P, n = len(r["pids"]), r["n"]
        logits = ref.forward(cfg, params, [r["pids"] + r["ids"]])[P - 1:P - 1 + n]
        lp_all = torch.log_softmax(logits / temperature, dim=-1)
        idx = torch.tensor(r["ids"])
        lp = lp_all[torch.arange(n), idx]
        worst = max(worst, float((lp - r["lps"]).abs().max()))
        n_tok += n
        if top_k > 0:
            # rank of the token: how many are clearly (beyond float32 noise) more likely
            chosen = logits[torch.arange(n), idx]
            rank = (logits > chosen[:, None] + 1e-4).sum(-1)
            for i in torch.nonzero(rank >= top_k).flatten().tolist():
                rank_bad.append((r["id"], i, int(rank[i])))
    report(worst <= tol, f"{name}: stored logprobs = float64 log_softmax(logits/T) "
           f"over {n_tok} tokens", f"max_abs_err={worst:.3g} (tol {tol:g})")
    if top_k > 0:
        report(not rank_bad, f"{name}: every sampled token is among the reference's top {top_k}",
               f"outside: {rank_bad[:5]}" if rank_bad else "")
    check_finish(rs, eos_ids(model_dir, cfg), max_new, name)
    check_text(rs, decoder(model_dir), name)


def greedy(db, model_dir, step, max_new, tol):
    cfg, params = ref.load(model_dir)
    name = f"{cfg['model_type']} greedy"
    rs = rows(db, step)
    if not check_shape(rs, name):
        return
    eos = eos_ids(model_dir, cfg)
    worst, mism, min_gap, n_tok, ties = 0.0, [], float("inf"), 0, 0
    for r in rs:
        gen, lps = [], []
        while len(gen) < max(r["n"], 1):
            logits = ref.forward(cfg, params, [r["pids"] + gen])[-1]  # no cache: all again
            top2 = torch.topk(logits, 2).values
            min_gap = min(min_gap, float(top2[0] - top2[1]))
            tok = int(torch.argmax(logits))
            i = len(gen)
            if i < r["n"] and r["ids"][i] != tok and float(top2[0] - logits[r["ids"][i]]) < TIE:
                tok, ties = r["ids"][i], ties + 1  # a float32 near-tie: follow the C choice
            gen.append(tok)
            lps.append(float(torch.log_softmax(logits, -1)[tok]))
            if tok in eos:
                break
        n_tok += len(gen)
        if gen != r["ids"]:
            first = next((i for i, (a, b) in enumerate(zip(gen, r["ids"])) if a != b),
                         min(len(gen), len(r["ids"])))
            mism.append((r["id"], first, len(gen), r["n"]))
            continue
        worst = max(worst, float((torch.tensor(lps, dtype=torch.float64) - r["lps"]).abs().max()))
    report(not mism, f"{name}: completions = reference greedy decoding by full recomputation "
           f"({len(rs)} rows, {n_tok} tokens)",
           f"min top-2 logit gap {min_gap:.3g}, near-ties followed {ties}" +
           (f"; differ (row, first position, ref len, stored len): {mism[:5]}" if mism else ""))
    report(worst <= tol and not mism, f"{name}: stored logprobs = float64 log_softmax(logits) (T=1)",
           f"max_abs_err={worst:.3g} (tol {tol:g})" +
           (f", over the {len(rs) - len(mism)} rows that agree" if mism else ""))
    check_finish(rs, eos, max_new, name)
    check_text(rs, decoder(model_dir), name)


def perturb(model_dir, seed):
    from safetensors.torch import load_file, save_file

    path = os.path.join(model_dir, "model.safetensors")
    params = load_file(path)
    gen = torch.Generator().manual_seed(seed)
    for n, t in params.items():
        if n.endswith("norm.weight"):
            params[n] = (1 + 0.3 * torch.randn(t.shape, generator=gen)).to(t.dtype)
        elif n.endswith(".bias"):
            params[n] = (0.2 * torch.randn(t.shape, generator=gen)).to(t.dtype)
    save_file(params, path, metadata={"format": "pt"})


def main(argv):
    if len(argv) == 3 and argv[0] == "perturb":
        perturb(argv[1], int(argv[2]))
        return 0
    if len(argv) == 8 and argv[0] == "sampled":
        sampled(argv[1], argv[2], int(argv[3]), float(argv[4]), int(argv[5]), int(argv[6]),
                float(argv[7]))
    elif len(argv) == 6 and argv[0] == "greedy":
        greedy(argv[1], argv[2], int(argv[3]), int(argv[4]), float(argv[5]))
    else:
        print(__doc__)
        return 2
    return refutil.status()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
