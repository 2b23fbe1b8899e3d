"""The main command: set up the environment, fetch CIFAR-10 if missing, run the notebooks.

    python -m tools.run_all [--with-tensorflow] [--use-system-torch] [RUNNER OPTIONS] [NOTEBOOK ...]

Run from the assignment folder by any Python 3.10-3.13; it needs only the standard
library. The set-up options go to tools.setup_env (--with-tensorflow installs the
optional TensorFlow extra first, so that TensorFlow.ipynb runs too); everything else goes
to the notebook runner (tools.run_notebooks): --smoke for a quick pass, --output-dir DIR,
or the names of the notebooks to run.
"""
import argparse
import sys

from tools import setup_env


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tools.run_all", description=__doc__.split("\n\n")[0],
                                     epilog="Other arguments go to the notebook runner: "
                                            "python -m tools.run_notebooks --help lists them.")
    setup_env.add_setup_options(parser)
    args, runner_arguments = parser.parse_known_args(argv)
    try:
        python = setup_env.set_up(args.with_tensorflow, args.use_system_torch)
    except setup_env.SetupError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    status = setup_env.run_in_environment(python, ["-m", "cs231n.datasets.download"])
    if status != 0:
        return status
    return setup_env.run_in_environment(python, ["-m", "tools.run_notebooks", *runner_arguments])


if __name__ == "__main__":
    sys.exit(main())
