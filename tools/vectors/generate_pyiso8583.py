#!/usr/bin/env python3
"""Cross-implementation ISO 8583 test vectors made with pyiso8583 4.0.1.

Writes harness/tests/vectors/pyiso8583.json: messages encoded by pyiso8583
with `iso8583.specs.default` (ASCII MTI, fields and length prefixes, binary
bitmaps). "valid" vectors hold the bytes and the decoded fields (bitmaps left
out); "invalid" vectors hold bytes that `iso8583.decode` rejects with
DecodeError, and that error's field, pos and message.

Rerun from the repository root:

    pip install pyiso8583==4.0.1 && python3 tools/vectors/generate_pyiso8583.py

The output is committed; the Rust tests only read the JSON and do not need
Python. The generator is deterministic (random.Random(8583), no clock), so a
rerun gives a byte-identical file.

Field content follows the ISO 8583:1987 types, which our Rust decoder enforces
and pyiso8583 does not: n is digits only, x+n is 'C'/'D' then digits, b is
uppercase hex, everything else printable ASCII. Field 65 is never set.

pyiso8583 4.0.1 behaviour worth knowing (found while writing this):
- Bit 65 means a tertiary bitmap: decode reads 8 more bytes for fields
  129-192. If any of those bits is set it raises KeyError('129') etc., not
  DecodeError. If all are zero the message is accepted and the decoded "1" is
  32 hex digits; encode cannot reproduce those bytes. A truncated tertiary
  bitmap reports "Field data is 11 bytes, expecting 16: field 1".
- An all-zero secondary bitmap (bit 1 set, no field 65-128) is accepted;
  encode drops it, so such bytes do not round-trip.
- LL/LLL prefixes go through Python int(): " 5", "+5", "5 ", "\\t5", "5\\n"
  and (LLL) "1_0" are accepted; "-0" and "+0" mean 0; "-5" gives
  "Field data is 0 bytes, expecting -5".
- The MTI and n/x+n/text fields accept any 7-bit ASCII, control characters
  included; only bytes 0x80-0xFF are rejected. Fields 64 and 128 may coexist.
Mutations that pyiso8583 accepts or that crash it are skipped, not recorded.
"""

import copy
import json
import random
import re
from pathlib import Path

import iso8583
import iso8583.specs

VERSION = "4.0.1"
SPEC = iso8583.specs.default
OUTPUT = Path(__file__).resolve().parents[2] / "harness/tests/vectors/pyiso8583.json"
RNG = random.Random(8583)

NUMERIC = set(range(2, 28)) | {32, 33, 49, 50, 51, 53} | set(range(66, 91)) | {99, 100}
SIGNED = {28, 29, 30, 31, 97}
BINARY = {52, 55, 64, 96, 128}
DATA_FIELDS = [n for n in range(2, 129) if n != 65]
VARIABLE = [n for n in DATA_FIELDS if SPEC[str(n)]["len_type"] != 0]
PRINTABLE = "".join(chr(c) for c in range(0x20, 0x7F))


def max_len(n):
    return SPEC[str(n)]["max_len"]


def digits(count):
    return "".join(RNG.choice("0123456789") for _ in range(count))


def value(n, length=None):
    """Random content for field n; length counts characters (bytes if binary)."""
    if length is None:
        length = RNG.randint(0, max_len(n)) if n in VARIABLE else max_len(n)
    if n in BINARY:
        return bytes(RNG.randrange(256) for _ in range(length)).hex().upper()
    if n in SIGNED:
        return RNG.choice("CD") + digits(length - 1)
    if n in NUMERIC:
        return digits(length)
    return "".join(RNG.choice(PRINTABLE) for _ in range(length))


def units(n, text):
    return len(text) // 2 if n in BINARY else len(text)


def pattern(n):
    """Allowed content of field n (0 stands for the MTI)."""
    if n in BINARY:
        return "[0-9A-F]*"
    if n in SIGNED:
        return "[CD][0-9]*"
    if n in NUMERIC or n == 0:
        return "[0-9]*"
    return "[ -~]*"


def check_rules(fields):
    """Assert the content rules of the module docstring."""
    for key, text in fields.items():
        n = 0 if key == "t" else int(key)
        assert re.fullmatch(pattern(n), text) and n not in (1, 65), (key, text)
        size, limit = units(n, text), SPEC[key]["max_len"]
        assert size == limit or (n in VARIABLE and size <= limit), (key, text)


# ------------------------------------------------------------ realistic

def pan():
    """A Visa-like PAN of 16 to 19 digits with a valid Luhn check digit."""
    body = "4" + digits(RNG.randint(14, 17))
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return body + str((10 - total % 10) % 10)


def mmdd():
    return "%02d%02d" % (RNG.randint(1, 12), RNG.randint(1, 28))


def hhmmss():
    return "%02d%02d%02d" % (RNG.randint(0, 23), RNG.randint(0, 59), RNG.randint(0, 59))


def terminal_fields(card=True):
    f = {"7": mmdd() + hhmmss(), "11": digits(6), "12": hhmmss(), "13": mmdd(),
         "32": digits(RNG.randint(6, 11)), "37": digits(12),
         "41": "TERM%04d" % RNG.randint(1, 9999),
         "42": ("MERCH%06d" % RNG.randint(1, 999999)).ljust(15),
         "49": RNG.choice(["978", "392", "048", "156"])}
    if card:
        f.update({"2": pan(), "14": "%02d%02d" % (RNG.randint(26, 35), RNG.randint(1, 12)),
                  "22": RNG.choice(["051", "021", "012", "071"]), "25": "00"})
    return f


def request(mti, code):
    f = terminal_fields()
    cents = 0 if code == "310000" else RNG.randint(1, 500000)
    f.update({"t": mti, "3": code, "4": "%012d" % cents})
    if RNG.random() < 0.5:  # track 2: PAN=YYMM, service code, discretionary data
        f["35"] = f["2"] + "=" + f["14"] + "201" + digits(RNG.randint(0, 29 - len(f["2"])))
    if RNG.random() < 0.4:
        f["52"] = value(52)
    if f["22"] == "051":  # chip read: a few EMV tags
        f["55"] = "9F0206" + f["4"] + "5F2A020" + f["49"] + "9A0325" + f["13"] + \
            "9C01" + f["3"][:2] + "9F3704" + value(55, 4)
    if RNG.random() < 0.4:
        city, country = RNG.choice([("PARIS", "FR"), ("TOKYO", "JP"), ("ROSARIO", "AR")])
        shop = RNG.choice(["ACME STORE", "CAFE DU MONDE", "KONBINI #7", "O'BRIEN & SONS"])
        f["43"] = shop.ljust(23) + city.ljust(15) + country
    return f


def response(req, mti, rc):
    keep = ["2", "3", "4", "7", "11", "12", "13", "24", "32", "37", "41", "42", "49", "60",
            "70", "90"]
    f = {k: req[k] for k in keep if k in req}
    f.update({"t": mti, "39": rc})
    if rc == "00" and mti in ("0210", "0330"):
        f["38"] = "".join(RNG.choice("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789") for _ in range(6))
    if rc == "00" and req.get("3") == "310000":
        f["54"] = "0002" + req["49"] + "C" + "%012d" % RNG.randint(0, 10 ** 7)
    return f


def settlement():
    f = terminal_fields(card=False)
    credit_sum, debit_sum = RNG.randint(0, 10 ** 7), RNG.randint(10 ** 5, 10 ** 9)
    net = debit_sum - credit_sum
    f.update({"t": "0500", "3": "920000", "24": "001", "60": "%06d" % RNG.randint(1, 999),
              "74": "%010d" % RNG.randint(0, 99), "76": "%010d" % RNG.randint(1, 999),
              "86": "%016d" % credit_sum, "88": "%016d" % debit_sum,
              "97": ("C" if net >= 0 else "D") + "%016d" % abs(net)})
    return f


def with_mac(fields):
    """MAC in 64, or in 128 when the message has a secondary bitmap."""
    mac = 128 if any(65 <= int(k) <= 127 for k in fields if k != "t") else 64
    fields[str(mac)] = value(mac)
    return fields


def realistic():
    out = []
    declines = iter(["51", "13", "05", "14", "54", "55", "91", "61"])
    for kind, code, count in [("sale", "000000", 10), ("refund", "200000", 5),
                              ("void", "020000", 5), ("balance", "310000", 5)]:
        for i in range(1, count + 1):
            req = request("0200", code)
            rc = next(declines) if i % 3 == 0 else "00"
            word = "approved" if rc == "00" else "declined_" + rc
            out.append(("%s_0200_%02d" % (kind, i), req))
            out.append(("%s_0210_%s_%02d" % (kind, word, i), response(req, "0210", rc)))
    for i in range(1, 5):
        out.append(("sale_repeat_0201_%02d" % i, request("0201", "000000")))
    for i in range(1, 7):
        req = request("0200", "000000")
        rev = {k: req[k] for k in ("2", "3", "4", "7", "11", "32", "37", "41", "42", "49")}
        rev["t"], rev["39"] = ("0420" if i % 2 else "0421"), RNG.choice(["68", "17", "96"])
        rev["90"] = req["t"] + req["11"] + req["7"] + req["32"].zfill(11) + "0" * 11
        out.append(("reversal_%s_%02d" % (rev["t"], i), rev))
        out.append(("reversal_0430_%02d" % i, response(rev, "0430", "00")))
    for i in range(1, 6):
        req, rc = settlement(), ("95" if i % 2 == 0 else "00")
        out.append(("settlement_0500_%02d" % i, req))
        out.append(("settlement_0510_rc%s_%02d" % (rc, i), response(req, "0510", rc)))
    for i in range(1, 6):
        item = request("0320", "000000")
        item["60"] = "0200" + digits(6) + item["37"]  # original MTI, STAN, RRN
        item["62"] = "%06d" % RNG.randint(1, 999999)  # invoice number
        out.append(("batch_upload_0320_%02d" % i, item))
        out.append(("batch_upload_0330_%02d" % i, response(item, "0330", "00")))
    for i, code in enumerate(["301", "001", "002", "301", "101"], 1):
        req = {"t": "0800", "7": mmdd() + hhmmss(), "11": digits(6), "70": code}
        if code == "101":  # key change: new working key under the master key
            req["48"] = value(52) + value(52)
        out.append(("network_0800_%s_%02d" % (code, i), req))
        out.append(("network_0810_%s_%02d" % (code, i), response(req, "0810", "00")))
    return [(name, with_mac(fields)) for name, fields in out]


# ------------------------------------------------------------ coverage and random

def random_length(n):
    """Mostly short, sometimes empty or full."""
    roll = RNG.random()
    return 0 if roll < 0.1 else max_len(n) if roll < 0.2 else RNG.randint(0, min(max_len(n), 30))


def message(mti, numbers, length_of=random_length):
    f = {"t": mti}
    for n in numbers:
        f[str(n)] = value(n, length_of(n) if n in VARIABLE else None)
    return f


def coverage():
    primary, secondary = [n for n in DATA_FIELDS if n < 65], [n for n in DATA_FIELDS if n > 65]
    out = [("mti_only_0800", {"t": "0800"}),
           ("all_primary_fields", message("0100", primary)),
           ("all_secondary_fields", message("0100", secondary)),
           ("all_fields", message("0100", DATA_FIELDS)),
           ("all_fields_max_length", message("0110", DATA_FIELDS, max_len)),
           ("all_fields_empty_variable", message("0110", DATA_FIELDS, lambda n: 0))]
    for n in DATA_FIELDS:
        if n in VARIABLE:
            out.append(("only_field_%d_empty" % n, message("0100", [n], lambda n: 0)))
            out.append(("only_field_%d_max" % n, message("0100", [n], max_len)))
        else:
            out.append(("only_field_%d" % n, message("0100", [n])))
    for i in range(1, 41):
        pool = primary if i % 2 else DATA_FIELDS
        chosen = sorted(RNG.sample(pool, RNG.randint(1, 20)))
        out.append(("random_%03d" % i, message(digits(4), chosen)))
    return out


def make_valid(name, fields):
    check_rules(fields)
    raw = bytes(iso8583.encode(copy.deepcopy(fields), SPEC)[0])  # encode adds "p"/"1"
    decoded = iso8583.decode(raw, SPEC)[0]
    numbers = sorted(int(k) for k in decoded if k not in ("t", "p", "1"))
    decoded = {"t": decoded["t"], **{str(n): decoded[str(n)] for n in numbers}}
    assert decoded == fields, name
    assert bytes(iso8583.encode(copy.deepcopy(decoded), SPEC)[0]) == raw, name
    return {"name": name, "hex": raw.hex().upper(), "fields": decoded}


def check_coverage(valid):
    counts, sizes = {n: 0 for n in DATA_FIELDS}, {n: set() for n in DATA_FIELDS}
    for vector in valid:
        for key, text in list(vector["fields"].items())[1:]:
            counts[int(key)] += 1
            sizes[int(key)].add(units(int(key), text))
    assert all(c >= 5 for c in counts.values()), counts
    assert all({0, max_len(n)} <= sizes[n] for n in VARIABLE)


# ------------------------------------------------------------ invalid

def layout(raw):
    """[(field, prefix_start, data_start, data_end)] of a valid message."""
    enc = iso8583.decode(raw, SPEC)[1]
    pos, out = (20 if "1" in enc else 12), []
    for n in sorted(int(k) for k in enc if k not in ("t", "p", "1")):
        prefix, data = enc[str(n)]["len"], enc[str(n)]["data"]
        out.append((n, pos, pos + len(prefix), pos + len(prefix) + len(data)))
        pos = out[-1][3]
    return out


def mutate_field(kind, raw, n, prefix, start, end):
    """One damaged copy of raw around field n, or None if kind does not apply."""
    width = start - prefix
    if kind == "truncated_in_length_prefix_of_field" and width > 1:
        return raw[:RNG.randrange(prefix + 1, start)]
    if kind == "truncated_in_field" and end > start + 1:
        return raw[:RNG.randrange(start + 1, end)]
    if kind == "missing_last_field" and end == len(raw):
        return raw[:prefix]
    if kind == "non_digit_length_of_field" and width:
        # Not " 5", "+5", "-0": Python's int() accepts them (see the docstring).
        bad = RNG.choice([b"AB", b"1A", b"  ", b"x9", b"-5", b"0_", b"\xff1", b":5", b"/1"])
        return raw[:prefix] + bad[:width].rjust(width, b"0") + raw[start:]
    if kind == "length_above_max_of_field" and width and max_len(n) < 10 ** width - 1:
        big = RNG.choice([max_len(n) + 1, 10 ** width - 1])
        return raw[:prefix] + b"%0*d" % (width, big) + raw[start:]
    if kind == "non_ascii_in_field" and end > start and n not in BINARY:
        at = RNG.randrange(start, end)
        return raw[:at] + bytes([RNG.randint(0x80, 0xFF)]) + raw[at + 1:]
    return None


def mutations(pool):
    """Yield (name, bytes) candidates made from the valid messages in pool."""
    yield "empty_input", b""
    for k in (1, 2, 3):
        yield "truncated_in_mti", RNG.choice(pool)[:k]
    for k in (0, 1, 4, 7):
        yield "truncated_in_primary_bitmap", RNG.choice(pool)[:4 + k]
    with_secondary = [raw for raw in pool if raw[4] & 0x80]
    for k in (0, 1, 5, 7):
        yield "truncated_in_secondary_bitmap", RNG.choice(with_secondary)[:12 + k]
    for kind, quota in [("truncated_in_length_prefix_of_field", 6), ("truncated_in_field", 10),
                        ("missing_last_field", 4), ("non_digit_length_of_field", 7),
                        ("length_above_max_of_field", 6), ("non_ascii_in_field", 6)]:
        while quota:
            raw = RNG.choice(pool)
            n, prefix, start, end = RNG.choice(layout(raw))
            data = mutate_field(kind, raw, n, prefix, start, end)
            if data is not None:
                quota -= 1
                yield "%s_%d" % (kind, n), data
    for extra in (b"0", b"\x00", b" ", b"XYZ"):
        yield "trailing_bytes", RNG.choice(pool) + extra
    for raw in RNG.sample(pool, 2):
        at = RNG.randrange(4)
        yield "non_ascii_in_mti", raw[:at] + bytes([RNG.randint(0x80, 0xFF)]) + raw[at + 1:]
    for raw in RNG.sample(pool, 6):  # a bit after the last field: its data is absent
        last = layout(raw)[-1][0]
        free = [n for n in DATA_FIELDS if n > last and (n < 65 or raw[4] & 0x80)]
        if free:
            n = RNG.choice(free) - 1
            at = (4 if n < 64 else 12) + n % 64 // 8
            flipped = bytes([raw[at] | 0x80 >> n % 8])
            yield "bit_set_field_absent", raw[:at] + flipped + raw[at + 1:]


def make_invalid(pool):
    out, seen, names = [], set(), {}
    for name, data in mutations(pool):
        if data in seen:
            continue
        try:
            iso8583.decode(data, SPEC)
            continue  # accepted: not an invalid vector
        except iso8583.DecodeError as err:
            error = err
        except Exception:
            continue  # pyiso8583 crashed: skipped
        seen.add(data)
        names[name] = names.get(name, 0) + 1
        unique = name if names[name] == 1 else "%s_%d" % (name, names[name])
        out.append({"name": unique, "hex": data.hex().upper(), "field": error.field,
                    "pos": error.pos, "error": str(error)})
    return out


def main():
    assert iso8583.__version__ == VERSION, iso8583.__version__
    valid = [make_valid(name, fields) for name, fields in realistic() + coverage()]
    assert len({v["name"] for v in valid}) == len(valid)
    check_coverage(valid)
    invalid = make_invalid([bytes.fromhex(v["hex"]) for v in valid if len(v["fields"]) > 1])
    doc = {"generator": "tools/vectors/generate_pyiso8583.py", "pyiso8583": VERSION,
           "spec": "iso8583.specs.default", "valid": valid, "invalid": invalid}
    text = json.dumps(doc, indent=1, sort_keys=False, ensure_ascii=True) + "\n"
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(text, encoding="ascii")
    print("%s: %d valid, %d invalid, %d bytes" % (OUTPUT, len(valid), len(invalid), len(text)))


if __name__ == "__main__":
    main()
