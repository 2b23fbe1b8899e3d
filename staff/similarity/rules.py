"""When a pair of submissions is listed, and when code is common: the report's rules,
their defaults, and the error for input the report cannot use.

A pair is listed when either direction of its similarity reaches the threshold and at
least one matching region (one whose similarity reaches the threshold) has
``min_tokens`` tokens or more on both sides, or when one region was copied whole
(compare.py). A fingerprint held by more than ``common_share`` of the class's
submissions, and by more than COMMON_FLOOR, is common: the formulaic code many students
write alike.
"""
from dataclasses import dataclass

DEFAULT_THRESHOLD = 0.5
DEFAULT_MIN_TOKENS = 20
# A region lists its pair alone when this share of one side's distinctive code is matched
# (and --copied-tokens tokens of it on both sides): a function copied whole, in a pair
# whose other answers differ.
COPIED_SHARE = 0.8
# About five lines: longer than the formulaic rules two students of a small class may
# write alike (rmsprop's update is 55 tokens), shorter than a copied loss, layer or
# training loop (90 tokens and more).
DEFAULT_COPIED_TOKENS = 60
# Measured on the benchmark's class of 40, where about ten students hand in the solution's
# version of each region: 5% or 10% (a limit of three or four) lists only the planted
# copies, 15% (six) lists 23 pairs, no limit 660 of 780. The smaller share keeps a margin.
DEFAULT_COMMON_SHARE = 0.05
# A fingerprint held by this many submissions is never common, whatever the class's size:
# a small group that copied one function together stays visible.
COMMON_FLOOR = 3


class SimilarityError(Exception):
    """The input cannot be used; the message names the path and the problem."""


@dataclass(frozen=True)
class Rules:
    """When a pair is listed, and when a fingerprint is common (see the module docstring)."""
    threshold: float = DEFAULT_THRESHOLD
    min_tokens: int = DEFAULT_MIN_TOKENS
    copied_tokens: int = DEFAULT_COPIED_TOKENS
    common_share: float = DEFAULT_COMMON_SHARE

    def check(self):
        if not 0 < self.threshold <= 1:
            raise SimilarityError(f"the threshold must be in (0, 1], not {self.threshold}")
        if not 0 < self.common_share <= 1:
            raise SimilarityError(f"--common-share must be in (0, 1], not {self.common_share}")
        for name, value in (("--min-tokens", self.min_tokens), ("--copied-tokens", self.copied_tokens)):
            if value < 1:
                raise SimilarityError(f"{name} must be at least 1, not {value}")

    def common_limit(self, class_size):
        """The most class submissions a fingerprint may be held by and still be rare."""
        return max(COMMON_FLOOR, int(self.common_share * class_size))
