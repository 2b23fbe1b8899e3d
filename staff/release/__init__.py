"""The student starter release, built from this solution bundle: ``python -m staff.release
OUT_DIR`` (cli.py).

* files.py: which files ship (NOT_RELEASED, is_released) and reading them (ReleaseError).
* stubs.py: what happens to a student file or notebook: regions stubbed, solution-only
  material dropped, answers blanked, outputs cleared.
* readme.py: the student guide, with the task list, as the release's README.md.
* build.py: the whole release, in memory first, then written (make_release).

The names other phases use (the grader, the similarity report, the tests) are imported
from here.
"""
from staff.release.build import make_release
from staff.release.cli import main
from staff.release.files import NOT_RELEASED, ReleaseError, is_released
from staff.release.stubs import drop_solution_only

__all__ = ["NOT_RELEASED", "ReleaseError", "drop_solution_only", "is_released", "main", "make_release"]
