"""References for r1c's GGUF import and export (tests/test_gguf_model.sh).

Everything here reads GGUF with the `gguf` package (llama.cpp's own Python reader and
dequantizer) or runs llama.cpp itself through llama-cpp-python; r1c's outputs are only
ever compared against them. Subcommands print "PASS: ..." / "FAIL: ..." lines:

  weights GGUF HF_DIR              HF_DIR/model.safetensors == the GGUF's tensors
                                   dequantized by `gguf`, names mapped, llama q/k rows
                                   un-permuted (exactly)
  parity GGUF FWD TOKENS           r1c's forward dump FWD (logits, loss, grad.*) against
                                   the float64 PyTorch reference on those weights
  same DIR1 DIR2 [f32|f16|bf16]    weights of DIR2 == DIR1's (rounded to the type)
  llama-logits GGUF FWD TOKENS     llama.cpp's logits for TOKENS against r1c's in FWD
  template HF_DIR RENDERED         r1c's rendering of chats == Jinja on the stored template
  chat GGUF PROMPT                 prints llama.cpp's greedy chat reply
  bad KIND OUT                     writes a malformed model GGUF for error tests
"""
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

LAYER = {
    "attn_norm.weight": "input_layernorm.weight",
    "attn_q.weight": "self_attn.q_proj.weight",
    "attn_k.weight": "self_attn.k_proj.weight",
    "attn_v.weight": "self_attn.v_proj.weight",
    "attn_q.bias": "self_attn.q_proj.bias",
    "attn_k.bias": "self_attn.k_proj.bias",
    "attn_v.bias": "self_attn.v_proj.bias",
    "attn_output.weight": "self_attn.o_proj.weight",
    "ffn_norm.weight": "post_attention_layernorm.weight",
    "ffn_gate.weight": "mlp.gate_proj.weight",
    "ffn_up.weight": "mlp.up_proj.weight",
    "ffn_down.weight": "mlp.down_proj.weight",
}
TOP = {"token_embd.weight": "model.embed_tokens.weight", "output_norm.weight": "model.norm.weight",
       "output.weight": "lm_head.weight"}

fails = 0


def report(ok, what):
    global fails
    print(f"{'PASS' if ok else 'FAIL'}: {what}")
    fails += 0 if ok else 1


def field(r, key, default=None):
    f = r.fields.get(key)
    return default if f is None else f.contents()


def hf_name(name):
    if name in TOP:
        return TOP[name]
    _, l, rest = name.split(".", 2)
    return f"model.layers.{l}.{LAYER[rest]}"


def convert_permute(w, n_head):
    """llama.cpp's convert_hf_to_gguf.py permute(): HF q/k rows -> GGUF rows."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def unpermute(w, n_head):
    """The inverse of convert_permute, checked to be one below."""
    out = w.reshape(n_head, w.shape[0] // n_head // 2, 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)
    assert np.array_equal(convert_permute(out, n_head), w)
    return out


def config_of(r):
    arch = field(r, "general.architecture")
    k = lambda s, d=None: field(r, f"{arch}.{s}", d)
    names = {t.name for t in r.tensors}
    heads = int(k("attention.head_count"))
    return {
        "model_type": arch, "hidden_size": int(k("embedding_length")),
        "num_hidden_layers": int(k("block_count")), "num_attention_heads": heads,
        "num_key_value_heads": int(k("attention.head_count_kv", heads)),
        "intermediate_size": int(k("feed_forward_length")),
        "vocab_size": int(k("vocab_size", len(field(r, "tokenizer.ggml.tokens")))),
        "max_position_embeddings": int(k("context_length")),
        "rms_norm_eps": float(k("attention.layer_norm_rms_epsilon")),
        "rope_theta": float(k("rope.freq_base", 10000.0)),
        "tie_word_embeddings": "output.weight" not in names,
    }


def hf_weights(path):
    """{HF name: float32 array} from a GGUF, dequantized by the gguf package."""
    import gguf
    r = gguf.GGUFReader(path)
    cfg = config_of(r)
    out = {}
    for t in r.tensors:
        shape = tuple(int(d) for d in reversed(t.shape))
        w = gguf.quants.dequantize(t.data, t.tensor_type).astype(np.float32).reshape(shape)
        name = hf_name(t.name)
        if cfg["model_type"] == "llama" and name.endswith(("q_proj.weight", "k_proj.weight")):
            w = unpermute(w, cfg["num_attention_heads"] if "q_proj" in name else cfg["num_key_value_heads"])
        out[name] = w
    return cfg, out


def load_dir(d):
    from safetensors.numpy import load_file
    return load_file(os.path.join(d, "model.safetensors"))


def cmd_weights(gguf_path, hf_dir):
    _, want = hf_weights(gguf_path)
    got = load_dir(hf_dir)
    report(sorted(got) == sorted(want), f"weights: the same {len(want)} tensor names")
    bad = [n for n in want if n in got and not np.array_equal(got[n].view(np.uint32), want[n].view(np.uint32))]
    report(not bad, f"weights: every tensor bit-identical to gguf's dequantization ({bad[:3]})")


def relerr(a, b):
    return float((a - b).abs().max() / max(float(b.abs().max()), 1e-30))


def cmd_parity(gguf_path, fwd, tokens):
    import torch
    from safetensors.torch import load_file
    import model_ref
    cfg, w = hf_weights(gguf_path)
    seqs, targets = json.load(open(tokens))
    params = {n: torch.from_numpy(a) for n, a in w.items()}
    logits, loss, grads = model_ref.grads(cfg, params, seqs, targets)
    got = load_file(fwd)
    e = relerr(got["logits"].double(), logits)
    report(e <= 1e-4, f"parity: logits relerr={e:.3g} (<= 1e-4)")
    e = abs(float(got["loss"][0]) - float(loss)) / abs(float(loss))
    report(e <= 1e-5, f"parity: loss {float(got['loss'][0]):.6f} vs {float(loss):.6f} relerr={e:.3g} (<= 1e-5)")
    worst, name = 0.0, ""
    for n, g in grads.items():
        e = relerr(got["grad." + n].double(), g)
        if e > worst:
            worst, name = e, n
    report(worst <= 3e-3, f"parity: all {len(grads)} gradients, worst relerr={worst:.3g} at {name} (<= 3e-3)")


def rounded(a, kind):
    if kind == "f16":
        return a.astype(np.float16).astype(np.float32)
    if kind == "bf16":  # round to nearest even, as r1c and ggml do
        u = a.view(np.uint32).astype(np.uint64)
        u = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16) << 16
        return u.astype(np.uint32).view(np.float32)
    return a


def cmd_same(d1, d2, kind="f32"):
    a, b = load_dir(d1), load_dir(d2)
    report(sorted(a) == sorted(b), f"same: {d2} has the tensors of {d1}")
    bad = []
    for n in a:
        want = a[n] if a[n].ndim == 1 else rounded(a[n], kind)
        if n not in b or not np.array_equal(b[n].view(np.uint32), want.view(np.uint32)):
            bad.append(n)
    report(not bad, f"same: every tensor identical after a {kind} round trip ({bad[:3]})")


def cmd_llama_logits(gguf_path, fwd, tokens):
    import llama_cpp
    from safetensors.numpy import load_file
    seqs, _ = json.load(open(tokens))
    got = load_file(fwd)["logits"]
    llm = llama_cpp.Llama(model_path=gguf_path, n_ctx=512, logits_all=True, verbose=False,
                          n_threads=2, n_batch=512)
    rows = []
    for s in seqs:
        llm.reset()
        llm.eval(s)
        rows.append(np.array(llm.scores[: len(s)], dtype=np.float64))
    want = np.concatenate(rows)
    e = float(np.abs(got - want).max() / np.abs(want).max())
    report(e <= 3e-3, f"llama.cpp: logits of the exported file relerr={e:.3g} (<= 3e-3)")
    same = int((got.argmax(1) == want.argmax(1)).sum())
    report(same == len(want), f"llama.cpp: same argmax at {same} of {len(want)} positions")


def cmd_template(hf_dir, rendered):
    import jinja2
    cfg = json.load(open(os.path.join(hf_dir, "tokenizer_config.json")))
    env = jinja2.Environment()
    tpl = env.from_string(cfg["chat_template"])
    chats = [json.loads(l) for l in open(os.path.join(rendered, "chats.jsonl"))]
    got = [json.loads(l)["text"] for l in open(os.path.join(rendered, "r1c.jsonl"))]
    for i, (c, g) in enumerate(zip(chats, got)):
        want = tpl.render(messages=c, add_generation_prompt=True, bos_token="", eos_token="")
        report(g == want, f"template: chat {i + 1} renders as the stored Jinja template does ({g!r} vs {want!r})"[:300])


def cmd_chat(gguf_path, prompt):
    import llama_cpp
    llm = llama_cpp.Llama(model_path=gguf_path, n_ctx=512, verbose=False, n_threads=2)
    out = llm.create_chat_completion(messages=[{"role": "user", "content": prompt}],
                                     temperature=0.0, max_tokens=48)
    print(out["choices"][0]["message"]["content"])


def cmd_bad(kind, out):
    """Small llama GGUFs that are wrong in one way each."""
    import gguf
    arch = "gpt2" if kind == "arch" else "llama"
    w = gguf.GGUFWriter(out, arch)
    w.add_context_length(64)
    # "huge": metadata that would need terabytes, with small tensors: refused by shape before
    # anything is allocated
    w.add_embedding_length(32 if kind != "huge" else 1 << 16)
    if kind != "missing-key":
        w.add_block_count(1 if kind != "huge" else 1 << 10)
    w.add_feed_forward_length(64)
    w.add_head_count(4 if kind != "huge" else 64)
    w.add_head_count_kv(2)
    w.add_layer_norm_rms_eps(1e-6)
    if kind == "rope-scaling":
        w.add_rope_scaling_type(gguf.RopeScalingType.LINEAR)
    rng = np.random.default_rng(0)
    t = lambda *s: rng.standard_normal(s).astype(np.float32)
    w.add_tensor("token_embd.weight", t(50, 32))
    w.add_tensor("output_norm.weight", t(32))
    w.add_tensor("blk.0.attn_norm.weight", t(32))
    w.add_tensor("blk.0.attn_q.weight", t(32, 32) if kind != "shape" else t(24, 32))
    w.add_tensor("blk.0.attn_k.weight", t(16, 32))
    w.add_tensor("blk.0.attn_v.weight", t(16, 32))
    w.add_tensor("blk.0.attn_output.weight", t(32, 32))
    w.add_tensor("blk.0.ffn_norm.weight", t(32))
    w.add_tensor("blk.0.ffn_gate.weight", t(64, 32))
    w.add_tensor("blk.0.ffn_up.weight", t(64, 32))
    w.add_tensor("blk.0.ffn_down.weight", t(32, 64))
    if kind == "unknown-tensor":
        w.add_tensor("blk.0.attn_sinks.weight", t(4))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    {"weights": cmd_weights, "parity": cmd_parity, "same": cmd_same, "llama-logits": cmd_llama_logits,
     "template": cmd_template, "chat": cmd_chat, "bad": cmd_bad}[cmd](*args)
    sys.exit(1 if fails else 0)


if __name__ == "__main__":
    main()
