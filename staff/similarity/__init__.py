"""The similarity report across a class's submissions: ``python -m staff.similarity``
(cli.py; ``--help`` says what it takes and writes).

One module a phase:

* corpus.py: what is compared: the class's submissions and the references in their
  layouts, read through the grader's intake; the starter release's code; each
  submission's regions (tools/regions.py), one per task function or notebook section.
* fingerprint.py: a region's normalised tokens and its winnowed fingerprints, the
  starter code's left out.
* compare.py: two submissions compared region by region; when a region was copied whole;
  the versions of a region many submissions share.
* rules.py: when a pair is listed and when code is common, with their defaults.
* run.py: the whole class in worker processes, into one Report.
* report.py: the Report, and its CSV files and self-contained HTML page.
* synthetic.py: synthetic classes built from the solution and the release, for the
  tests and benchmarks/bench_similarity.py.
"""
