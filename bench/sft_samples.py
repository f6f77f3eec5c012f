"""sft_samples.py N: N chat samples in the messages format of r1-data import, for the
SFT benchmarks (bench_sft.sh, bench_dist.sh): a question with numbers, a reply of
random words in <think>, then an answer line; reply lengths spread evenly (seeded,
so every run has the same data; ~100-550 tokens each with configs/tiny's tokenizer)."""
import json, random, sys

rng = random.Random(1)
words = ("the a of to and in is that it for on with as by this be are from at or an we "
         "number sum add subtract multiply divide total each step first then next so "
         "answer result check value equal twice half more less than left right count "
         "apples boxes price cost hours minutes train speed distance people groups share "
         "remainder carry digit tens ones hundred thousand square root factor prime even odd").split()


def sentence(k):
    ws = [rng.choice(words) for _ in range(k)]
    if rng.random() < 0.5:
        ws.insert(rng.randrange(len(ws)), str(rng.randrange(1000)))
    return " ".join(ws).capitalize() + rng.choice(".?.!")


for _ in range(int(sys.argv[1])):
    a, b, c = rng.randrange(10, 1000), rng.randrange(10, 1000), rng.randrange(2, 20)
    q = f"Compute {a} + {b} * {c}. " + " ".join(sentence(rng.randint(5, 12))
                                                 for _ in range(rng.randint(1, 4)))
    chars = 2.0 * rng.randint(40, 480)  # about 2-3 characters a token
    reply = []
    while sum(len(s) + 1 for s in reply) < chars:
        reply.append(sentence(rng.randint(6, 16)))
    reply = "<think>\n" + " ".join(reply) + f"\n</think>\nThe answer is {a + b * c}."
    print(json.dumps({"messages": [{"role": "user", "content": q},
                                   {"role": "assistant", "content": reply}]}))
