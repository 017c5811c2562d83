"""The chart base: a figure built once per model whose redraws replace only the data.

Each view of the app is a :class:`Chart`: built once for a model, then updated after every step.
Charts work at any step, including step 0 before anything has happened, and use bare Agg-backed
matplotlib figures: no pyplot, so nothing global changes and figures can be drawn in a web
server's threads. :func:`figure_png` renders a whole figure, for one-shot figures in notebooks
and tests.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

from matplotlib.figure import Figure
from matplotlib.legend import Legend
from PIL import Image

from .style import WIDTH, new_figure

if TYPE_CHECKING:
    from ..model import MarketModel

# PNG at low zlib effort: on a local connection encoding time matters and bytes barely do.
PNG_COMPRESS_LEVEL = 1


class Chart:
    """A figure built once per model; each update replaces only its data artists.

    Creating axes, ticks and titles is most of what a fresh matplotlib figure costs, so the app
    keeps one chart per view and model and calls :meth:`update` after every step. Subclasses set
    up axes and everything that never changes in :meth:`build`, and draw the data in
    :meth:`draw`; artists that exist after ``build`` are kept, the rest are removed before the
    next ``draw``.

    Args:
        model: The model the chart shows (its sizes fix the layout).
    """

    height = 5.0
    width = WIDTH

    def __init__(self, model: MarketModel):
        self.fig = new_figure(self.figure_height(model), self.width)
        self.keep_axes: set = set()  # axes that manage their own artists (colorbars)
        self.build(model)
        self._static = self._artists()
        # Legends sit on the data: in a blitted redraw they are drawn again, last.
        self._overlays = [a for a in self._static if isinstance(a, Legend)]
        self._background = None
        self._legend_pixels: list = []
        self._background_key: tuple | None = None

    def figure_height(self, model: MarketModel) -> float:
        """Height in inches (some charts grow with the number of goods)."""
        return self.height

    def build(self, model: MarketModel) -> None:
        """Create the axes, titles, labels and static legends."""
        raise NotImplementedError

    def draw(self, model: MarketModel, **options: Any) -> None:
        """Add the data artists and set the limits."""
        raise NotImplementedError

    def update(self, model: MarketModel, **options: Any) -> Figure:
        """Redraw the data of ``model`` (the model the chart was built for); return the figure."""
        for artist in self._artists() - self._static:
            artist.remove()
        self.draw(model, **options)
        return self.fig

    def png(self, model: MarketModel, **options: Any) -> bytes:
        """Update the chart and return it as PNG bytes, redrawing as little as possible.

        Everything but the data (axes, ticks, titles, legends) is rendered once and cached as
        a bitmap; while the limits and titles stay the same, a redraw pastes that bitmap and
        draws only the data artists on it (matplotlib's blitting). The legends' pixels are
        pasted again on top, so the data never covers them and their text is never redrawn.
        """
        self.update(model, **options)
        canvas = self.fig.canvas
        # The order matplotlib itself draws in: axes by axes, then by zorder, ties in the order
        # the artists were added (a set's order would make crossing lines flicker).
        fresh = self._artists() - self._static
        dynamic = [
            a
            for ax in self.fig.axes
            for a in sorted(ax.get_children(), key=lambda a: a.get_zorder())
            if a in fresh
        ]
        dynamic += [a for a in [*self.fig.texts, *self.fig.legends] if a in fresh]
        key = self.background_key()
        if key != self._background_key:
            for artist in dynamic:
                artist.set_visible(False)
            canvas.draw()
            self._background = canvas.copy_from_bbox(self.fig.bbox)
            self._legend_pixels = [
                canvas.copy_from_bbox(legend.get_window_extent().padded(1.0))
                for legend in self._overlays
            ]
            self._background_key = key
            for artist in dynamic:
                artist.set_visible(True)
        else:
            canvas.restore_region(self._background)
        for artist in dynamic:
            self.fig.draw_artist(artist)
        for pixels in self._legend_pixels:
            canvas.restore_region(pixels)
        width, height = canvas.get_width_height(physical=True)
        rgba = canvas.buffer_rgba()
        image = Image.frombuffer("RGBA", (width, height), rgba, "raw", "RGBA", 0, 1)
        out = io.BytesIO()
        image.convert("RGB").save(out, format="png", compress_level=PNG_COMPRESS_LEVEL)
        return out.getvalue()

    def background_key(self) -> tuple:
        """What the cached background depends on: limits, scales and texts of all axes."""
        parts: list[Any] = [t.get_text() for t in self.fig.texts if t in self._static]
        parts.append(self.fig.get_suptitle())
        for ax in self.fig.axes:
            parts += [
                ax.get_xlim(),
                ax.get_ylim(),
                ax.get_title("left"),
                ax.get_title("center"),
                ax.get_title("right"),
            ]
        return (*parts, *self.extra_key())

    def extra_key(self) -> tuple:
        """More that the background depends on (fixed tick labels, a colour scale)."""
        return ()

    def _artists(self) -> set:
        out = set(self.fig.texts) | set(self.fig.legends)
        for ax in self.fig.axes:
            if ax in self.keep_axes:
                continue
            out.update(ax.lines, ax.collections, ax.patches, ax.texts, ax.images)
            legend = ax.get_legend()
            if legend is not None:
                out.add(legend)
        return out


def figure_png(fig: Figure) -> bytes:
    """The whole figure as PNG bytes (a full draw; the app uses :meth:`Chart.png`)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", pil_kwargs={"compress_level": PNG_COMPRESS_LEVEL})
    return buf.getvalue()
