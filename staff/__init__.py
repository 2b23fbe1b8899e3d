"""Course staff's tools, one package per phase: the starter release (staff/release/),
grading one submission, a class or on Gradescope (staff/grading/), the similarity report
(staff/similarity/) and the figures the solution's answers quote (staff/quoted_figures/),
with their tests in staff/tests/.

Nothing under this folder is part of the starter release (staff/release/files.py, NOT_RELEASED).
"""
