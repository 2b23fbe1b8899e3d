"""Hostile objects for the tests: what a malicious data file would hold."""


class CreatesMarker:
    """Unpickling this object with plain pickle runs code that creates a marker file.

    Tests put it in a file, load the file with the code under test and then assert
    both the error and that the marker does not exist, i.e. that nothing ran.
    """

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return exec, (f"open({self.marker!r}, 'w').close()",)
