"""Plain handlers the UI calls. Each takes the session (and the studio context
where it needs settings or the model) plus input values, and returns a dict
{output name: value}; ui.py maps names to components. Testable without a browser.

    view.py   the view of a session; frame scrubbing, selection, play
    files.py  load videos, resume sessions, import and export
    run.py    the model: run with progress and cancel, re-query, promote
    edit.py   corrections: relabel, delete, merge, split, brush, undo/redo, threshold
"""
