"""What the browser tests share: Debian's Chromium, and a person dragging an explorer's slider."""

from __future__ import annotations

import os
from pathlib import Path

#: Debian's Chromium, which Playwright drives (``apt-get install chromium``).
CHROMIUM = Path(os.environ.get("KDLAB_CHROMIUM", "/usr/bin/chromium"))


def drag_T_slider(page, root, dx: float) -> None:
    """A person dragging the T slider thumb of the explorer in ``root`` by ``dx`` pixels."""
    slider = root.locator(".kdlab-T")
    slider.scroll_into_view_if_needed()
    box = slider.bounding_box()
    value = float(slider.input_value())
    x = box["x"] + 8 + (box["width"] - 16) * (value + 2) / 4  # the thumb (16 px wide)
    y = box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + dx, y, steps=10)
    page.mouse.up()
