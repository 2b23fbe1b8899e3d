"""What the sandbox's worker says of an exception: where it happened in the submission,
and never a path of the grader's own."""
import os

from staff.grading import worker


def raised_in(filename):
    """The exception that code compiled as ``filename`` raises."""
    try:
        exec(compile("raise ValueError('bad shape')", filename, "exec"), {})
    except ValueError as error:
        return error
    raise AssertionError("the code did not raise")


def test_a_frame_in_the_submissions_package_is_named_relative_to_the_sandbox():
    error = raised_in(os.path.join(worker.SANDBOX, "cs231n", "layers.py"))
    assert worker._describe(error) == "ValueError: bad shape (at cs231n/layers.py, line 1, in <module>: )"


def test_a_frame_of_the_graders_python_is_never_named_even_when_its_path_says_cs231n():
    # The Python mirror of a grader without CAP_SYS_ADMIN lies under /tmp/cs231n-grader-python/.
    error = raised_in("/tmp/cs231n-grader-python/0123/base/lib/python3.11/importlib/__init__.py")
    assert worker._describe(error) == "ValueError: bad shape"
