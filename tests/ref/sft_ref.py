"""Float64 PyTorch reference of bin/r1-sft's loss and gradients on one batch
(used by tests/test_sft_torch.sh).

Written from the definitions in sft/README.md, not from the C code. A sample is
the token ids and assistant mask that `r1-model tokenize --messages` prints for
its messages (the same chat template and tokenizer r1-sft uses, so the
reference needs no template of its own). Then:

    tokens   ids[:max_len]                                 (--max-len cuts)
    targets  t -> ids[t + 1] where t + 1 < len(tokens) and (mask[t + 1] == 1
             or --loss all), else ignored                  (next-token CE)
    a sample with no target at all takes no part (its assistant tokens all
    lie beyond --max-len)

A batch is a list of samples, each its own sequence (its own causal attention,
positions from 0: tests/ref/model_ref.py's forward over independent
sequences), and its loss is the mean cross-entropy over all target tokens of
the batch; each sample's loss is the mean over its own targets. Gradients come
from torch autograd of the batch loss in float64; with a gradient clip C > 0
they are scaled by min(1, C / (norm + 1e-6)) as torch.nn.utils.clip_grad_norm_
does (the global L2 norm over every parameter).

    sft_ref.py check CASES_FILE
        each line of CASES_FILE is one JSON object:
          {"name", "model", "dump", "tokens", "ids", "loss", "max_len",
           "max_grad_norm"}
            model: the checkpoint r1-sft started from; dump: its --dry-run
            --dump file; tokens: JSONL, one `r1-model tokenize --messages`
            output per sample; ids: the samples' database ids, one a line, in
            the same order; loss: "assistant" or "all". Checks that the dump
            holds exactly the samples with targets, then its loss, every
            sample_loss and every grad.<name> against the reference.
          {"name", "kind": "isolation", "model", "dump", "dump_changed",
           "tokens", "ids", "changed", "loss", "max_len"}
            dump_changed: the dry run of a database where sample `changed`
            differs; every other sample's sample_loss must be bit-identical in
            both dumps and equal to the reference loss of that sample forwarded
            alone.
    sft_ref.py --selftest
        the batch loss against the token-weighted mean of the per-sample
        losses, and the targets rule on a hand-made mask.
Prints PASS:/FAIL: lines; exits non-zero when anything failed.
"""
import json
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import model_ref as ref  # noqa: E402

IGNORE = ref.IGNORE_INDEX
LOSS_TOL, SAMPLE_TOL, GRAD_TOL = 1e-4, 1e-4, 1e-3
ok = True


# ---------------------------------------------------------------- definitions


def sample_targets(ids, mask, loss_all, max_len):
    """(tokens, targets) of one sample: cut to max_len, next-token targets on
    assistant tokens (or on every token), IGNORE elsewhere."""
    toks = list(ids[:max_len])
    n = len(toks)
    tgts = [toks[t + 1] if t + 1 < n and (loss_all or mask[t + 1]) else IGNORE for t in range(n)]
    return toks, tgts


def read_samples(tokens_path, ids_path):
    """{id: (ids, mask)} from the tokenize output and the ids file."""
    with open(ids_path) as f:
        ids = [int(x) for x in f.read().split()]
    with open(tokens_path) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    if len(ids) != len(rows):
        raise ValueError(f"{len(ids)} ids but {len(rows)} tokenized samples")
    out = {}
    for i, r in zip(ids, rows):
        if len(r["ids"]) != len(r["assistant_mask"]):
            raise ValueError(f"sample {i}: ids and assistant_mask lengths differ")
        out[i] = (r["ids"], r["assistant_mask"])
    return out


def batch(cfg, params, seqs, tgts, max_grad_norm=0.0):
    """(loss, [sample losses], {name: grad}, gradient norm before clipping) of
    one batch of samples."""
    logits, loss, grads = ref.grads(cfg, params, seqs, tgts)
    per, at = [], 0
    for s, t in zip(seqs, tgts):
        y = torch.tensor(t, dtype=torch.long)
        per.append(F.cross_entropy(logits[at:at + len(s)], y, ignore_index=IGNORE))
        at += len(s)
    norm = float(torch.sqrt(sum((g.double() ** 2).sum() for g in grads.values())))
    if max_grad_norm > 0:
        scale = min(1.0, max_grad_norm / (norm + 1e-6))
        grads = {n: g * scale for n, g in grads.items()}
    return loss, per, grads, norm


def alone_loss(cfg, params, seq, tgt):
    return ref.forward(cfg, params, [seq], [tgt])[1]


# ---------------------------------------------------------------- reporting


def relerr(a, b):
    """max|a-b| / max|b| over a tensor (b the reference)."""
    a, b = torch.as_tensor(a).double(), torch.as_tensor(b).double()
    return float((a - b).abs().max() / max(float(b.abs().max()), 1e-30))


def report(name, good, detail=""):
    global ok
    ok &= bool(good)
    print(f"{'PASS' if good else 'FAIL'}: {name}" + (f" {detail}" if detail else ""))


def check_err(name, err, tol):
    report(name, err <= tol, f"relerr={err:.3g}")


def dump_samples(dump):
    """{id: sample_loss} of a dump, and its ids in batch order."""
    ids = [int(round(float(x))) for x in dump["sample_ids"]]
    return dict(zip(ids, dump["sample_loss"].tolist())), ids


# ---------------------------------------------------------------- checks


def check_case(c):
    from safetensors.torch import load_file

    name, loss_all = c["name"], c["loss"] == "all"
    cfg, params = ref.load(c["model"])
    samples = read_samples(c["tokens"], c["ids"])
    dump = load_file(c["dump"])
    got, order = dump_samples(dump)
    built = {i: sample_targets(ids, mask, loss_all, c["max_len"]) for i, (ids, mask) in samples.items()}
    want = sorted(i for i, (_, t) in built.items() if any(x != IGNORE for x in t))
    cut = [i for i, (ids, _) in samples.items() if len(ids) > c["max_len"]]
    report(f"{name} batch holds the samples with targets", sorted(order) == want,
           f"dump={order} want={want} (cut by max-len: {cut}, "
           f"dropped: {sorted(set(samples) - set(want))})")
    if sorted(order) != want:
        return
    seqs, tgts = [built[i][0] for i in order], [built[i][1] for i in order]
    n_tgt = sum(x != IGNORE for t in tgts for x in t)
    clip = c.get("max_grad_norm", 0.0)
    loss, per, grads, norm = batch(cfg, params, seqs, tgts, clip)
    if clip > 0:  # the case must see the clip
        report(f"{name} gradient clipped", norm > 2 * clip, f"norm={norm:.4g} > {clip}, scale={clip / norm:.4g}")
    check_err(f"{name} loss={float(loss):.6f} ({len(order)} samples, {sum(map(len, seqs))} tokens, "
              f"{n_tgt} targets)", relerr(dump["loss"].reshape(()), loss), LOSS_TOL)
    worst, worst_id = 0.0, None
    for i, l in zip(order, per):
        e = abs(got[i] - float(l)) / abs(float(l))
        if e >= worst:
            worst, worst_id = e, i
    check_err(f"{name} sample_loss ({len(order)} samples, worst id {worst_id})", worst, SAMPLE_TOL)
    check_grads(name, dump, grads)


def check_grads(name, dump, grads):
    names = {k[len("grad."):] for k in dump if k.startswith("grad.")}
    same = names == set(grads)
    report(f"{name} grad names", same, f"tensors={len(names)}" if same else
           f"missing={sorted(set(grads) - names)} extra={sorted(names - set(grads))}")
    worst, worst_name, bad = 0.0, "", []
    for n in sorted(set(grads) & names):
        c = dump["grad." + n]
        err = relerr(c, grads[n]) if c.shape == grads[n].shape else float("inf")
        if err > GRAD_TOL:
            bad.append((err, n, tuple(c.shape)))
        elif err >= worst:
            worst, worst_name = err, n
    for err, n, shape in bad[:4]:
        check_err(f"{name} grad.{n} shape={shape}", err, GRAD_TOL)
    if len(bad) > 4:
        report(f"{name} grads: {len(bad) - 4} more tensors over {GRAD_TOL}", False)
    if worst_name:
        check_err(f"{name} grads ({len(names) - len(bad)} tensors, worst {worst_name})", worst, GRAD_TOL)


def check_isolation(c):
    from safetensors.torch import load_file

    name, loss_all, changed = c["name"], c["loss"] == "all", int(c["changed"])
    cfg, params = ref.load(c["model"])
    samples = read_samples(c["tokens"], c["ids"])
    a, order_a = dump_samples(load_file(c["dump"]))
    b, order_b = dump_samples(load_file(c["dump_changed"]))
    others = sorted(set(a) - {changed})
    report(f"{name} both batches hold the same samples", sorted(order_a) == sorted(order_b)
           and changed in a, f"ids={sorted(order_a)} / {sorted(order_b)}")
    if sorted(order_a) != sorted(order_b) or not others:
        return
    differ = [i for i in others if a[i] != b[i]]
    report(f"{name} other samples' losses bit-identical when sample {changed} changes",
           not differ, f"({len(others)} samples)" if not differ else
           f"differ: {[(i, a[i], b[i]) for i in differ]}")
    report(f"{name} sample {changed}'s own loss changed", a[changed] != b[changed],
           f"{a[changed]:.6f} -> {b[changed]:.6f}")
    worst, worst_id = 0.0, None
    for i in others:
        seq, tgt = sample_targets(*samples[i], loss_all, c["max_len"])
        l = float(alone_loss(cfg, params, seq, tgt))
        e = abs(a[i] - l) / abs(l)
        if e >= worst:
            worst, worst_id = e, i
    check_err(f"{name} packed sample losses = reference alone (worst id {worst_id})", worst, SAMPLE_TOL)


def check(cases_file):
    with open(cases_file) as f:
        cases = [json.loads(line) for line in f if line.strip()]
    for c in cases:
        try:
            (check_isolation if c.get("kind") == "isolation" else check_case)(c)
        except Exception as e:  # one broken case must not hide the others
            report(f"{c.get('name', '?')} compare", False, f"{type(e).__name__}: {e}")


# ---------------------------------------------------------------- self-test


def selftest():
    # The targets rule: BOS u u A a a E, assistant mask on a a E.
    ids, mask = [9, 3, 4, 5, 6, 7, 8], [0, 0, 0, 0, 1, 1, 1]
    report("reference targets (assistant)",
           sample_targets(ids, mask, False, 99)[1] == [IGNORE, IGNORE, IGNORE, 6, 7, 8, IGNORE])
    report("reference targets (all)", sample_targets(ids, mask, True, 99)[1] == [3, 4, 5, 6, 7, 8, IGNORE])
    report("reference targets (max_len 5)",
           sample_targets(ids, mask, False, 5) == ([9, 3, 4, 5, 6], [IGNORE, IGNORE, IGNORE, 6, IGNORE]))
    # The batch loss is the token-weighted mean of the sample losses.
    cfg = ref._tiny_cfg()
    params = ref.init_params(cfg, 5, torch.float64)
    seqs = [[1, 4, 9, 2, 5], [7, 7, 3], [2, 8, 8, 1, 0, 6]]
    masks = [[0, 0, 1, 1, 1], [0, 1, 1], [0, 0, 0, 1, 1, 1]]
    built = [sample_targets(s, m, False, 99) for s, m in zip(seqs, masks)]
    loss, per, _, _ = batch(cfg, params, [b[0] for b in built], [b[1] for b in built])
    w = [sum(x != IGNORE for x in b[1]) for b in built]
    mean = sum(wi * float(l) for wi, l in zip(w, per)) / sum(w)
    err = abs(float(loss) - mean) / abs(mean)
    report("reference batch loss = token-weighted mean of sample losses", err < 1e-12, f"relerr={err:.3g}")
    alone = [float(alone_loss(cfg, params, *b)) for b in built]
    err = max(abs(a - float(p)) / abs(a) for a, p in zip(alone, per))
    report("reference sample loss in a batch = alone", err < 1e-12, f"relerr={err:.3g}")


def main(argv):
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    if argv == ["--selftest"]:
        selftest()
    elif len(argv) == 2 and argv[0] == "check":
        check(argv[1])
    else:
        print(__doc__)
        return 2
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
