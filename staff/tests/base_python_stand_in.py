"""Stands in for the base interpreter of tools/setup_env.sh (its PYTHON setting) in
staff/tests/release/test_release_readme_commands.py and
staff/tests/student_tools/test_student_commands.py, so that an environment is set up in
seconds and without a download.

    python base_python_stand_in.py ARGS...

Run by the interpreter of the test environment, it runs that interpreter with ARGS. When
ARGS create a virtual environment (``-m venv DIR``), it then makes DIR see the test
environment's installed packages, as if pip had installed them into DIR:

* DIR gets no pip or setuptools of its own (``--without-pip``): the older copies that
  ``ensurepip`` bundles would shadow the test environment's and fail requirements.txt's
  ``setuptools>=69``. The test environment's pip, run by DIR's interpreter, installs into
  DIR, and leaves what lies outside DIR alone ("Not uninstalling ..., outside environment").
* A ``.pth`` file in DIR's site-packages holds one plain line, the test environment's
  site-packages. Python appends such a line to ``sys.path`` without processing the
  ``.pth`` files in that folder, so the test environment's own editable install of
  cs231n stays invisible: DIR imports the cs231n that setup_env.sh installs into it.
* DIR's ``bin`` gets a script for every console command of those packages (``jupyter``,
  ``jupyter-lab``, ``pip``, ``pytest``...), run by DIR's interpreter, as pip writes them.
* Their other files outside site-packages (Jupyter's ``share/jupyter``: nbconvert's
  templates, the python3 kernel, JupyterLab's assets; ``etc/jupyter``) are linked into
  DIR at the same places, where Jupyter looks for them under ``sys.prefix``.
"""
import importlib.metadata
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

PTH_NAME = "test-environment-packages.pth"
SCRIPT = """#!{python}
import sys
import {module}
sys.exit({module}.{attribute}())
"""


def see_packages_of_this_environment(venv):
    """Make the new virtual environment ``venv`` see this interpreter's site-packages."""
    outer = sysconfig.get_path("purelib")
    python = venv / "bin" / "python"
    inner = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                           check=True, capture_output=True, text=True).stdout.strip()
    (Path(inner) / PTH_NAME).write_text(outer + "\n")
    for distribution in importlib.metadata.distributions(path=[outer]):
        for entry in distribution.entry_points.select(group="console_scripts"):
            script = venv / "bin" / entry.name
            if entry.attr and not script.exists():
                script.write_text(SCRIPT.format(python=python, module=entry.module, attribute=entry.attr))
                script.chmod(0o755)
        for name in distribution.files or []:
            where = Path(os.path.relpath(os.path.normpath(distribution.locate_file(name)), sys.prefix))
            if where.parts[0] in ("..", "bin", "lib") or not (Path(sys.prefix) / where).is_file():
                continue  # outside the prefix, a script (written above) or in site-packages
            (venv / where).parent.mkdir(parents=True, exist_ok=True)
            if not os.path.lexists(venv / where):
                (venv / where).symlink_to(Path(sys.prefix) / where)


def main(args):
    if args[:2] != ["-m", "venv"]:
        os.execv(sys.executable, [sys.executable, *args])
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", *args[2:]], check=True)
    see_packages_of_this_environment(Path(args[-1]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
