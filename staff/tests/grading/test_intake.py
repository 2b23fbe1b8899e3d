"""What the grader reads of an upload: the zip or the files in their folders, however deep
a repository download nests them, the right assignment when two sit side by side, and a
message naming what to upload when there is neither."""
import zipfile

import pytest

from staff.grading.intake import IntakeError, locate_submission, read_submission
from tools.conventions import CODE_ZIP_NAME, STUDENT_FILES

ASSIGNMENT_FILES = ("cs231n/__init__.py",) + STUDENT_FILES


def write_files(root, names, text="# {name}\n"):
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text.format(name=name))


def zip_of(path, members):
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in members.items():
            archive.writestr(name, text)
    return path


def test_a_bundle_folder_is_read_as_it_is(tmp_path):
    write_files(tmp_path, ASSIGNMENT_FILES)
    assert locate_submission(tmp_path) == tmp_path
    sources, _, notes = read_submission(tmp_path)
    assert set(sources) == set(STUDENT_FILES) and notes == []


def test_a_repository_download_three_folders_down_is_found(tmp_path):
    nested = "cs231n-main/assignments/assignment2/"
    archive = zip_of(tmp_path / "repository.zip", {nested + name: f"# {name}\n" for name in ASSIGNMENT_FILES})
    sources, _, _ = read_submission(archive)
    assert sources["cs231n/layers.py"] == b"# cs231n/layers.py\n"
    folder = tmp_path / "unzipped"
    write_files(folder / nested, ASSIGNMENT_FILES)
    sources, _, _ = read_submission(folder)
    assert set(sources) == set(STUDENT_FILES)


def test_of_two_assignments_side_by_side_the_one_holding_the_graded_files_is_read(tmp_path):
    members = {"repo/assignment1/cs231n/__init__.py": "", "repo/assignment1/cs231n/layers.py": "# first\n"}
    members.update({f"repo/assignment2/{name}": "# second\n" for name in ASSIGNMENT_FILES})
    sources, _, _ = read_submission(zip_of(tmp_path / "both.zip", members))
    assert sources["cs231n/layers.py"] == b"# second\n"
    folder = tmp_path / "both"
    write_files(folder / "assignment1", ("cs231n/__init__.py", "cs231n/layers.py"), "# first\n")
    write_files(folder / "assignment2", ASSIGNMENT_FILES, "# second\n")
    assert read_submission(folder)[0]["cs231n/layers.py"] == b"# second\n"


def test_a_name_that_only_ends_like_the_package_is_not_the_package(tmp_path):
    archive = zip_of(tmp_path / "odd.zip", {"notcs231n/__init__.py": "", "notcs231n/layers.py": ""})
    with pytest.raises(IntakeError, match="holds no cs231n/__init__.py"):
        read_submission(archive)


def test_an_upload_folder_holding_the_zip_reads_the_zip(tmp_path):
    zip_of(tmp_path / "notes.zip", {"readme.txt": "x"})
    named = zip_of(tmp_path / CODE_ZIP_NAME, {name: "" for name in ASSIGNMENT_FILES})
    assert locate_submission(tmp_path) == named


def test_files_without_their_folders_are_told_what_to_upload(tmp_path):
    for name in STUDENT_FILES:
        (tmp_path / name.split("/")[-1]).write_text("")
    with pytest.raises(IntakeError) as raised:
        locate_submission(tmp_path)
    message = str(raised.value)
    assert f"Upload {CODE_ZIP_NAME}" in message and "collectSubmission.sh" in message
    assert "layers.py" in message and "fc_net.py" in message
