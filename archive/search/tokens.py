"""How text becomes index tokens: runs of letters, digits and CJK characters, as bigrams.

Every *run* (maximal sequence of letters, digits and CJK characters, Latin folded to lower case)
becomes its overlapping bigrams plus its last character alone (``咸宁市`` → ``咸宁 宁市 市``,
``GDP增长`` → ``gd dp p增 增长 长``). Runs mix digits, Latin and CJK, so ``2020年``, ``5G`` and
``GDP增长`` are one run; and since a run's stream ends with a lone character, a phrase of bigrams
never straddles two runs.
"""
from __future__ import annotations

import operator
import re

#: A run: letters, digits and CJK characters (Unicode alphanumerics), without "_".
RUN = re.compile(r"[^\W_]+")
#: Bump whenever fold(), RUN or tokenize_for_index() change: the index is then rebuilt.
TOKENS_VERSION = "bigram-v1"


def fold(text: str) -> str:
    """Lower-case ``text`` keeping its length, so offsets in the folded text are offsets in the original.

    Final sigma is folded to σ because ``str.lower`` is context-sensitive for it (``ΑΣ`` alone
    lowers to ``ας`` but inside ``ΑΣΒ`` to ``ασ``), which would break substring matching.
    """
    lowered = text.lower()
    if len(lowered) != len(text):  # e.g. "İ" lowers to two characters: keep such characters
        lowered = "".join(c if len(low := c.lower()) != 1 else low for c in text)
    return lowered.replace("ς", "σ")


def bigrams(run: str) -> list[str]:
    """Overlapping character pairs: a query phrase of them matches only inside one run."""
    return list(map(operator.add, run, run[1:]))


def tokenize_for_index(text: str) -> str:
    """The token stream stored for ``text``: per run, its bigrams then its last character."""
    tokens: list[str] = []
    for run in RUN.findall(fold(text or "")):
        tokens += bigrams(run)
        tokens.append(run[-1])
    return " ".join(tokens)
