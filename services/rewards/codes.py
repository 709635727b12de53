"""Reward codes: unguessable, in an alphabet a person reads back without mistakes.

Generated codes are 16 symbols of Crockford's base32 (digits and letters without I, L, O and U),
80 bits from `secrets`, shown in groups of four: `7KQ2-M9XD-4HTB-0WZC`. A till may type them in any
case, with or without the dashes or spaces, and with O for 0 or I/L for 1; `canonical` maps all of
that to the stored form. Partner codes are stored as imported.
"""

import re
import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
SYMBOLS = 16  # 16 symbols x 5 bits = 80 bits of randomness
GROUP = 4
BITS = SYMBOLS * 5
CODE_LENGTH_MAX = 64
SUFFIX_LENGTH_MAX = 4  # characters of a code shown in events, for support
_LOOK_ALIKES = str.maketrans({"O": "0", "I": "1", "L": "1"})
_SEPARATORS = re.compile(r"[\s-]+")
_CANONICAL = re.compile(f"^[{ALPHABET}]{{{SYMBOLS}}}$")
_PARTNER = re.compile(r"^[\x21-\x7e]{1,64}$")

assert len(ALPHABET) == 32 and not set("ILOU") & set(ALPHABET)


def generate() -> str:
    """A new code in canonical form."""
    value = secrets.randbits(BITS)
    return "".join(ALPHABET[(value >> (5 * i)) & 31] for i in range(SYMBOLS))


def display(code: str) -> str:
    """How a generated code is shown to the member; partner codes are shown as they are."""
    if not _CANONICAL.fullmatch(code):
        return code
    return "-".join(code[i : i + GROUP] for i in range(0, SYMBOLS, GROUP))


def canonical(typed: str) -> str | None:
    """The stored form of a typed generated code, or None if it cannot be one."""
    candidate = _SEPARATORS.sub("", typed).upper().translate(_LOOK_ALIKES)
    return candidate if _CANONICAL.fullmatch(candidate) else None


def lookup_forms(typed: str) -> list[str]:
    """The stored forms a presented code may have: as a generated code and as a partner code."""
    forms = [typed.strip()]
    generated = canonical(typed)
    if generated is not None and generated not in forms:
        forms.append(generated)
    return forms


def is_partner_code(code: str) -> bool:
    """A partner code is 1-64 printable ASCII characters without spaces."""
    return bool(_PARTNER.fullmatch(code))


def suffix(code: str) -> str:
    """The last characters of a code, for support; never the whole code: the last four, and at
    most half of it, so a partner's short code (1 to 64 characters) is not given away whole by
    the events that carry its suffix (nothing of a code of one character)."""
    shown = min(SUFFIX_LENGTH_MAX, len(code) // 2)
    return code[len(code) - shown :]
