"""Check the finished assignment and write the two files to upload.

    python -m tools.collect [--force]

Run from the assignment folder by any Python; it needs only the standard library. It
runs the collector (tools.collect_submission) in the bundle's environment (.venv, or
the folder CS231N_VENV names), or, where there is none (Colab, an environment of your
own), in the interpreter running this.
"""
import sys

from tools import setup_env


def main(argv=None):
    arguments = sys.argv[1:] if argv is None else argv
    python = setup_env.venv_python(setup_env.venv_folder())
    if not python.exists():
        python = sys.executable
    return setup_env.run_in_environment(python, ["-m", "tools.collect_submission", *arguments])


if __name__ == "__main__":
    sys.exit(main())
