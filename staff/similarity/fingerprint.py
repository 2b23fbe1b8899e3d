"""Tokens and fingerprints of a region of code.

Matching works on tokens (pygments): comments, docstrings and whitespace are dropped,
string literals become one placeholder, and every name except attributes (``x.shape``),
builtins and ``self`` becomes another, so renaming variables, reformatting and rewording
comments or strings hide nothing. copydetect's winnowing picks the fingerprints: k-grams
of NOISE_TOKENS tokens, so any copied run of GUARANTEE_TOKENS tokens is caught. The
starter release's code is boilerplate: its k-grams are removed from every region.
"""
import io
import zlib
from dataclasses import dataclass
from functools import cache

from copydetect import CodeFingerprint
from copydetect.utils import get_token_coverage, hashed_kgrams
from pygments.lexers import PythonLexer
from pygments.token import Comment, Name, String, Text

# Fingerprints are k-grams of this many normalised tokens; winnowing keeps enough of them
# that every shared run of GUARANTEE_TOKENS tokens is found.
NOISE_TOKENS = 10
GUARANTEE_TOKENS = 14
WINDOW = GUARANTEE_TOKENS - NOISE_TOKENS + 1

# The normalised token stream: every name a student could rename becomes NAME_PLACEHOLDER,
# every string literal STRING_PLACEHOLDER; other tokens keep their text.
NAME_PLACEHOLDER = "V"
STRING_PLACEHOLDER = "S"
_KEPT_NAMES = (Name.Builtin, Name.Exception, Name.Namespace, Name.Decorator)
_LEXER = PythonLexer()
# copydetect hashes k-grams of characters; each token becomes one character from a range
# that no placeholder uses, so a k-gram is k tokens.
_SYMBOL_BASE, _SYMBOL_RANGE = 0x20000, 0xC0000


def normalised_tokens(code):
    """[(token, start, end)] of ``code``: the tokens compared, with their character span.

    Comments, docstrings and whitespace are dropped; a run of string pieces (implicit
    concatenation, f-string text) is one STRING_PLACEHOLDER; names become
    NAME_PLACEHOLDER unless they follow a dot (attributes such as ``x.shape``, which a
    student cannot rename) or are builtins, exceptions, ``self`` or import names.
    """
    tokens, in_string = [], False
    for start, kind, text in _LEXER.get_tokens_unprocessed(code):
        end = start + len(text)
        if kind in Comment or kind in Text or kind in String.Doc:
            continue
        if kind in String:
            if in_string:
                tokens[-1] = (STRING_PLACEHOLDER, tokens[-1][1], end)
            else:
                tokens.append((STRING_PLACEHOLDER, start, end))
            in_string = True
            continue
        in_string = False
        if kind in Name and not any(kind in kept for kept in _KEPT_NAMES) \
                and not (tokens and tokens[-1][0] == "."):
            text = NAME_PLACEHOLDER
        tokens.append((text, start, end))
    return tokens


@cache
def _symbol(token):
    if token in (NAME_PLACEHOLDER, STRING_PLACEHOLDER):
        return token
    # crc32, not hash(): the same token must map to the same symbol in every process.
    return chr(_SYMBOL_BASE + zlib.crc32(token.encode("utf-8")) % _SYMBOL_RANGE)


def token_symbols(tokens):
    """The tokens as one string of one character each, the document copydetect fingerprints."""
    return "".join(_symbol(token) for token, _, _ in tokens)


def boilerplate_hashes(codes):
    """Every k-gram hash of the given pieces of starter code, as a set.

    All k-grams, not only the winnowed ones, so that no fingerprint a student's region
    shares with the starter code survives, whichever positions winnowing picked there.
    copydetect's hashes use Python's hash(), which differs between interpreters: the set
    is only valid in this process and in processes forked from it.
    """
    found = set()
    for code in codes:
        found.update(hashed_kgrams(token_symbols(normalised_tokens(code)), NOISE_TOKENS).tolist())
    return found


def joined_tokens(parts):
    """(code, tokens) of a region's parts joined by newlines: each part's normalised
    tokens in turn, their character spans counted in the joined code."""
    tokens, offset = [], 0
    for part in parts:
        tokens += [(token, start + offset, end + offset) for token, start, end in normalised_tokens(part)]
        offset += len(part) + 1
    return "\n".join(parts), tokens


def fingerprint_region(label, parts, boilerplate):
    """copydetect's CodeFingerprint of a region's normalised tokens, boilerplate removed,
    and its token count. The parts of a region (a function's marked regions) are
    fingerprinted one by one: a k-gram across two parts is neither the starter code's
    nor the student's, and would make two untouched functions match."""
    kept, symbols = {}, ""
    for part in parts:
        part_symbols = token_symbols(normalised_tokens(part))
        fingerprint = CodeFingerprint(label, NOISE_TOKENS, WINDOW, filter=False, fp=io.StringIO(part_symbols))
        # Removed here rather than by CodeFingerprint's boilerplate argument: that one
        # matches with np.intersect1d(assume_unique=True) on the winnowed hashes, which
        # repeat when a k-gram repeats, and so also drops repeated fingerprints that are
        # not boilerplate.
        for value, places in fingerprint.hash_idx.items():
            if value not in boilerplate:
                kept.setdefault(value, []).extend(place + len(symbols) for place in places)
        symbols += part_symbols
    fingerprint.hashes = set(kept)
    fingerprint.hash_idx = kept
    fingerprint.raw_code = fingerprint.filtered_code = symbols
    fingerprint.token_coverage = get_token_coverage(kept, NOISE_TOKENS, len(symbols))
    return fingerprint, len(symbols)


@dataclass
class Fingerprinted:
    """A compared region: its parts' code, its token count and its fingerprints."""
    label: str
    parts: list
    tokens: int
    fingerprint: CodeFingerprint


def matched_tokens(fingerprint, shared):
    """How many tokens of a region the fingerprints ``shared`` cover: the length of the
    union of their k-grams, which is what compare_files counts, without its numpy
    overhead, which dominates for the few fingerprints most pairs share."""
    covered, reach = 0, 0
    for start in sorted(place for value in shared for place in fingerprint.hash_idx[value]):
        end = start + fingerprint.k
        if end > reach:
            covered += end - max(start, reach)
            reach = end
    return covered
