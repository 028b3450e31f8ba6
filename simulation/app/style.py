"""Figure text sizes and PNG encoding shared by the app's network view and charts."""

from __future__ import annotations

import io
from typing import Any

from matplotlib.figure import Figure

__all__ = ["CHART_FONT_PT", "FIGURE_DPI", "TITLE_FONT_PT", "encode_png", "figure_png"]

#: Figure text sizes (points); with the figure widths of :mod:`.charts` and the app's layout,
#: text on screen is ≥ 11 px where the app shows the figures (1280 px wide and up).
CHART_FONT_PT = 10.5
TITLE_FONT_PT = 11.5
#: Rendering resolution of the app's figures (dots per inch).
FIGURE_DPI = 100


def encode_png(canvas: Any) -> bytes:
    """PNG bytes of an Agg canvas's buffer (fast compression: the page wants speed)."""
    from PIL import Image

    w, h = canvas.get_width_height()
    image = Image.frombuffer("RGBA", (w, h), canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
    buf = io.BytesIO()
    image.save(buf, format="png", compress_level=1)
    return buf.getvalue()


def figure_png(fig: Figure, dpi: int | None = None) -> bytes:
    """Render a figure to PNG bytes."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi or fig.dpi)
    return buf.getvalue()
