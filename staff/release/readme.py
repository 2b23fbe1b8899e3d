"""The release's README.md: the student guide (docs/student_guide.md) with its
TASKS_PLACEHOLDER replaced by the list of tasks read from the student files and the
notebooks (tools/tasks.py). The bundle's own README and the other guides of docs/ are
for staff and maintainers and do not ship.
"""
from staff.release.files import ReleaseError, read_source_text
from tools.conventions import NOTEBOOKS
from tools.tasks import task_list

STUDENT_GUIDE = "docs/student_guide.md"
TASKS_PLACEHOLDER = "{{TASKS}}"


def student_readme(source):
    """The release's README, from the student guide with the tasks of ``source`` filled in."""
    template = read_source_text(source / STUDENT_GUIDE, STUDENT_GUIDE)
    try:
        tasks = task_list(source)
    except ValueError as error:
        raise ReleaseError(str(error)) from None
    sections = []
    for notebook in NOTEBOOKS:
        rows = [f"| {task.title}{' (optional)' if task.optional else ''} | {task.where} | {task.section} |"
                for task in tasks if task.notebook == notebook]
        if rows:
            sections.append(f"**{notebook}**\n\n| task | where you write it | where it is checked |\n"
                            "| --- | --- | --- |\n" + "\n".join(rows))
    return template.replace(TASKS_PLACEHOLDER, "\n\n".join(sections))
