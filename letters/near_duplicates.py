"""Telling a copied personal part from a resident's own words: word shingles and MinHash.

A personal part becomes the set of its two-word shingles (after folding case, accents and
punctuation, so "Facial recognition, in MY street!" and "facial recognition in my street"
are the same text). MinHash turns that set into SIGNATURE_SIZE numbers: two signatures agree
at each position with a probability equal to the two sets' Jaccard similarity. The signature
is cut into BANDS bands of ROWS numbers, and each band hashes to one key (locality-sensitive
hashing): two texts at 0.6 similarity share a band key nine times in ten, two texts at 0.3
about one time in eight. The keys are stored per letter (PersonalPartBand), so finding the
candidates is an indexed lookup; the stored signatures then estimate each candidate's
similarity.

Pure Python on purpose: datasketch does the same in numpy and needs numpy and scipy; this is
a few dozen lines. Each shingle's SIGNATURE_SIZE hash values are one SHAKE-128 digest (one C
call, cut into 32-bit numbers), and the minimum per position is taken by map(min, zip(...)):
a 2,000-character message takes 3.1 ms, where a (a*x + b) mod p loop per permutation took
16.9 ms (bench/near_duplicates.py, "fingerprint alone"; most of what the check adds to Send).
"""

import hashlib
import re
import struct
import unicodedata
from dataclasses import dataclass

SHINGLE_WORDS = 2
BANDS = 16
ROWS = 4
SIGNATURE_SIZE = BANDS * ROWS
# Shorter personal parts are never compared: "I agree with this letter." is not a copy.
MIN_WORDS = 8
# The estimated Jaccard similarity from which two personal parts count as near-identical:
# a copy with a word or two changed stays above it, two residents' own stories stay far below.
SIMILARITY = 0.6

# Each shingle hashes to SIGNATURE_SIZE independent 32-bit values: the digest depends on the
# text alone (no per-process seed), so signatures stored today compare with next year's.
_VALUES = struct.Struct(f"<{SIGNATURE_SIZE}I")
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Fingerprint:
    signature: list[int]
    band_keys: list[int]


def words(text: str) -> list[str]:
    """The words of a text, without case, accents or punctuation."""
    folded = unicodedata.normalize("NFKD", text or "")
    folded = "".join(char for char in folded if not unicodedata.combining(char))
    return _WORD.findall(folded.casefold())


def fingerprint(text: str) -> Fingerprint | None:
    """The MinHash signature and band keys of a personal part, or None when it is too short
    to compare (fewer than MIN_WORDS words)."""
    tokens = words(text)
    if len(tokens) < MIN_WORDS:
        return None
    shingles = {
        " ".join(tokens[i : i + SHINGLE_WORDS]) for i in range(len(tokens) - SHINGLE_WORDS + 1)
    }
    hashed = [
        _VALUES.unpack(hashlib.shake_128(shingle.encode()).digest(_VALUES.size))
        for shingle in shingles
    ]
    signature = list(map(min, zip(*hashed, strict=True)))
    return Fingerprint(signature=signature, band_keys=band_keys(signature))


def band_keys(signature: list[int]) -> list[int]:
    """One signed 64-bit key per band (a BigIntegerField holds it), the band's number mixed
    in so that equal values in different bands do not collide."""
    keys = []
    for band in range(BANDS):
        values = signature[band * ROWS : (band + 1) * ROWS]
        digest = hashlib.blake2b(
            f"{band}:{','.join(map(str, values))}".encode(), digest_size=8
        ).digest()
        keys.append(int.from_bytes(digest, "big", signed=True))
    return keys


def similarity(first: list[int], second: list[int]) -> float:
    """The estimated Jaccard similarity of two signatures (0 when either is missing)."""
    if len(first) != SIGNATURE_SIZE or len(second) != SIGNATURE_SIZE:
        return 0.0
    return sum(1 for a, b in zip(first, second, strict=True) if a == b) / SIGNATURE_SIZE
