"""Two submissions compared region by region, and the code many submissions share.

The similarity of A to B is the share of A's fingerprinted tokens (boilerplate excluded)
that are matched in B's regions of the same labels; both directions are reported. A
pair is listed by the rules of rules.py, or when one region was copied whole: a single
copied function lists its pair whatever the rest, and is named first. Copied whole is
judged on the region's distinctive code only, as MOSS and copydetect do: the
fingerprints outside the class's common ones. A region is copied whole when its
distinctive code matches for ``copied_tokens`` tokens or more on both sides, and for
COPIED_SHARE of one side's distinctive code. Common fingerprints still count in the
scores. Where many submissions hand in the same code (one version of a region, at least
``copied_tokens`` tokens, held by more submissions than a fingerprint may be and still be
rare: everyone copied one source), the report lists that version once, with its
holders, instead of every pair among them.
"""
from collections import Counter
from dataclasses import dataclass

from staff.similarity.corpus import Submission
from staff.similarity.fingerprint import matched_tokens
from staff.similarity.rules import COPIED_SHARE


@dataclass
class PairResult:
    """Two submissions compared: both directions of their similarity and their regions."""
    first: Submission
    second: Submission
    first_to_second: float
    second_to_first: float
    # (label, similarity of first's region, of second's region, smaller token count),
    # the copied regions first, then the most similar
    regions: list
    matching: int
    # The regions that list the pair on their own, whatever its score (see is_copied).
    copied: int
    threshold: float

    @property
    def score(self):
        return max(self.first_to_second, self.second_to_first)

    @property
    def listed(self):
        return self.copied > 0 or (self.score >= self.threshold and self.matching > 0)


def common_fingerprints(students, limit):
    """The fingerprints held by more than ``limit`` of the class's submissions."""
    holders = Counter()
    for submission in students:
        holders.update(set().union(*(region.fingerprint.hashes for region in submission.regions.values())))
    return frozenset(value for value, count in holders.items() if count > limit)


def is_copied(region, other, shared, rules, common):
    """True for a region copied whole: of the fingerprints the two sides share, the ones
    rare in the class (outside ``common``) cover at least ``rules.copied_tokens`` tokens
    on both sides, and COPIED_SHARE or more of one side's distinctive code (the copier's,
    or the original's when the copier wrapped it in code of their own)."""
    rare = shared - common
    if not rare:
        return False
    matched, other_matched = matched_tokens(region.fingerprint, rare), matched_tokens(other.fingerprint, rare)
    if min(matched, other_matched) < rules.copied_tokens:
        return False
    distinctive = matched_tokens(region.fingerprint, region.fingerprint.hashes - common)
    other_distinctive = matched_tokens(other.fingerprint, other.fingerprint.hashes - common)
    return max(matched / distinctive, other_matched / other_distinctive) >= COPIED_SHARE


def compare_submissions(first, second, rules, common):
    """PairResult of two submissions, region by region over the labels they share;
    ``common`` holds the fingerprints too common in the class to show a copy alone."""
    matched_first = matched_second = 0
    regions, matching, copied = [], 0, set()
    for label, region in first.regions.items():
        other = second.regions.get(label)
        if other is None:
            continue
        shared = region.fingerprint.hashes & other.fingerprint.hashes
        if not shared:
            continue
        matched, other_matched = matched_tokens(region.fingerprint, shared), matched_tokens(other.fingerprint, shared)
        matched_first += matched
        matched_second += other_matched
        similarity = matched / region.fingerprint.token_coverage
        other_similarity = other_matched / other.fingerprint.token_coverage
        tokens = min(region.tokens, other.tokens)
        regions.append((label, similarity, other_similarity, tokens))
        if max(similarity, other_similarity) >= rules.threshold and tokens >= rules.min_tokens:
            matching += 1
        if is_copied(region, other, shared, rules, common):
            copied.add(label)
    regions.sort(key=lambda item: (item[0] not in copied, -max(item[1], item[2]), -item[3]))
    return PairResult(first, second,
                      matched_first / first.coverage if first.coverage else 0.0,
                      matched_second / second.coverage if second.coverage else 0.0,
                      regions, matching, len(copied), rules.threshold)


@dataclass
class SharedVersion:
    """One version of a region (the same fingerprints, so the same code up to names,
    layout and comments) that many submissions hand in."""
    label: str
    tokens: int
    students: list
    references: list


def shared_versions(students, references, limit, copied_tokens):
    """The SharedVersions held by more than ``limit`` class submissions and at least
    ``copied_tokens`` tokens long, the most held first."""
    holders = {}
    for submission in students + references:
        for label, region in submission.regions.items():
            if region.fingerprint.hashes and region.fingerprint.token_coverage >= copied_tokens:
                key = (label, frozenset(region.fingerprint.hashes))
                holders.setdefault(key, (region.fingerprint.token_coverage, []))[1].append(submission)
    found = []
    for (label, _), (tokens, submissions) in holders.items():
        in_class = [submission.entry.student for submission in submissions if not submission.entry.reference]
        if len(in_class) > limit:
            found.append(SharedVersion(label, int(tokens), in_class, [submission.entry.student for submission
                                                                      in submissions if submission.entry.reference]))
    found.sort(key=lambda version: (-len(version.students), -version.tokens, version.label))
    return found
