"""Course staff's tools: the release generator, the autograder and their tests.

Nothing under this folder is part of the starter release (staff/release.py, NOT_RELEASED).
"""
