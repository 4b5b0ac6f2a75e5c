"""How text becomes index tokens: runs of letters, digits and CJK characters, as bigrams.

Every *run* (maximal sequence of letters, digits and CJK characters, Latin folded to lower case)
becomes its overlapping bigrams plus its last character alone (``咸宁市`` → ``咸宁 宁市 市``,
``GDP增长`` → ``gd dp p增 增长 长``). Runs mix digits, Latin and CJK, so ``2020年``, ``5G`` and
``GDP增长`` are one run; and since a run's stream ends with a lone character, a phrase of bigrams
never straddles two runs.
"""
from __future__ import annotations

import io
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


#: Characters of a run turned into bigrams at a time (bounds the memory of a huge body).
_SLICE = 1 << 16


def tokenize_for_index(text: str) -> str:
    """The token stream stored for ``text``: per run, its bigrams then its last character.

    Written a slice of a run at a time: a body of millions of characters never becomes a
    list of millions of two-character strings (the stream costs about 3× the text, no more).
    """
    stream = io.StringIO()
    separator = ""
    for match in RUN.finditer(fold(text or "")):
        run = match.group()
        for start in range(0, len(run) - 1, _SLICE):
            stream.write(separator)
            stream.write(" ".join(bigrams(run[start:start + _SLICE + 1])))
            separator = " "
        stream.write(separator)
        stream.write(run[-1])
        separator = " "
    return stream.getvalue()
