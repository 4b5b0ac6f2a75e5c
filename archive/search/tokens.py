"""How text becomes index tokens: runs of letters, digits and CJK characters, as bigrams.

Every *run* (maximal sequence of letters, digits and CJK characters, Latin folded to lower case)
becomes its overlapping bigrams plus its last character alone (``咸宁市`` → ``咸宁 宁市 市``,
``GDP增长`` → ``gd dp p增 增长 长``). Runs mix digits, Latin and CJK, so ``2020年``, ``5G`` and
``GDP增长`` are one run; and since a run's stream ends with a lone character, a phrase of bigrams
never straddles two runs.
"""
from __future__ import annotations

import mmap
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


#: Characters of a text folded and joined at a time (:func:`_whole_runs`).
_CHUNK = 1 << 16
#: ASCII characters outside runs: :func:`fold` keeps them, so no run of the folded text crosses one.
_ASCII_BETWEEN_RUNS = re.compile(r"[\x00-\x2f\x3a-\x40\x5b-\x60\x7b-\x7f]")


def _whole_runs(text: str) -> Iterator[str]:
    """``text`` in pieces of about :data:`_CHUNK` characters, each cut at an ASCII character between
    runs: the runs of the pieces are those of the text (:func:`fold` maps a character alone)."""
    start = 0
    while start < len(text):
        cut = _ASCII_BETWEEN_RUNS.search(text, start + _CHUNK)
        end = cut.start() if cut else len(text)
        yield text[start:end]
        start = end


def _piece_slices(text: str) -> Iterator[str]:
    """The token stream of a piece of text, a slice at a time (see :func:`_stream_slices`).

    The runs are joined by NUL and paired in one pass: a pair ending in NUL is a run's last
    character alone, one starting with it spans two runs and is dropped. A slice at a time, so a
    body of millions of characters never becomes millions of Python strings.
    """
    joined = _BETWEEN_RUNS.sub(_JOIN, fold(text)).strip(_JOIN)
    if not joined:
        return
    for start in range(0, len(joined) - 1, _SLICE):
        stream = " " + _pair_stream(joined[start:start + _SLICE + 1])  # the space: a pair's start
        yield _ACROSS.sub("", stream)[1:].replace(_JOIN, "")
    yield joined[-1]


def _stream_slices(text: str) -> Iterator[str]:
    """The token stream of ``text`` (see :func:`tokenize_for_index`), a slice of the text at a time.

    Folded and joined a piece of whole runs at a time (:func:`_whole_runs`): a large body's
    folded and joined copies were held whole beside it while its stream was made. The streams of
    the pieces are joined by a space, as runs are.
    """
    started = False
    for piece in _whole_runs(text or ""):
        for position, stream in enumerate(_piece_slices(piece)):
            yield " " + stream if started and not position else stream
            started = True


def tokenize_for_index(text: str) -> str:
    """The token stream stored for ``text``: per run, its bigrams then its last character
    (about 3× the text)."""
    return "".join(_stream_slices(text))


#: Streams that may exceed this many bytes are written into a mapping of their own.
_MAPPED = 1 << 20


def index_stream(text: str) -> bytes | memoryview:
    """:func:`tokenize_for_index` of ``text`` in UTF-8, as the index is given it.

    Encoded a slice at a time into one buffer: the stream of a large body as a ``str`` (2-4 bytes
    a character) would be held beside the UTF-8 copy SQLite is given. A large stream is written
    into an anonymous mapping of its largest size (at most three characters of stream per
    character, four bytes each), of which only the pages written become memory: a buffer grown
    by reallocation moves out of the heap once large and leaves its last size there, freed but
    kept by the process.
    """
    bound = 12 * len(text)
    if bound < _MAPPED:
        return b"".join(piece.encode("utf-8") for piece in _stream_slices(text))
    buffer = mmap.mmap(-1, bound)
    for piece in _stream_slices(text):
        buffer.write(piece.encode("utf-8"))
    return memoryview(buffer)[:buffer.tell()]
