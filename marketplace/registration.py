"""Business registration numbers: China's 18-character unified social credit code
(GB 32100-2015), checked by its check digit."""

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # 31 characters: no I, O, S, V, Z
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def normalise_uscc(code: str) -> str:
    return code.strip().upper().replace(" ", "").replace("-", "")


def uscc_valid(code: str) -> bool:
    """Whether ``code`` is a well-formed unified social credit code whose 18th
    character is the GB 32100 check digit of the first 17."""
    code = normalise_uscc(code)
    if len(code) != 18 or any(char not in USCC_ALPHABET for char in code):
        return False
    total = sum(
        USCC_ALPHABET.index(char) * weight
        for char, weight in zip(code[:17], USCC_WEIGHTS, strict=True)
    )
    check = (31 - total % 31) % 31
    return USCC_ALPHABET[check] == code[17]
