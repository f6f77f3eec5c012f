"""Float64 PyTorch reference of bin/r1-grpo's loss and gradients (used by
tests/test_grpo_torch.sh).

Written from the definitions in core/grpo.h, not from the C code: the policy
and reference log-probabilities come from tests/ref/model_ref.py in float64
(one causal forward over prompt + completion per rollout), the clipped
surrogate is torch.min(rho A, torch.clamp(rho, 1 - eps_low, 1 + eps_high) A),
the KL is the k3 estimator exp(ref - logp) - (ref - logp) - 1, and the
gradients come from torch autograd of the aggregated loss:

    loss = sum over trained completions i and their tokens t of
           w_i * (-surr_it + beta kl_it)
    grpo     w_i = 1 / (completions * len_i)
    bnpo     w_i = 1 / (tokens)                      (of the minibatch)
    dr_grpo  w_i = 1 / (completions * max_new)
    dapo     w_i = 1 / (tokens of the whole step)

Advantages: (r - mean_group) / (std + 1e-4) with std = torch.std (unbiased) of
the group ("group") or of all the step's defined rewards ("batch"); "none" only
centres; a group of one has std 0; NULL or missing 'total' rewards take no part
and get advantage 0. A completion trains when its reward is defined, and not
(--mask-truncated and finish_reason 'length'), and not (--drop-uniform-groups
and all defined rewards of its group are equal). dr_grpo's max_new is
--max-new-tokens, else the step's rollout/max_new_tokens metric, else the
longest completion of the step. With --minibatches 1 everything trained is one
minibatch, so the order does not matter. With --minibatches M > 1 the dump is
the first minibatch's (a seeded shuffle picks it): which completions it holds
is recovered from the dump's logp, and the loss is over them alone (dapo
still divides by the whole step's tokens). The gradient is then clipped to
global norm --max-grad-norm (default 1; 0: off) as bin/r1-grpo dumps it.
Log-probabilities (policy and reference) are of softmax(logits / T), the
distribution the rollout sampled from: T is --temperature, else the step's
rollout/temperature metric (stage 'rollout'), else 1; a recorded 0 (greedy)
means 1.

    grpo_ref.py make DB MODEL_DIR SEED
        hand-made rollouts written into DB (made by r1-data init): 4 prompts
        (groups of 4, 4, 5 and 1 samples), the same 14 rollouts at steps 0
        (with a rollout/max_new_tokens metric of 12), 1, 2 and 3 (no metric)
        and 5 (rewards named 'accuracy', no 'total'); stored logprobs =
        MODEL's float64 log-probabilities + N(0, 0.3) noise, so ratios leave
        the clip range on both sides.
    grpo_ref.py check DB MODEL_DIR REF_DIR CASES_FILE
        each line of CASES_FILE is "NAME<TAB>DUMP<TAB>JSON_FILE<TAB>OPTIONS..."
        (the r1-grpo options of that dry run); compares the dump's loss,
        advantages, logp (order recovered by matching) and grad.* with the
        reference, and the --json summary's kl, entropy (of pi_T at the trained
        tokens' positions, per token) and clip fractions.
    grpo_ref.py onpolicy DB STEP DUMP MODEL_DIR
        rewrites the stored logprobs of STEP's trained rollouts with the dump's
        logp (rho = 1 exactly on the next run).
    grpo_ref.py --selftest
        the surrogate's autograd gradient against the case analysis of
        grpo.h and central differences.
Prints PASS:/FAIL: lines; exits non-zero when anything failed.
"""
import json
import math
import os
import sqlite3
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import model_ref as ref  # noqa: E402
import refutil  # noqa: E402
from refutil import blob_f32, blob_i32, floats, ints, report  # noqa: E402

torch.set_num_threads(1)  # tiny tensors: more threads only wait on each other
LOSS_TOL, GRAD_TOL, ADV_TOL, LOGP_TOL, STAT_TOL = 1e-4, 1e-3, 1e-5, 1e-4, 1e-5
GRAD_FLOOR = 1e-6


def read_step(db, step):
    """The step's rollouts by id, each with its 'total' reward (nan when NULL or missing)."""
    con = sqlite3.connect(db)
    rs = con.execute(
        "SELECT r.id, r.prompt_id, r.prompt_ids, r.completion_ids, r.logprobs, r.finish_reason, "
        "(SELECT value FROM rewards w WHERE w.rollout_id = r.id AND w.name = 'total') "
        "FROM rollouts r WHERE r.step = ? ORDER BY r.id", (step,)).fetchall()
    mx = con.execute("SELECT MAX(value) FROM metrics WHERE stage = 'rollout' AND step = ? AND "
                     "name = 'rollout/max_new_tokens'", (step,)).fetchone()[0]
    con.close()
    out = [dict(id=r[0], group=r[1], pids=ints(r[2]), ids=ints(r[3]),
                old=torch.tensor(floats(r[4]), dtype=torch.float64), finish=r[5],
                reward=float("nan") if r[6] is None else float(r[6])) for r in rs]
    return out, (int(mx) if mx is not None else None)


# ---------------------------------------------------------------- the definitions


def advantages(rs, scale):
    r = torch.tensor([x["reward"] for x in rs], dtype=torch.float64)
    defined = ~torch.isnan(r)
    adv = torch.zeros_like(r)

    def std(v):  # torch.std (unbiased); one value has std 0
        return float(v.std()) if v.numel() > 1 else 0.0

    all_std = std(r[defined])
    for g in sorted({x["group"] for x in rs}):
        idx = torch.tensor([i for i, x in enumerate(rs) if x["group"] == g and defined[i]],
                           dtype=torch.long)
        if idx.numel() == 0:
            continue
        v = r[idx]
        div = std(v) + 1e-4 if scale == "group" else all_std + 1e-4 if scale == "batch" else 1.0
        adv[idx] = (v - v.mean()) / div
    return adv


def trained(rs, o):
    """Which completions take part in the loss."""
    out = []
    for x in rs:
        a = not math.isnan(x["reward"]) and not (o["mask_truncated"] and x["finish"] == "length")
        if a and o["drop_uniform"]:
            vals = {y["reward"] for y in rs if y["group"] == x["group"] and not math.isnan(y["reward"])}
            a = len(vals) > 1
        out.append(a)
    return out


def token_logp(cfg, params, pids, ids, temperature=1.0, entropy=False):
    """log pi_T(ids[t] | pids + ids[:t]) for every completion token, float64,
    pi_T = softmax(logits / temperature); entropy: also the summed entropy of
    pi_T at those positions (a float)."""
    P, n = len(pids), len(ids)
    logits = ref.forward(cfg, params, [pids + ids[:-1]])[P - 1:P - 1 + n]
    lsm = torch.log_softmax(logits / temperature, dim=-1)
    logp = lsm[torch.arange(n), torch.tensor(ids)]
    if not entropy:
        return logp
    lsm = lsm.detach()
    return logp, float(-(lsm.exp() * lsm).sum())


def step_temperature(db, o):
    """--temperature, else the step's rollout/temperature metric, else 1 (0: greedy, 1)."""
    if o.get("temperature") is not None:
        return o["temperature"]
    con = sqlite3.connect(db)
    row = con.execute("SELECT value FROM metrics WHERE stage = 'rollout' AND step = ? AND "
                      "name = 'rollout/temperature' ORDER BY rowid DESC LIMIT 1", (o["step"],)).fetchone()
    con.close()
    return float(row[0]) if row and row[0] is not None and float(row[0]) > 0 else 1.0


def parse_opts(argv):
    o = dict(loss="grpo", scale="group", beta=0.04, eps=0.2, eps_high=None, mask_truncated=False,
             drop_uniform=False, max_new=None, step=None, max_grad_norm=1.0, minibatches=1,
             temperature=None)
    i = 0
    while i < len(argv):
        f = argv[i]
        if f in ("--mask-truncated", "--drop-uniform-groups", "--dry-run", "--json", "--quiet"):
            o.update({"--mask-truncated": {"mask_truncated": True},
                      "--drop-uniform-groups": {"drop_uniform": True}}.get(f, {}))
            i += 1
            continue
        v = argv[i + 1]
        key = {"--loss": "loss", "--scale-rewards": "scale", "--beta": "beta", "--epsilon": "eps",
               "--epsilon-high": "eps_high", "--max-new-tokens": "max_new", "--step": "step",
               "--max-grad-norm": "max_grad_norm", "--minibatches": "minibatches",
               "--temperature": "temperature"}.get(f)
        if key in ("loss", "scale"):
            o[key] = v
        elif key in ("max_new", "step", "minibatches"):
            o[key] = int(v)
        elif key:
            o[key] = float(v)
        i += 2
    if o["eps_high"] is None:
        o["eps_high"] = o["eps"]
    return o


def reference(db, cfg, params, ref_params, o, minibatch=None):
    """Loss, clipped gradients, advantages, per-rollout logp, stats; over the
    rollout ids `minibatch` of the trained completions when given."""
    rs, metric_max_new = read_step(db, o["step"])
    adv = advantages(rs, o["scale"])
    act = trained(rs, o)
    all_idx = [i for i, a in enumerate(act) if a]
    idx = [i for i in all_idx if minibatch is None or rs[i]["id"] in minibatch]
    n_comp = len(idx)
    n_tok = sum(len(rs[i]["ids"]) for i in idx)
    step_tok = sum(len(rs[i]["ids"]) for i in all_idx)
    max_new = o["max_new"] or (metric_max_new if metric_max_new and metric_max_new > 0 else None) \
        or max(len(x["ids"]) for x in rs)
    temp = step_temperature(db, o)
    leaves = {n: t.detach().to(torch.float64).requires_grad_() for n, t in params.items()}
    lo, hi, beta = 1 - o["eps"], 1 + o["eps_high"], o["beta"]
    loss = torch.zeros((), dtype=torch.float64)
    kl_sum, ent_sum, clip_low, clip_high, logps = 0.0, 0.0, 0, 0, {}
    for i in idx:
        x, A = rs[i], adv[i]
        n = len(x["ids"])
        logp, ent = token_logp(cfg, leaves, x["pids"], x["ids"], temp, entropy=True)
        ent_sum += ent
        logps[x["id"]] = logp.detach()
        rho = torch.exp(logp - x["old"])
        surr = torch.min(rho * A, torch.clamp(rho, lo, hi) * A)
        per_tok = -surr
        if beta != 0:
            with torch.no_grad():
                lr = token_logp(cfg, ref_params, x["pids"], x["ids"], temp)
            d = lr - logp
            kl = torch.exp(d) - d - 1
            per_tok = per_tok + beta * kl
            kl_sum += float(kl.detach().sum())
        w = {"grpo": 1.0 / (n_comp * n), "bnpo": 1.0 / n_tok, "dr_grpo": 1.0 / (n_comp * max_new),
             "dapo": 1.0 / step_tok}[o["loss"]]
        loss = loss + w * per_tok.sum()
        r = rho.detach()
        clip_low += int(((r < lo) & (A < 0)).sum())
        clip_high += int(((r > hi) & (A > 0)).sum())
    loss.backward()
    grads = {n: t.grad if t.grad is not None else torch.zeros_like(t) for n, t in leaves.items()}
    norm = math.sqrt(sum(float((g * g).sum()) for g in grads.values()))
    if o["max_grad_norm"] > 0 and norm > o["max_grad_norm"]:
        grads = {n: g * (o["max_grad_norm"] / norm) for n, g in grads.items()}
    stats = dict(kl=kl_sum / max(n_tok, 1), entropy=ent_sum / max(n_tok, 1),
                 clip_frac_low=clip_low / max(n_tok, 1), clip_frac_high=clip_high / max(n_tok, 1),
                 clip_low=clip_low, clip_high=clip_high,
                 tokens=n_tok, completions=len(all_idx), minibatch=n_comp, grad_norm=norm,
                 max_new=max_new, temperature=temp)
    return dict(rs=rs, loss=loss.detach(), grads=grads, adv=adv, idx=idx, logps=logps, stats=stats)


def match_order(dump_logp, rs, idx, logps, partial=False):
    """The dump's logp is the trained completions' log-probs back to back in a
    shuffled order: recover it by matching each next segment against the
    reference log-probs of the completions not yet placed. Returns
    [(rollout id, start)] or None, and the worst abs error. partial: the dump
    may hold only some of them (the first minibatch)."""
    used, order, t, worst = set(), [], 0, 0.0
    while t < len(dump_logp):
        best = None
        for i in idx:
            rid = rs[i]["id"]
            n = len(rs[i]["ids"])
            if rid in used or t + n > len(dump_logp):
                continue
            err = float((dump_logp[t:t + n] - logps[rid]).abs().max())
            if best is None or err < best[0]:
                best = (err, rid, n)
        if best is None or best[0] > 1e-3:
            return None, worst
        used.add(best[1])
        order.append((best[1], t))
        worst = max(worst, best[0])
        t += best[2]
    return (order if partial or len(used) == len(idx) else None), worst


def relerr(a, b, floor=1e-30):
    a, b = a.double(), b.double()
    return float((a - b).abs().max() / max(float(b.abs().max()), floor))


# ---------------------------------------------------------------- commands


def make(db, model_dir, seed):
    cfg, params = ref.load(model_dir)
    V = cfg["vocab_size"]
    gen = torch.Generator().manual_seed(seed)
    con = sqlite3.connect(db)
    con.execute("PRAGMA foreign_keys = ON")
    pids = []
    for k in range(4):
        cur = con.execute("INSERT INTO prompts (dataset, split, question, answer, content_hash) "
                          "VALUES ('test/grpo', 'train', ?, '1', ?)", (f"question {k}", f"h{k}"))
        pids.append(cur.lastrowid)
    # rewards per group; None = NULL, "missing" = no 'total' row. Group 1 is
    # uniform, group 3 has one sample.
    groups = [(pids[0], [1.0, 0.0, 0.5, None]), (pids[1], [0.3, 0.3, 0.3, 0.3]),
              (pids[2], [2.0, -1.0, 0.0, "missing", 1.5]), (pids[3], [1.0])]
    length = {(0, 1), (2, 0), (1, 2)}  # (group, sample) with finish_reason 'length'

    def rand(lo, hi):
        return int(torch.randint(lo, hi + 1, (1,), generator=gen))

    rows = []
    for gi, (pid, rewards) in enumerate(groups):
        prompt = [rand(3, V - 1) for _ in range(rand(3, 7))]
        for s, rw in enumerate(rewards):
            ids = [rand(3, V - 1) for _ in range(rand(2, 9))]
            lp = token_logp(cfg, params, prompt, ids)
            old = lp + 0.3 * torch.randn(lp.shape, generator=gen, dtype=torch.float64)
            rows.append((pid, s, prompt, ids, old.tolist(), "length" if (gi, s) in length else "stop", rw))
    for step in (0, 1, 2, 3, 5):
        for pid, s, prompt, ids, old, fin, rw in rows:
            cur = con.execute(
                "INSERT INTO rollouts (step, prompt_id, sample, prompt_ids, completion_ids, logprobs, "
                "text, finish_reason, n_tokens, model) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (step, pid, s, blob_i32(prompt), blob_i32(ids), blob_f32(old), "x", fin, len(ids),
                 model_dir))
            if rw == "missing":
                continue
            con.execute("INSERT INTO rewards (rollout_id, name, value) VALUES (?, ?, ?)",
                        (cur.lastrowid, "total" if step != 5 else "accuracy", rw))
    con.execute("INSERT INTO metrics (stage, step, name, value) VALUES "
                "('rollout', 0, 'rollout/max_new_tokens', 12)")
    con.commit()
    con.close()
    return 0


def check(db, model_dir, ref_dir, cases_file):
    from safetensors.torch import load_file

    cfg, params = ref.load(model_dir)
    _, ref_params = ref.load(ref_dir)
    ref_params = ref.cast(ref_params, torch.float64)
    fam = cfg["model_type"]
    with open(cases_file) as f:
        cases = [line.rstrip("\n").split("\t") for line in f if line.strip()]
    for name, dump, json_file, *argv in cases:
        name = f"{fam} {name}"
        try:
            o = parse_opts(argv)
            out = load_file(dump)
            mb = None
            if o["minibatches"] > 1:  # which completions the first minibatch holds
                rs, _ = read_step(db, o["step"])
                idx = [i for i, a in enumerate(trained(rs, o)) if a]
                with torch.no_grad():
                    T = step_temperature(db, o)
                    lps = {rs[i]["id"]: token_logp(cfg, params, rs[i]["pids"], rs[i]["ids"], T) for i in idx}
                order, _ = match_order(out["logp"].double(), rs, idx, lps, partial=True)
                mb = {rid for rid, _ in order} if order else set()
            R = reference(db, cfg, params, ref_params, o, mb)
            st = R["stats"]
            what = (f"({st['minibatch']} of {st['completions']} completions, {st['tokens']} tokens, clipped "
                    f"{st['clip_low']} low/{st['clip_high']} high, grad norm {st['grad_norm']:.3g}"
                    + (f", max_new {st['max_new']}" if o["loss"] == "dr_grpo" else "")
                    + (f", temperature {st['temperature']:g}" if st["temperature"] != 1 else "") + ")")
            e = relerr(out["loss"].reshape(()), R["loss"])
            report(e <= LOSS_TOL, f"{name}: loss={float(R['loss']):.6g} {what}", f"relerr={e:.3g}")
            e = relerr(out["advantages"], R["adv"], 1e-12) if out["advantages"].shape == R["adv"].shape \
                else float("inf")
            report(e <= ADV_TOL, f"{name}: advantages[{R['adv'].numel()}]", f"relerr={e:.3g}")
            order, e = match_order(out["logp"].double(), R["rs"], R["idx"], R["logps"])
            report(order is not None and e <= LOGP_TOL,
                   f"{name}: logp[{out['logp'].numel()}] = the trained tokens' log-probs "
                   + ("(each of the first minibatch's completions once)" if mb is not None else
                      "(each trained completion once)"), f"max_abs_err={e:.3g}")
            names = {k[5:] for k in out if k.startswith("grad.")}
            if names != set(R["grads"]):
                report(False, f"{name}: grad names", f"missing={sorted(set(R['grads']) - names)} "
                       f"extra={sorted(names - set(R['grads']))}")
            worst, worst_n, bad = 0.0, "", []
            for n in sorted(names & set(R["grads"])):
                g = out["grad." + n]
                err = relerr(g, R["grads"][n], GRAD_FLOOR) if g.shape == R["grads"][n].shape else float("inf")
                if err > GRAD_TOL:
                    bad.append((n, err))
                if err >= worst:
                    worst, worst_n = err, n
            # a wrong loss breaks most tensors: name the first few, count the rest
            for n, err in bad[:3]:
                report(False, f"{name}: grad.{n}", f"relerr={err:.3g}")
            report(worst <= GRAD_TOL, f"{name}: {len(names)} gradients (worst {worst_n})",
                   f"relerr={worst:.3g}" + (f"; {len(bad)} over {GRAD_TOL}" if bad else ""))
            with open(json_file) as f:
                js = json.loads(f.read().strip().splitlines()[-1])
            bad = {k: (js.get(k), st[k]) for k in ("kl", "entropy", "clip_frac_low", "clip_frac_high")
                   if js.get(k) is None or abs(js[k] - st[k]) > STAT_TOL * max(1.0, abs(st[k]))}
            bad.update({k: (js.get(k), st[k]) for k in ("completions", "tokens") if js.get(k) != st[k]})
            report(not bad, f"{name}: --json kl={st['kl']:.4g} entropy={st['entropy']:.4g} "
                   f"clip_frac_low={st['clip_frac_low']:.4g} "
                   f"clip_frac_high={st['clip_frac_high']:.4g} completions tokens",
                   f"differ (got, want): {bad}" if bad else "")
        except Exception as ex:  # one broken case must not hide the others
            report(False, f"{name}: compare", f"{type(ex).__name__}: {ex}")
    return refutil.status()


def onpolicy(db, step, dump, model_dir):
    """Stored logprobs of the dumped (trained) completions := the dump's logp."""
    from safetensors.torch import load_file

    cfg, params = ref.load(model_dir)
    o = parse_opts(["--step", str(step), "--beta", "0"])
    rs, _ = read_step(db, step)
    idx = [i for i, a in enumerate(trained(rs, o)) if a]
    T = step_temperature(db, o)
    logps = {rs[i]["id"]: token_logp(cfg, params, rs[i]["pids"], rs[i]["ids"], T) for i in idx}
    lp = load_file(dump)["logp"]
    order, e = match_order(lp.double(), rs, idx, logps)
    report(order is not None, f"on-policy: recovered the processing order of {len(idx)} completions "
           "from the dump's logp", f"max_abs_err={e:.3g}")
    if order is None:
        return 1
    con = sqlite3.connect(db)
    for rid, t in order:
        n = len(next(x for x in rs if x["id"] == rid)["ids"])
        con.execute("UPDATE rollouts SET logprobs = ? WHERE id = ?", (blob_f32(lp[t:t + n].tolist()), rid))
    con.commit()
    con.close()
    return refutil.status()


def selftest():
    """The torch.min/torch.clamp surrogate's gradient against grpo.h's case
    analysis (d/dlogp of min(rho A, clip(rho) A) is rho A unless the clipped
    branch is strictly smaller) and central differences of the k3 KL."""
    torch.manual_seed(0)
    worst = 0.0
    for A in (-1.3, 0.7):
        for delta in (-0.5, -0.1, 0.05, 0.3):
            logp = torch.tensor(-2.0, dtype=torch.float64, requires_grad=True)
            old = torch.tensor(-2.0 - delta, dtype=torch.float64)
            rho = torch.exp(logp - old)
            s = torch.min(rho * A, torch.clamp(rho, 0.8, 1.28) * A)
            s.backward()
            r = math.exp(delta)
            c = min(max(r, 0.8), 1.28)
            want = r * A if r * A <= c * A else 0.0
            worst = max(worst, abs(float(logp.grad) - want))
    report(worst < 1e-12, "reference: surrogate gradient = case analysis of grpo.h", f"max_abs_err={worst:.3g}")
    lr, x, h = -1.1, -1.7, 1e-6
    kl = lambda lp: math.exp(lr - lp) - (lr - lp) - 1
    logp = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    d = lr - logp
    (torch.exp(d) - d - 1).backward()
    fd = (kl(x + h) - kl(x - h)) / (2 * h)
    e = abs(float(logp.grad) - fd)
    report(e < 1e-6 and abs(float(logp.grad) - (1 - math.exp(lr - x))) < 1e-12,
           "reference: k3 KL gradient = 1 - exp(ref - logp) = central difference", f"abs_err={e:.3g}")
    rs = [dict(group=g, reward=r) for g, r in [(1, 1.0), (1, 0.0), (1, float("nan")), (2, 5.0), (3, 2.0), (3, 2.0)]]
    a = advantages(rs, "group")
    want = [0.5 / (math.sqrt(0.5) + 1e-4), -0.5 / (math.sqrt(0.5) + 1e-4), 0, 0, 0, 0]
    e = max(abs(float(u) - v) for u, v in zip(a, want))
    report(e < 1e-12, "reference: group advantages by hand (NaN, group of one, uniform group)", f"abs_err={e:.3g}")
    return refutil.status()


def main(argv):
    if argv == ["--selftest"]:
        return selftest()
    if len(argv) == 4 and argv[0] == "make":
        return make(argv[1], argv[2], int(argv[3]))
    if len(argv) == 5 and argv[0] == "check":
        return check(*argv[1:])
    if len(argv) == 5 and argv[0] == "onpolicy":
        return onpolicy(argv[1], int(argv[2]), argv[3], argv[4])
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
