"""Progress bars that leave a readable final state in a saved notebook.

In a Jupyter kernel with ipywidgets, the bar is a live widget while it runs and is
replaced by one line of text (its final state) when it closes: a widget is only drawn by a
live frontend, so a saved, exported or printed notebook would otherwise show the bar as
it was when first displayed ("0%"). Everywhere else the bar is tqdm's ordinary text bar.
"""
import sys

from tqdm.std import tqdm as _text_tqdm

try:
    from IPython.display import display
    from tqdm.notebook import IProgress
    from tqdm.notebook import tqdm as _widget_tqdm
except ImportError:
    IProgress = None


def _in_jupyter_kernel():
    shell = getattr(sys.modules.get("IPython"), "get_ipython", lambda: None)()
    return shell is not None and "IPKernelApp" in shell.config


if IProgress is not None:

    class _WidgetThenTextBar(_widget_tqdm):
        """tqdm's notebook widget, turned into a line of text when it closes."""

        def __init__(self, *args, **kwargs):
            kwargs["display"] = False
            self._handle = None
            super().__init__(*args, **kwargs)
            if not self.disable:
                self._handle = display(self.container, display_id=True)
                self.displayed = True

        def close(self):
            if self.disable:
                return
            final_state = self.format_meter(**self.format_dict)
            super().close()
            if self._handle is not None:
                self._handle.update({"text/plain": final_state}, raw=True)
                self._handle = None


def _bar_class():
    if IProgress is not None and _in_jupyter_kernel():
        return _WidgetThenTextBar
    return _text_tqdm


def tqdm(*args, **kwargs):
    """Drop-in for ``tqdm.auto.tqdm``: the bar that suits where the code runs."""
    return _bar_class()(*args, **kwargs)


# Printing through tqdm keeps a text bar intact below the printed line.
tqdm.write = _text_tqdm.write
