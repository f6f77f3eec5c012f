"""Measures which code points Hugging Face's NFC treats as unknown (r1c's INERT table).

r1c normalizes text to NFC with utf8proc (Unicode 15); `tokenizers`' NFC
normalizer (unicode-normalization-alignments) has older tables. Characters
those tables lack are, for them, of combining class 0, without decomposition and
composing with nothing, so HF leaves them alone and normalizes the text on each
side of them separately. r1c does the same for the code points listed in
core/tok_hfnfc.c (INERT) - "barriers" in nfc() of core/tok_encode.c - and for
U+11A7, which utf8proc 2.8 wrongly composes into a preceding LV syllable.

This script finds that list. Candidates are the code points whose NFC behaviour
utf8proc defines: a nonzero canonical combining class, a canonical decomposition,
or a place in one (Hangul syllables, algorithmic, excluded). Each is probed in
contexts where its class, decomposition or compositions show: alone, after "a",
before and after marks of many classes, around U+0301 / U+0316, after and before
each of its composition partners. A candidate is listed when, on its probes,
HF's NFC differs from utf8proc's and equals barrier semantics (NFC of the text
before it + itself + NFC of the text after it, with utf8proc). At the end every
probe of every candidate is normalized the way r1c does (all barriers together)
and compared with HF; a difference there is a parity bug barriers cannot fix.
Probes are batched: one NFC call per side over all of them, joined by "\\n",
which is a starter that composes with nothing, so the pieces normalize alone.

Usage (with a python that has `tokenizers`, and the utf8proc r1c links):
    python gen_hf_nfc_table.py                      print the table's ranges
    python gen_hf_nfc_table.py --check FILE.c       compare with FILE's INERT; exit 1 if it differs
    python gen_hf_nfc_table.py --write FILE.c       rewrite FILE's INERT array
"""
import argparse
import ctypes
import ctypes.util
import re
import sys
import time

from tokenizers import __version__ as TOKENIZERS_VERSION
from tokenizers.normalizers import NFC

HF_NFC = NFC().normalize_str
FIXED_BARRIERS = {0x11A7}  # barriers nfc() has besides the table (see tok_encode.c)
SEP = "\n"  # joins probes: class 0, no decomposition, composes with nothing

# Marks of many combining classes, to show a candidate's class by reordering and
# blocking: overlay 1, nukta 7, virama 9, Hebrew 10, Thai 103, 216 (attached
# above right), below 220, above 230, double above 233, iota subscript 240.
MARKS = "\u0334\u093c\u094d\u05b0\u0e38\u031b\u0316\u0301\u035c\u0345"


# ---------------------------------------------------------------- utf8proc

class Utf8proc:
    STABLE, COMPOSE, DECOMPOSE = 1 << 1, 1 << 3, 1 << 4

    class Property(ctypes.Structure):  # the leading fields of utf8proc_property_t
        _fields_ = [("category", ctypes.c_int16), ("combining_class", ctypes.c_int16),
                    ("bidi_class", ctypes.c_int16), ("decomp_type", ctypes.c_int16),
                    ("decomp_seqindex", ctypes.c_uint16)]

    def __init__(self):
        names = ["libutf8proc.so.3", "libutf8proc.so.2", ctypes.util.find_library("utf8proc")]
        self.lib = None
        for name in names:
            if not name:
                continue
            try:
                self.lib = ctypes.CDLL(name)
                break
            except OSError:
                pass
        if self.lib is None:
            sys.exit("gen_hf_nfc_table: cannot load libutf8proc")
        lib = self.lib
        lib.utf8proc_map.argtypes = [ctypes.c_char_p, ctypes.c_ssize_t,
                                     ctypes.POINTER(ctypes.c_void_p), ctypes.c_int]
        lib.utf8proc_map.restype = ctypes.c_ssize_t
        lib.utf8proc_get_property.argtypes = [ctypes.c_int32]
        lib.utf8proc_get_property.restype = ctypes.POINTER(self.Property)
        lib.utf8proc_version.restype = ctypes.c_char_p
        lib.utf8proc_unicode_version.restype = ctypes.c_char_p
        self.libc = ctypes.CDLL(None)
        self.version = lib.utf8proc_version().decode()
        self.unicode_version = lib.utf8proc_unicode_version().decode()

    def map(self, s, options):
        b = s.encode("utf-8")
        p = ctypes.c_void_p()
        n = self.lib.utf8proc_map(b, len(b), ctypes.byref(p), options)
        if n < 0:
            raise ValueError(f"utf8proc_map failed ({n}) on {s!r}")
        out = ctypes.string_at(p, n).decode("utf-8")
        self.libc.free(p)
        return out

    def nfc(self, s):
        return self.map(s, self.STABLE | self.COMPOSE)

    def nfd(self, s):
        return self.map(s, self.STABLE | self.DECOMPOSE)

    def ccc(self, cp):
        return self.lib.utf8proc_get_property(cp).contents.combining_class


def batched(fn, texts):
    """fn over each text, in one call over the texts joined by SEP."""
    if not texts:
        return []
    assert not any(SEP in t for t in texts)
    out = fn(SEP.join(texts)).split(SEP)
    assert len(out) == len(texts)
    return out


def barrier_nfc_many(u8p, texts, barriers):
    """r1c's nfc(): NFC between barriers, barriers copied as they are."""
    pieces = []  # per text: list of (is_barrier, str)
    todo = []
    for t in texts:
        parts, run = [], []
        for ch in t:
            if ord(ch) in barriers:
                if run:
                    parts.append((False, len(todo)))
                    todo.append("".join(run))
                    run = []
                parts.append((True, ch))
            else:
                run.append(ch)
        if run:
            parts.append((False, len(todo)))
            todo.append("".join(run))
        pieces.append(parts)
    done = batched(u8p.nfc, todo)
    return ["".join(x if b else done[x] for b, x in parts) for parts in pieces]


# ---------------------------------------------------------------- measuring

def is_hangul_syllable(cp):
    return 0xAC00 <= cp <= 0xD7A3


def candidates(u8p):
    """(candidate code points, composition pairs (first, second))."""
    cands, decomposable = set(), {}
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF or is_hangul_syllable(cp):
            continue
        p = u8p.lib.utf8proc_get_property(cp).contents
        if p.combining_class:
            cands.add(cp)
        if p.decomp_seqindex != 0xFFFF and p.decomp_type == 0:  # canonical mapping
            decomposable[cp] = None
    keys = sorted(decomposable)
    for cp, d in zip(keys, batched(u8p.nfd, [chr(c) for c in keys])):
        if d != chr(cp):
            decomposable[cp] = d
            cands.add(cp)
            cands.update(map(ord, d))
    # Composition pairs: X = NFC(A + B) with B one code point of NFD(X) and A
    # the NFC of the rest, for every primary composite X.
    prim = [cp for cp, d in decomposable.items() if d and u8p.nfc(chr(cp)) == chr(cp)]
    trials = []
    for cp in prim:
        d = decomposable[cp]
        for i in range(len(d)):
            trials.append((cp, d[i], d[:i] + d[i + 1:]))
    firsts = batched(u8p.nfc, [rest for _, _, rest in trials])
    tries = [(cp, a, b) for (cp, b, _), a in zip(trials, firsts) if len(a) == 1]
    made = batched(u8p.nfc, [a + b for _, a, b in tries])
    pairs = {(ord(a), ord(b)) for (cp, a, b), m in zip(tries, made) if m == chr(cp)}
    for a, b in pairs:
        cands.update((a, b))
    return sorted(cands), sorted(pairs)


def probes_of(cp, partners_before, partners_after):
    c = chr(cp)
    p = [c, "a" + c, "a\u0301" + c + "\u0316", c + c]
    for m in MARKS:
        p += ["a" + c + m, "a" + m + c, c + m]
    p += [chr(a) + c for a in partners_before]  # cp as the second of a pair
    p += [chr(a) + c + "\u0316" for a in partners_before]
    p += [c + chr(b) for b in partners_after]  # cp as the first of a pair
    return p


def measure(u8p):
    cands, pairs = candidates(u8p)
    before, after = {}, {}
    for a, b in pairs:
        before.setdefault(b, []).append(a)
        after.setdefault(a, []).append(b)
    probes = {cp: probes_of(cp, before.get(cp, ()), after.get(cp, ())) for cp in cands}
    flat = [(cp, t) for cp in cands for t in probes[cp]]
    texts = [t for _, t in flat]
    hf = batched(HF_NFC, texts)
    ours = batched(u8p.nfc, texts)
    differs = sorted({cp for (cp, _), h, o in zip(flat, hf, ours) if h != o})
    # A differing candidate is a barrier when barrier semantics gives HF's
    # output on all its probes.
    inert, unfixable = [], []
    for cp in differs:
        ts = probes[cp]
        want = batched(HF_NFC, ts)
        got = barrier_nfc_many(u8p, ts, FIXED_BARRIERS | {cp})
        (inert if got == want else unfixable).append(cp)
    # Every probe, normalized as r1c does with the whole table.
    got = barrier_nfc_many(u8p, texts, FIXED_BARRIERS | set(inert))
    residual = [(t, h, g) for t, h, g in zip(texts, hf, got) if h != g]
    return dict(candidates=len(cands), pairs=len(pairs), probes=len(texts), differs=differs,
                inert=inert, unfixable=unfixable, residual=residual)


# ---------------------------------------------------------------- the C table

def to_ranges(cps):
    out = []
    for cp in sorted(cps):
        if out and cp == out[-1][1] + 1:
            out[-1][1] = cp
        else:
            out.append([cp, cp])
    return [tuple(r) for r in out]


TABLE_RE = re.compile(r"(static const unsigned INERT\[\]\[2\] = \{\n)(.*?)(\n\};)", re.S)


def read_table(path):
    text = open(path, encoding="utf-8").read()
    m = TABLE_RE.search(text)
    if not m:
        sys.exit(f"gen_hf_nfc_table: no INERT table in {path}")
    pairs = re.findall(r"\{\s*0x([0-9A-Fa-f]+)\s*,\s*0x([0-9A-Fa-f]+)\s*\}", m.group(2))
    return text, m, [(int(a, 16), int(b, 16)) for a, b in pairs]


def format_table(ranges, per_line=4):
    items = [f"{{0x{a:04X}, 0x{b:04X}}}," for a, b in ranges]
    lines = []
    for i in range(0, len(items), per_line):
        lines.append("    " + " ".join(items[i:i + per_line]))
    return "\n".join(lines)


def show(cp):
    return f"U+{cp:04X}"


def hexs(s):
    return " ".join(f"{ord(c):04X}" for c in s)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--check", metavar="FILE.c")
    g.add_argument("--write", metavar="FILE.c")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    t0 = time.time()
    u8p = Utf8proc()
    r = measure(u8p)
    ranges = to_ranges(r["inert"])
    print(f"tokenizers {TOKENIZERS_VERSION}, utf8proc {u8p.version} (Unicode {u8p.unicode_version}): "
          f"{r['candidates']} candidates, {r['pairs']} composition pairs, {r['probes']} probes; "
          f"{len(r['differs'])} differ, {len(r['inert'])} inert in HF ({len(ranges)} ranges) "
          f"[{time.time() - t0:.1f} s]")
    bad = 0
    for cp in r["unfixable"]:
        print(f"not fixable by a barrier: {show(cp)} (HF differs from utf8proc, also with it as a barrier)")
        bad += 1
    for t, h, g in r["residual"][:20]:
        print(f"residual: [{hexs(t)}] -> HF [{hexs(h)}], r1c [{hexs(g)}]")
    if r["residual"]:
        print(f"{len(r['residual'])} probes differ from HF with the whole table")
        bad += 1
    if args.verbose or not (args.check or args.write):
        print(format_table(ranges))
    if args.write:
        text, m, _ = read_table(args.write)
        text = text[:m.start(2)] + format_table(ranges) + text[m.end(2):]
        with open(args.write, "w", encoding="utf-8") as f:
            f.write(text)
        print(f"wrote {len(ranges)} ranges to {args.write}")
    if args.check:
        _, _, committed = read_table(args.check)
        have = {cp for a, b in committed for cp in range(a, b + 1)}
        want = set(r["inert"])
        if committed != ranges:
            for cp in sorted(want - have):
                print(f"missing from {args.check}: {show(cp)}")
            for cp in sorted(have - want):
                print(f"in {args.check} but not inert in HF: {show(cp)}")
            if have == want:
                print(f"{args.check}: ranges not sorted/merged as generated")
            print(f"{args.check} is out of date: run {sys.argv[0]} --write {args.check}")
            bad += 1
        else:
            print(f"{args.check}: table matches ({len(ranges)} ranges)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
