"""The error a bad argument must raise, written out here rather than taken from kdlab.validate.

kdlab's checks raise ``TypeError`` when an argument is not the kind of thing asked for (a bool,
a string, None, a list, or a float where an int is asked) and ``ValueError`` when it is the
right kind but out of range (0 where a positive int is asked, NaN, infinity).
"""

from __future__ import annotations

import numbers


def error_for(value, integer: bool = False) -> type[Exception]:
    """``TypeError`` or ``ValueError``: what passing ``value`` for a number must raise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return TypeError
    if integer and not isinstance(value, numbers.Integral):
        return TypeError
    return ValueError
