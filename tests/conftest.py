"""The task table after the test report, and the tests in the order of the work
(tools/progress.py): each test names the task it checks with @pytest.mark.task(KEY)."""
from pathlib import Path

from tools.progress import MARK_HELP, TaskRecorder


def pytest_configure(config):
    config.addinivalue_line("markers", MARK_HELP)
    # `python -m tools.progress` brings its own recorder; the test command gets this one.
    if not any(isinstance(plugin, TaskRecorder) for plugin in config.pluginmanager.get_plugins()):
        config.pluginmanager.register(TaskRecorder(Path(__file__).resolve().parent.parent))
