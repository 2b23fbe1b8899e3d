"""The autograder's parts: the rubric (what is graded and how), the probes (the student
calls, run in the sandbox), the sandbox (isolation and limits) and the intake of
submissions (safe unpacking). staff/autograde.py ties them together."""
