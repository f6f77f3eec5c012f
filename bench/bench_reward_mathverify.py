#!/usr/bin/env python3
"""Accuracy reward with math-verify, as open-r1's accuracy_reward computes it, on
the completions bench_reward wrote (JSONL: completion, gold, r1c_accuracy).

    bench_reward_mathverify.py --data FILE [--limit 1000]

Prints one JSON line: completions scored per second on one core (accuracy only),
and how often its verdict agrees with r1c's on the same completions."""
import argparse
import json
import sys
import time

from latex2sympy2_extended import NormalizationConfig
from math_verify import LatexExtractionConfig, parse, verify


def accuracy(completion, gold):
    """open-r1's accuracy_reward for one completion: None when the gold does not parse."""
    gold_parsed = parse(gold, extraction_mode="first_match")
    if len(gold_parsed) == 0:
        return None
    answer_parsed = parse(
        completion,
        extraction_config=[
            LatexExtractionConfig(
                normalization_config=NormalizationConfig(
                    nits=False, malformed_operators=False, basic_latex=True, boxed="all",
                    units=True),  # open-r1 also sets equations=True: deprecated (a no-op) in 0.9
                boxed_match_priority=0,
                try_extract_without_anchor=False,
            )
        ],
        extraction_mode="first_match",
    )
    try:
        return float(verify(gold_parsed, answer_parsed))
    except Exception:  # open-r1 scores a verify failure as 0
        return 0.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--limit", type=int, default=1000)
    a = ap.parse_args()
    rows = [json.loads(line) for line in open(a.data, encoding="utf-8")][: a.limit]
    # The gold goes in as LaTeX math, as open-r1's datasets give their solutions.
    golds = [f"${r['gold']}$" for r in rows]
    accuracy(rows[0]["completion"], golds[0])  # imports and caches warm up
    t0 = time.perf_counter()
    scores = [accuracy(r["completion"], g) for r, g in zip(rows, golds)]
    dt = time.perf_counter() - t0
    agree = sum(s == r["r1c_accuracy"] for s, r in zip(scores, rows))
    shown = 0
    for s, r in zip(scores, rows):
        if s != r["r1c_accuracy"] and shown < 10:
            shown += 1
            print(f"disagree: gold {r['gold']!r} math-verify {s} r1c {r['r1c_accuracy']} "
                  f"end {r['completion'][-60:]!r}", file=sys.stderr)
    defined = [s for s in scores if s is not None]
    print(json.dumps({
        "impl": "math-verify",
        "completions_per_s": len(rows) / dt,
        "n": len(rows),
        "accuracy_mean": sum(defined) / max(1, len(defined)),
        "agree_with_r1c": agree / len(rows),
    }))


if __name__ == "__main__":
    main()
