"""Grading, one module per job: the rubric (what is graded and how), the probes (the
student calls, run in the sandbox), the sandbox, launcher and confinement (isolation and
limits), the intake (what of an upload is read, and safely), the report (the one results
type and its writers), the class's submission layouts, and the three commands:
autograde (one submission), grade_all (a class) and gradescope (the Gradescope
autograder package), whose shared flags are in cli.py."""
