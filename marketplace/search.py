"""How the store's search reads text: the same tokens on PostgreSQL and SQLite.

Text is normalised (NFKC, so full-width letters become ASCII, then case-folded) and cut
into tokens: runs of letters and digits, and, since Chinese and Japanese are written
without spaces, every pair of neighbouring CJK characters (a bigram) plus the last
character of each CJK run. A query is cut the same way, and every query token must
begin some token of the listing. So "天气预报" finds "明天的天气预报" (bigrams 天气,
气预, 预报), a single 报 finds it too (报 ends a run), and "weath" finds "weather".

The tokens are stored space-separated with a space before each one, which lets
SQLite answer a query token with ``LIKE '% token%'``; PostgreSQL answers the same
question from a ``tsvector`` of the same tokens (``'token':*`` prefix queries) with a
GIN index, so both databases return the same agents for the same query.
"""

import re
import unicodedata
from collections.abc import Iterable

# Han (with the extension blocks and compatibility ideographs), the letters of kana
# and Hangul syllables. Kana punctuation (・, ゠) and sound marks are left out: they
# separate tokens, as PostgreSQL's parser takes them to.
_CJK = (
    "\u3041-\u3096\u309d-\u309f\u30a1-\u30fa\u30fc-\u30ff"
    "\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7a3\uf900-\ufaff"
    "\U00020000-\U0003134f"
)
_TOKEN = re.compile(rf"(?P<cjk>[{_CJK}]+)|(?P<word>(?:(?![{_CJK}])[^\W_])+)")
_CJK_CHAR = re.compile(rf"[{_CJK}]")

# A query keeps this many tokens; the rest are ignored.
MAX_QUERY_TOKENS = 12
# Longer tokens are cut: nobody searches for a 200-letter word, and PostgreSQL
# refuses lexemes over 2 kB.
MAX_TOKEN_LENGTH = 60


def normalise_text(text: str) -> str:
    """The form search compares: Unicode-compatible (full-width letters become
    ASCII), case-folded, with runs of white space as one space."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def tokens(text: str) -> list[str]:
    """The search tokens of ``text``, in order, repeats kept."""
    found: list[str] = []
    for match in _TOKEN.finditer(normalise_text(text)):
        run = match.group()
        if match.lastgroup == "cjk":
            found.extend(run[i : i + 2] for i in range(len(run) - 1))
            found.append(run[-1])
        else:
            found.append(run[:MAX_TOKEN_LENGTH])
    return found


def token_text(parts: Iterable[str]) -> str:
    """What the listing stores: each token once, after a space."""
    unique = dict.fromkeys(token for part in parts for token in tokens(part))
    return "".join(f" {token}" for token in unique)


def query_tokens(query: str) -> list[str]:
    """The tokens a query asks for. A CJK character that ends a run is dropped when
    the bigram before it already asks for it (天气 covers 气)."""
    wanted: list[str] = []
    for match in _TOKEN.finditer(normalise_text(query)):
        run = match.group()
        if match.lastgroup == "cjk":
            pairs = [run[i : i + 2] for i in range(len(run) - 1)]
            wanted.extend(pairs or [run])
        else:
            wanted.append(run[:MAX_TOKEN_LENGTH])
    return list(dict.fromkeys(wanted))[:MAX_QUERY_TOKENS]


def has_cjk(text: str) -> bool:
    return _CJK_CHAR.search(text) is not None
