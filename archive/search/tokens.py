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
from array import array
from collections.abc import Iterator, Sequence

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


def has_case(text: str) -> bool:
    """Whether ``text`` holds a letter with case (Latin, Greek, Cyrillic …), which folding changes."""
    return text.lower() != text or text.upper() != text


def folded_for(text: str, needles: Sequence[str]) -> str:
    """``text`` as ``needles`` (folded words) are looked for in it: :func:`fold` of it, or the text
    itself when no needle has a letter with case (the usual Chinese or digit query). Then folding
    is of no use: a character with case never folds to one without, so the needle occurs at the
    same places in either, and a body is not copied several times per hit."""
    return fold(text) if any(has_case(needle) for needle in needles) else text


def bigrams(run: str) -> list[str]:
    """Overlapping character pairs: a query phrase of them matches only inside one run."""
    return list(map(operator.add, run, run[1:]))


#: Characters turned into bigrams at a time (bounds the memory of a huge body).
_SLICE = 1 << 16
#: A space, as one UTF-32 code unit.
_SPACE = array("I", [32])
#: Where runs are joined for the pairing (no run contains it).
_JOIN = "\x00"
#: What separates runs (the complement of :data:`RUN`).
_BETWEEN_RUNS = re.compile(r"[\W_]+")
#: A pair starting at a join: the first character of the next run, paired with nothing before it.
_ACROSS = re.compile(" \x00.")


def _pair_stream(chars: str) -> str:
    """``"abc"`` -> ``"ab bc "``: each character paired with the next, each pair followed by a space.

    Done on UTF-32 code units with array slices, in C: every other step per character of a
    body costs a Python call.
    """
    codes = array("I", chars.encode("utf-32-le"))
    stream = _SPACE * (3 * (len(codes) - 1))
    stream[0::3] = codes[:-1]
    stream[1::3] = codes[1:]
    return stream.tobytes().decode("utf-32-le")


def _stream_slices(text: str) -> Iterator[str]:
    """The token stream of ``text`` (see :func:`tokenize_for_index`), a slice of the text at a time.

    The runs are joined by NUL and paired in one pass: a pair ending in NUL is a run's last
    character alone, one starting with it spans two runs and is dropped. A slice at a time, so a
    body of millions of characters never becomes millions of Python strings.
    """
    joined = _BETWEEN_RUNS.sub(_JOIN, fold(text or "")).strip(_JOIN)
    if not joined:
        return
    for start in range(0, len(joined) - 1, _SLICE):
        stream = " " + _pair_stream(joined[start:start + _SLICE + 1])  # the space: a pair's start
        yield _ACROSS.sub("", stream)[1:].replace(_JOIN, "")
    yield joined[-1]


def tokenize_for_index(text: str) -> str:
    """The token stream stored for ``text``: per run, its bigrams then its last character
    (about 3× the text)."""
    return "".join(_stream_slices(text))


def index_stream(text: str) -> bytearray:
    """:func:`tokenize_for_index` of ``text`` in UTF-8, as the index is given it.

    Encoded a slice at a time into one buffer: the stream of a large body as a ``str`` (2-4 bytes
    a character) would be held beside the UTF-8 copy SQLite is given.
    """
    stream = bytearray()
    for piece in _stream_slices(text):
        stream += piece.encode("utf-8")
    return stream
