"""Course staff's tools: the release generator, the autograder and their tests.

Nothing under this folder is part of the starter release (tools/bundle.py, NOT_RELEASED).
"""
