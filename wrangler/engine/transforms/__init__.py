"""Every transform of a flow, one module per topic; importing this package registers them all.

How a transform is written (each module here follows it, and the export relies on it):

- A module-level function, registered with ``@transform(type, title=…, category=…,
  params=[Param(…)…])``. Its first positional arguments are the input frames (one, or two
  for joins), then keyword-only ``state`` and the declared parameters by name, already
  checked and with defaults filled in (``wrangler.engine.params``).
- It returns ``(frame, state)``. ``state`` is None while fitting: it computes what it needs
  from the input and returns it as JSON-safe data (numbers, strings, lists, dicts; never
  NaN — use None). Given a state, it applies it unchanged. Stateless transforms return {}.
- It never changes its input frames in place, and keeps the row order unless reordering is
  its purpose. pandas 3's copy-on-write makes ``df.copy(deep=False)`` enough for that: a
  column assigned on the copy never reaches the input, and nothing is copied up front.
- It is standalone: its body uses only ``pd``, ``np``, ``math``, ``re``, ``json``,
  ``hashlib``, names imported inside the function body (scikit-learn, scipy), and the
  module functions named in ``helpers=``. The Python export copies its source, helpers
  included, into a script that must run without Sextant.
- Bad input the user can fix (a text column given to a scaler, an empty frame where one
  row is needed) raises ``ValueError`` with a sentence that says what to change.
"""

from wrangler.engine.transforms import (
    clean,
    columns,
    combine,
    custom,
    dates,
    encode,
    formula,
    ml,
    numeric,
    text,
    timeseries,
)

registered = (
    clean,
    columns,
    combine,
    custom,
    dates,
    encode,
    formula,
    ml,
    numeric,
    text,
    timeseries,
)
