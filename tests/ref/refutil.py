"""What the reference scripts share: PASS/FAIL lines with a failure flag, and the
rollouts table's blobs (little-endian int32 token ids, float32 log-probabilities).

    from refutil import report, ints, floats
    report(good, "name", "detail")   # prints PASS:/FAIL:, remembers a failure
    sys.exit(refutil.status())       # 0 when nothing failed
"""
import array
import sys

failed = False


def report(good, name, detail=""):
    global failed
    failed |= not good
    print(f"{'PASS' if good else 'FAIL'}: {name}" + (f" {detail}" if detail else ""))


def status():
    return 1 if failed else 0


def _array(kind, blob):
    a = array.array(kind)
    a.frombytes(blob)
    if sys.byteorder != "little":
        a.byteswap()
    return a


def ints(blob):
    return list(_array("i", blob))


def floats(blob):
    return list(_array("f", blob))


def _blob(kind, xs):
    a = array.array(kind, xs)
    if sys.byteorder != "little":
        a.byteswap()
    return a.tobytes()


def blob_i32(xs):
    return _blob("i", xs)


def blob_f32(xs):
    return _blob("f", xs)
