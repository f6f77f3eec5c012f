#!/usr/bin/env bash
# test_optim_torch.sh - AdamW + gradient clipping + LR schedule against PyTorch.
#
# Python builds small deterministic training runs (three parameters of different
# shapes, weight decay on two, known initial values and per-step gradients),
# runs them with torch.optim.AdamW, torch.nn.utils.clip_grad_norm_ and the
# schedule formula of core/optim.h, and writes the same inputs to a safetensors
# file that `test_optim --replay IN OUT` runs through core/optim.c. Final
# parameters must agree to a relative error of 1e-5 (float32).
# Prints "PASS: name" / "FAIL: name" lines; exits non-zero on any failure.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root="${R1_ROOT:-$(dirname "$here")}"
testbin="${R1_TESTBIN:-$root/build/tests}"
py="${R1_PY:-$root/.venv/bin/python}"

if [ ! -x "$testbin/test_optim" ]; then
    echo "FAIL: optim_torch (no $testbin/test_optim; build it first)"
    exit 1
fi
if ! "$py" -c 'import torch' 2>/dev/null; then
    echo "FAIL: optim_torch (no torch in $py)"
    exit 1
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$py" - "$testbin/test_optim" "$work" <<'EOF'
import array, json, math, struct, subprocess, sys
import torch

exe, work = sys.argv[1], sys.argv[2]
failed = 0


def st_write(path, tensors, meta):
    """Minimal safetensors writer (float32 only), so no extra package is needed."""
    header, blobs, off = {"__metadata__": meta}, [], 0
    for name, t in tensors.items():
        b = array.array("f", t.detach().reshape(-1).tolist()).tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def st_read(path):
    data = open(path, "rb").read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8 : 8 + n])
    out = {}
    for name, d in header.items():
        if name == "__metadata__":
            continue
        assert d["dtype"] == "F32", (name, d["dtype"])
        b, e = d["data_offsets"]
        a = array.array("f")
        a.frombytes(data[8 + n + b : 8 + n + e])
        out[name] = torch.tensor(a.tolist(), dtype=torch.float32).reshape(d["shape"])
    return out, header.get("__metadata__", {})


def schedule_lr(kind, peak, warmup, total, ratio, s):
    """The formula of core/optim.h, written out again."""
    if s < warmup:
        return peak * (s + 1) / warmup
    if kind == "constant":
        return peak
    p = min(1.0, (s - warmup) / max(1, total - warmup))
    floor = peak * ratio
    if kind == "cosine":
        return floor + (peak - floor) * 0.5 * (1 + math.cos(math.pi * p))
    return peak + (floor - peak) * p


def check(name, ok, detail):
    global failed
    print(("PASS: " if ok else "FAIL: ") + name + "  (" + detail + ")")
    failed += 0 if ok else 1


def rel_err(got, want):
    """Elementwise relative error, with a floor so values near zero do not blow it up."""
    return ((got.double() - want.double()).abs() / want.double().abs().clamp_min(1e-3)).max().item()


def scenario(name, cfg, resume_at=0):
    g = torch.Generator().manual_seed(cfg["seed"])
    shapes, decay = cfg["shapes"], cfg["decay"]
    init = [torch.randn(s, generator=g) for s in shapes]
    grads = []
    for target in cfg["grad_norms"]:  # per step, the global norm before clipping
        gs = [torch.randn(s, generator=g) for s in shapes]
        norm = torch.sqrt(sum((x.double() ** 2).sum() for x in gs))
        grads.append([(x.double() * (target / norm)).float() for x in gs])
    sch = (cfg["schedule"], cfg["peak_lr"], cfg["warmup"], cfg["total"], cfg["min_lr_ratio"])

    # PyTorch
    params = [torch.nn.Parameter(x.clone()) for x in init]
    groups = [
        {"params": [p for p, d in zip(params, decay) if d], "weight_decay": cfg["wd"]},
        {"params": [p for p, d in zip(params, decay) if not d], "weight_decay": 0.0},
    ]
    opt = torch.optim.AdamW(groups, lr=cfg["peak_lr"], betas=cfg["betas"], eps=cfg["eps"])
    norms, lrs = [], []
    for s, gs in enumerate(grads):
        for p, gr in zip(params, gs):
            p.grad = gr.clone()
        if cfg["max_norm"] > 0:
            norms.append(float(torch.nn.utils.clip_grad_norm_(params, cfg["max_norm"])))
        else:
            norms.append(float(torch.sqrt(sum((p.grad.double() ** 2).sum() for p in params))))
        lrs.append(schedule_lr(*sch, s))
        for grp in opt.param_groups:
            grp["lr"] = lrs[-1]
        opt.step()

    # ours
    tensors = {f"param.{i}": x for i, x in enumerate(init)}
    for s, gs in enumerate(grads):
        tensors.update({f"grad.{s}.{i}": x for i, x in enumerate(gs)})
    meta = {
        "n_params": len(shapes), "n_steps": len(grads), "beta1": cfg["betas"][0],
        "beta2": cfg["betas"][1], "eps": cfg["eps"], "weight_decay": cfg["wd"],
        "decay": ",".join("1" if d else "0" for d in decay), "max_norm": cfg["max_norm"],
        "schedule": cfg["schedule"], "peak_lr": cfg["peak_lr"], "warmup": cfg["warmup"],
        "total": cfg["total"], "min_lr_ratio": cfg["min_lr_ratio"], "resume_at": resume_at,
    }
    fin, fout = f"{work}/{name}.in.safetensors", f"{work}/{name}.out.safetensors"
    st_write(fin, tensors, {k: repr(v) if isinstance(v, float) else str(v) for k, v in meta.items()})
    r = subprocess.run([exe, "--replay", fin, fout], capture_output=True, text=True)
    if r.returncode != 0:
        check(name + ".replay", False, "exit %d: %s" % (r.returncode, r.stderr.strip()))
        return None
    out, ometa = st_read(fout)

    e_lr = max(abs(float(ometa[f"lr.{s}"]) - lrs[s]) / lrs[s] for s in range(len(grads)))
    check(name + ".lr", e_lr <= 1e-12, "max rel err %.2e" % e_lr)
    e_norm = max(abs(float(ometa[f"grad_norm.{s}"]) - norms[s]) / norms[s] for s in range(len(grads)))
    check(name + ".grad_norm", e_norm <= 1e-5, "max rel err %.2e" % e_norm)
    for i, p in enumerate(params):
        got = out[f"param.{i}"]
        if list(got.shape) != list(p.shape):
            check(f"{name}.param.{i}", False, f"shape {list(got.shape)} != {list(p.shape)}")
            continue
        e = rel_err(got, p.detach())
        # The update itself, relative to its largest element: catches a wrong
        # step that the (much larger) parameter values would hide.
        du_c, du_t = got.double() - init[i].double(), p.detach().double() - init[i].double()
        e_up = ((du_c - du_t).abs().max() / du_t.abs().max()).item()
        check(f"{name}.param.{i}", e <= 1e-5 and e_up <= 1e-4,
              "max rel err %.2e, update rel err %.2e" % (e, e_up))
    return out


base = dict(
    seed=1234, shapes=[(4, 3), (5,), (2, 7)], decay=[True, False, True],
    grad_norms=[0.5, 3.0, 0.9, 10.0, 1.5], max_norm=1.0,
    betas=(0.9, 0.95), eps=1e-8, wd=0.1,
    schedule="cosine", peak_lr=1e-2, warmup=2, total=5, min_lr_ratio=0.1,
)
a = scenario("adamw_cosine_clip", base)
# The same run, saved after 3 steps and loaded into a fresh optimizer.
b = scenario("adamw_resume", base, resume_at=3)
if a is not None and b is not None:
    same = all(torch.equal(a[k], b[k]) for k in a)
    check("adamw_resume.bitexact", same, "resumed run equals uninterrupted run bit for bit")
linear = dict(base, seed=99, shapes=[(3, 5), (7,), (6,)], decay=[True, True, False],
              grad_norms=[2.0, 0.1, 4.0, 0.7, 0.3, 1.1], max_norm=0.0, betas=(0.8, 0.999),
              eps=1e-6, wd=0.05, schedule="linear", peak_lr=3e-2, warmup=0, total=4,
              min_lr_ratio=0.2)
scenario("adamw_linear_noclip", linear)
scenario("adamw_constant_warmup", dict(base, seed=7, schedule="constant", warmup=3, wd=0.3))
sys.exit(1 if failed else 0)
EOF
