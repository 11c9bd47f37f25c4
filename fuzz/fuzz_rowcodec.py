"""Fuzz the typed row/key codec (lsmdb/_core/rowcodec.pyx) for every column type.

Each input names a mode, a few column type specs and key flags, then a payload:
  mode 0  decode_row / decode_row_columns of the payload
  mode 1  decode_key of the payload
  mode 2  the payload drives a FuzzedDataProvider that builds a row of values for the specs
Decoding hostile bytes may only raise CorruptionError; whatever decodes must re-encode to
bytes that decode to the same values, and re-encode identically (a fixed point). Built values
may be rejected only with InvalidArgumentError, by normalize() and encode_row() alike; accepted
ones must round-trip through the row format and the key format.

    python fuzz/fuzz_rowcodec.py -max_total_time=60 fuzz/corpus/rowcodec
    python fuzz/fuzz_rowcodec.py --make-corpus fuzz/corpus/rowcodec

Input: mode byte % 3, column count byte % 4 + 1, one spec per column (byte % 17 + 1 = type
code; VECTOR then a dims byte % 4 + 1; ARRAY then its element spec, at most 3 levels), one
flags byte (2 bits per column), the number of key columns to decode (byte % (count + 1)),
then the payload.
"""

import datetime as dt
import math
import os
import uuid
from decimal import Decimal

import atheris
import fuzzmain

with atheris.instrument_imports(include=["lsmdb"]):
    from lsmdb._core import rowcodec as rc

# The codec is C (coverage comes from the sanitized build, fuzz/build_sanitized.sh); the
# harness's own functions are instrumented too, so that mutations reaching new types, modes
# and value shapes count as progress in any build.

from lsmdb.errors import CorruptionError, InvalidArgumentError

MAX_SPEC_DEPTH = 3
US_MAX = (dt.datetime.max - dt.datetime.min) // dt.timedelta(microseconds=1)
DELTA_MIN_US = dt.timedelta.min // dt.timedelta(microseconds=1)
DELTA_MAX_US = dt.timedelta.max // dt.timedelta(microseconds=1)


class _Input(fuzzmain.ByteInput):
    def spec(self, depth: int = 0) -> tuple:
        code = self.byte() % 17 + 1
        if code == rc.T_VECTOR:
            return (code, self.byte() % 4 + 1)
        if code == rc.T_ARRAY:
            if depth >= MAX_SPEC_DEPTH:
                return (rc.T_INT,)
            return (code, self.spec(depth + 1))
        return (code,)


def spec_bytes(spec: tuple) -> bytes:
    """Inverse of _Input.spec, for seeds."""
    if spec[0] == rc.T_VECTOR:
        return bytes([spec[0] - 1, spec[1] - 1])
    if spec[0] == rc.T_ARRAY:
        return bytes([spec[0] - 1]) + spec_bytes(spec[1])
    return bytes([spec[0] - 1])


def make_input(mode: int, specs: tuple, flags: tuple, payload: bytes) -> bytes:
    packed = sum(f << (2 * i) for i, f in enumerate(flags))
    return (bytes([mode, len(specs) - 1]) + b"".join(spec_bytes(s) for s in specs)
            + bytes([packed, len(specs)]) + payload)


def same(a, b) -> bool:
    """Equality of decoded values: NaN equals NaN, numpy arrays element-wise."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    if isinstance(a, Decimal) and isinstance(b, Decimal) and a.is_nan():
        return b.is_nan()
    if hasattr(a, "dtype") or hasattr(b, "dtype"):
        return hasattr(a, "dtype") and hasattr(b, "dtype") and a.tolist() == b.tolist()
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return a == b


def check_row_fixed_point(specs: tuple, row: tuple) -> None:
    once = rc.encode_row(specs, row)
    again = rc.decode_row(specs, once)
    if not same(row, again) or rc.encode_row(specs, again) != once:
        raise AssertionError(f"row not stable: {row!r} -> {once.hex()} -> {again!r}")


def check_key_fixed_point(specs: tuple, flags: tuple, values: tuple) -> None:
    once = rc.encode_key(specs, values, flags)
    again, used = rc.decode_key(specs, flags, once, len(values))
    if used != len(once) or rc.encode_key(specs, again, flags) != once:
        raise AssertionError(f"key not stable: {values!r} -> {once.hex()} -> {again!r}")


@atheris.instrument_func
def json_value(fdp, depth: int):
    kind = fdp.ConsumeIntInRange(0, 7 if depth < 4 else 5)
    if kind == 0:
        return None
    if kind == 1:
        return fdp.ConsumeBool()
    if kind == 2:
        return fdp.ConsumeInt(fdp.ConsumeIntInRange(1, 12))
    if kind == 3:
        return fdp.ConsumeFloat()
    if kind in (4, 5):
        return fdp.ConsumeUnicodeNoSurrogates(fdp.ConsumeIntInRange(0, 6))
    if kind == 6:
        return [json_value(fdp, depth + 1) for _ in range(fdp.ConsumeIntInRange(0, 3))]
    return {fdp.ConsumeUnicodeNoSurrogates(3): json_value(fdp, depth + 1)
            for _ in range(fdp.ConsumeIntInRange(0, 3))}


@atheris.instrument_func
def value_for(fdp, spec: tuple):
    """A value for ``spec`` (None sometimes); may be invalid (out of range, non-finite)."""
    if fdp.ConsumeIntInRange(0, 7) == 0:
        return None
    code = spec[0]
    if code == rc.T_BOOLEAN:
        return fdp.ConsumeBool()
    if code == rc.T_INT:
        return fdp.ConsumeIntInRange(-(2**31) - 1, 2**31)
    if code == rc.T_BIGINT:
        return fdp.ConsumeInt(9)
    if code in (rc.T_REAL, rc.T_DOUBLE):
        return fdp.ConsumeFloat()
    if code == rc.T_NUMERIC:
        pick = fdp.ConsumeIntInRange(0, 5)
        if pick == 0:
            return Decimal(fdp.PickValueInList(["NaN", "Infinity", "-Infinity", "-0", "sNaN"]))
        return Decimal(f"{fdp.ConsumeInt(fdp.ConsumeIntInRange(1, 20))}"
                       f"E{fdp.ConsumeIntInRange(-17000, 17000)}")
    if code == rc.T_TEXT:
        return fdp.ConsumeUnicode(fdp.ConsumeIntInRange(0, 8))
    if code == rc.T_BLOB:
        return fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 8))
    if code == rc.T_DATE:
        return dt.date.fromordinal(fdp.ConsumeIntInRange(1, dt.date.max.toordinal()))
    if code == rc.T_TIME:
        us = fdp.ConsumeIntInRange(0, 86400 * 10**6 - 1)
        return (dt.datetime.min + dt.timedelta(microseconds=us)).time()
    if code in (rc.T_TIMESTAMP, rc.T_TIMESTAMPTZ):
        ts = dt.datetime.min + dt.timedelta(microseconds=fdp.ConsumeIntInRange(0, US_MAX))
        if code == rc.T_TIMESTAMPTZ:
            minutes = fdp.ConsumeIntInRange(-(24 * 60 - 1), 24 * 60 - 1)
            ts = ts.replace(tzinfo=dt.timezone(dt.timedelta(minutes=minutes)))
        return ts
    if code == rc.T_INTERVAL:
        return dt.timedelta(microseconds=fdp.ConsumeIntInRange(DELTA_MIN_US, DELTA_MAX_US))
    if code == rc.T_UUID:
        return uuid.UUID(bytes=fdp.ConsumeBytes(16).ljust(16, b"\x00"))
    if code == rc.T_JSONB:
        v = json_value(fdp, 0)
        return rc.JSON_NULL if v is None else v
    if code == rc.T_VECTOR:
        return [fdp.ConsumeRegularFloat() for _ in range(spec[1])]
    return [value_for(fdp, spec[1]) for _ in range(fdp.ConsumeIntInRange(0, 4))]


@atheris.instrument_func
def fuzz_values(specs: tuple, flags: tuple, payload: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(payload)
    row = tuple(value_for(fdp, s) for s in specs)
    try:
        data = rc.encode_row(specs, row)
    except InvalidArgumentError as exc:
        bad = exc.column
        try:
            rc.normalize(specs[bad], row[bad])
        except InvalidArgumentError:
            pass
        else:
            raise AssertionError(f"encode_row rejects {row[bad]!r}, normalize accepts it") from None
        return
    want = tuple(rc.normalize(s, v) for s, v in zip(specs, row, strict=True))
    got = rc.decode_row(specs, data)
    if not same(want, got):
        raise AssertionError(f"row round trip: {row!r} -> {got!r}, normalize: {want!r}")
    check_row_fixed_point(specs, got)
    check_key_fixed_point(specs, flags, row)


@atheris.instrument_func
def TestOneInput(data: bytes) -> None:
    inp = _Input(data)
    try:
        mode = inp.byte() % 3
        specs = tuple(inp.spec() for _ in range(inp.byte() % 4 + 1))
        packed = inp.byte()
        ncols = inp.byte() % (len(specs) + 1)
    except EOFError:
        return
    flags = tuple((packed >> (2 * i)) & 3 for i in range(len(specs)))
    payload = data[inp.pos:]
    if mode == 2:
        fuzz_values(specs, flags, payload)
        return
    if mode == 0:
        try:
            row = rc.decode_row(specs, payload)
        except CorruptionError:
            return
        check_row_fixed_point(specs, row)
        picked = rc.decode_row_columns(specs, payload, tuple(reversed(range(len(specs)))))
        if not same(picked, row[::-1]):
            raise AssertionError(f"decode_row_columns {picked!r} != {row!r}")
        return
    try:
        values, used = rc.decode_key(specs, flags, payload, ncols)
    except CorruptionError:
        return
    if used > len(payload) or rc.encode_key(specs, values, flags) != payload[:used]:
        # Decoding is strict (canonical forms only), so the bytes it accepts re-encode
        # identically; anything else is a bug in one of the two directions.
        raise AssertionError(f"key {payload[:used].hex()} decodes to {values!r}, which "
                             f"encodes differently")


def make_corpus(directory: str) -> None:
    os.makedirs(directory, exist_ok=True)
    five = ((rc.T_INT,), (rc.T_TEXT,), (rc.T_DOUBLE,), (rc.T_TIMESTAMP,), (rc.T_BIGINT,))
    seeds = {
        "row_scalars": (five[:4], (0, 1, 2, 3),
                        (7, "a\x00b", -0.0, dt.datetime(2024, 1, 2, 3, 4, 5, 6))),
        "row_nulls": (five[:3], (0, 0, 0), (None, "x", None)),
        "numeric_json": (((rc.T_NUMERIC,), (rc.T_JSONB,), (rc.T_UUID,)), (0, 3, 1),
                         (Decimal("-12.50"), {"a": [1, 2.5, None], "bb": True},
                          uuid.UUID(int=12345))),
        "vector_array": (((rc.T_VECTOR, 3), (rc.T_ARRAY, (rc.T_ARRAY, (rc.T_TEXT,)))), (1, 2),
                         ([1.0, -2.5, 3.0], [["x", None], [], None])),
        "times": (((rc.T_DATE,), (rc.T_TIME,), (rc.T_TIMESTAMPTZ,), (rc.T_INTERVAL,)),
                  (0, 1, 2, 3),
                  (dt.date(2000, 2, 29), dt.time(23, 59), dt.datetime(2020, 1, 1, tzinfo=dt.UTC),
                   dt.timedelta(days=-3, microseconds=5))),
        "misc": (((rc.T_BOOLEAN,), (rc.T_REAL,), (rc.T_BLOB,), (rc.T_NUMERIC,)), (3, 2, 1, 0),
                 (True, math.nan, b"\x00\xff", Decimal("Infinity"))),
    }
    for name, (specs, flags, row) in seeds.items():
        for mode, payload in ((0, rc.encode_row(specs, row)),
                              (1, rc.encode_key(specs, row, flags)),
                              (2, bytes(range(64)))):
            with open(os.path.join(directory, f"{name}_{mode}"), "wb") as f:
                f.write(make_input(mode, specs, flags, payload))


if __name__ == "__main__":
    fuzzmain.run(TestOneInput, make_corpus)
