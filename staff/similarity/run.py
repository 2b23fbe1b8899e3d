"""The whole class's run: every submission read and fingerprinted, every pair compared,
in worker processes, into one Report.

The workers are forked and find what they need in this module's _SHARED, set before the
pool starts (and inherited through fork): copydetect's fingerprints are Python hash()
values, which agree between processes only when they are forked from one interpreter.
"""
import multiprocessing
import sys

import numpy as np
from tqdm import tqdm

from staff.similarity.compare import common_fingerprints, compare_submissions, shared_versions
from staff.similarity.corpus import (discover, read_fingerprinted, reference_entries, starter_code,
                                     unique_students)
from staff.similarity.fingerprint import boilerplate_hashes
from staff.similarity.report import Report
from staff.similarity.rules import Rules

# What the worker processes need, set by _share in each (inherited through fork).
_SHARED = {}


def _share(state):
    _SHARED.update(state)


def _pool(jobs, state):
    """A fork pool sharing ``state``, or None for in-process work."""
    _share(state)
    if jobs <= 1:
        return None
    if "fork" not in multiprocessing.get_all_start_methods():
        print("note: this platform cannot fork; running in one process", file=sys.stderr)
        return None
    return multiprocessing.get_context("fork").Pool(jobs, initializer=_share, initargs=(state,))


def _mapped(pool, function, items, chunksize=1):
    return pool.imap_unordered(function, items, chunksize) if pool else map(function, items)


def _read_one(entry):
    """(entry, Submission or None, reason it was skipped or None)."""
    return (entry, *read_fingerprinted(entry, _SHARED["templates"], _SHARED["boilerplate"], _SHARED["limits"]))


def _compare_row(index):
    """(pairs compared, their scores, the listed pairs) of submission ``index`` against the
    later submissions of the class and against every reference. A listed pair comes back
    as (position among those others, PairResult without its submissions), so that no
    submission is copied back from a worker."""
    students, references = _SHARED["students"], _SHARED["references"]
    rules, common = _SHARED["rules"], _SHARED["common"]
    scores, listed = [], []
    for position, other in enumerate(students[index + 1 :] + references):
        result = compare_submissions(students[index], other, rules, common)
        scores.append(result.score)
        if result.listed:
            result.first = result.second = None
            listed.append((position, result))
    return index, scores, listed


def analyse(submissions_dir, release=None, references=(), rules=Rules(), jobs=1, limits=None):
    """The Report of a class: every submission read and compared, the pairs ranked."""
    rules.check()
    entries, skipped = discover(submissions_dir)
    reference_found, reference_skipped = reference_entries(references)
    entries = unique_students(entries + reference_found)
    skipped += reference_skipped

    codes, templates = starter_code(release)
    state = {"boilerplate": boilerplate_hashes(codes), "templates": templates, "limits": limits}

    students, reference_subs = [], []
    pool = _pool(jobs, state)
    try:
        loaded = _mapped(pool, _read_one, entries, chunksize=2)
        for entry, submission, reason in tqdm(loaded, total=len(entries), desc="fingerprinting",
                                              unit="submission"):
            if submission is None:
                skipped.append((entry.student, entry.where, reason))
            else:
                (reference_subs if entry.reference else students).append(submission)
    finally:
        if pool:
            pool.close()
            pool.join()
    # Workers finish in any order; the report and the pairs' order must not depend on it.
    students.sort(key=lambda submission: submission.entry.student)
    reference_subs.sort(key=lambda submission: submission.entry.student)
    for student, where, reason in skipped:
        print(f"skipped {student!r} ({where}): {reason}", file=sys.stderr)

    common_limit = rules.common_limit(len(students))
    common = common_fingerprints(students, common_limit)
    state.update(students=students, references=reference_subs, rules=rules, common=common)
    total = len(students) * (len(students) - 1) // 2 + len(students) * len(reference_subs)
    scores, pairs = [], []
    pool = _pool(jobs, state)
    try:
        with tqdm(total=total, desc="comparing", unit="pair") as progress:
            for index, row_scores, listed in _mapped(pool, _compare_row, range(len(students))):
                others = students[index + 1 :] + reference_subs
                for position, result in listed:
                    result.first, result.second = students[index], others[position]
                    pairs.append(result)
                scores += row_scores
                progress.update(len(row_scores))
    finally:
        if pool:
            pool.close()
            pool.join()
    pairs.sort(key=lambda pair: (-pair.score, -min(pair.first_to_second, pair.second_to_first),
                                 pair.first.entry.student, pair.second.entry.student))
    return Report(students, reference_subs, sorted(skipped), pairs, np.asarray(scores, dtype=np.float32),
                  rules, common_limit, common,
                  shared_versions(students, reference_subs, common_limit, rules.copied_tokens))
