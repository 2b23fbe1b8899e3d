"""The test command: set up the environment as the main command does, then run pytest.

    python -m tools.run_tests [--slow] [PYTEST ARGUMENTS]

Run from the assignment folder by any Python 3.10-3.13; it needs only the standard
library. The arguments go to pytest, e.g. tests/test_optim.py -x, or -k downloader.
Without a test file or folder among them, pytest runs the checks of the assignment's
tasks in tests/, and the tests of the bundle's other parts where there are any (a
top-level folder's tests/; a student's copy has none).

The fast tests run by default; --slow adds the ones marked slow (executing notebooks,
building environments, compiling the extension, rendering PDFs), and a -m expression of
one's own selects by itself (conftest.py). After the report, a line says how long the
tests themselves took.
"""
import sys

from tools import setup_env

TESTS = "tests"


def names_a_path(argument):
    """Whether a pytest argument names a test file or folder (a node id counts)."""
    return not argument.startswith("-") and (setup_env.BUNDLE_ROOT / argument.split("::")[0]).exists()


def pytest_arguments(arguments):
    """``arguments``, with every test folder added when they name none: pytest alone
    would run only tests/ (pyproject.toml's testpaths)."""
    parts = sorted(path.relative_to(setup_env.BUNDLE_ROOT).as_posix()
                   for path in setup_env.BUNDLE_ROOT.glob(f"*/{TESTS}") if path.is_dir())
    if parts and not any(map(names_a_path, arguments)):
        return [*arguments, TESTS, *parts]
    return list(arguments)


def main(argv=None):
    arguments = sys.argv[1:] if argv is None else argv
    try:
        python = setup_env.set_up()
    except setup_env.SetupError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return setup_env.run_in_environment(python, ["-m", "pytest", *pytest_arguments(arguments)])


if __name__ == "__main__":
    sys.exit(main())
