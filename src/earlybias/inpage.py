"""In-page explorers: a chapter's explorer precomputed over a grid, switched in the reader's browser.

The ipywidgets explorers need a live kernel, which a book page does not have. An in-page explorer
is computed when the chapter executes for the book (``session.for_book``): one plotly figure for
every combination of its controls' values, shipped as JSON inside the page. Its controls
(``<select>`` for choices, a range input for ordered values) swap the figure with
``Plotly.react`` in the browser: no kernel, and nothing is fetched from outside the site, because
plotly.js comes from the plotly Python package and is copied into the book's own ``_static``
(:data:`PLOTLY_JS`, see ``earlybias.book``).
"""

from __future__ import annotations

import base64
import html
import io
import itertools
import json
from collections.abc import Callable, Iterable, Sequence

import numpy as np

#: Where a chapter page (``chapters/<id>.html``) finds plotly.js, copied there by the book build.
PLOTLY_JS = "../_static/plotly.min.js"
#: Separates control values in a figure's key (the values are never empty strings).
_SEP = "\u241f"


def image_uri(image: np.ndarray) -> str:
    """An (H, W, 3) image in [0, 1] as a PNG data URI, for ``go.Image(source=...)``: a few kB per
    image where plotly's pixel arrays would be hundreds."""
    import matplotlib.image

    buf = io.BytesIO()
    matplotlib.image.imsave(buf, np.clip(np.asarray(image, dtype=float), 0.0, 1.0), format="png")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def montage(images: np.ndarray, columns: int, pad: int = 1) -> np.ndarray:
    """Images (N, H, W, 3) in [0, 1] tiled row by row into one (rows, columns) grid on white."""
    n, h, w, c = images.shape
    rows = -(-n // columns)
    out = np.ones((rows * (h + pad) - pad, columns * (w + pad) - pad, c))
    for k, image in enumerate(images):
        r, col = divmod(k, columns)
        out[r * (h + pad) : r * (h + pad) + h, col * (w + pad) : col * (w + pad) + w] = image
    return out


def _key(values: Iterable) -> str:
    return _SEP.join(str(v) for v in values)


def _control(name: str, values: Sequence, label: str, slider: bool, initial) -> str:
    index = list(values).index(initial)
    if slider:
        options = html.escape(json.dumps([str(v) for v in values]))
        return (
            f'<label>{html.escape(label)} <input type="range" data-control="{html.escape(name)}" '
            f'min="0" max="{len(values) - 1}" step="1" value="{index}" data-values="{options}">'
            f" <output>{html.escape(str(initial))}</output></label>"
        )
    options = "".join(
        f'<option value="{html.escape(str(v))}"{" selected" if k == index else ""}>'
        f"{html.escape(str(v))}</option>"
        for k, v in enumerate(values)
    )
    return (
        f'<label>{html.escape(label)} <select data-control="{html.escape(name)}">{options}</select></label>'
    )


_SCRIPT = """
(function () {
  var root = document.getElementById(%(id)s);
  var figures = JSON.parse(root.querySelector("script[type='application/json']").textContent);
  var plot = root.querySelector(".earlybias-explorer-plot");
  var controls = Array.prototype.slice.call(root.querySelectorAll("[data-control]"));
  function value(c) {
    if (c.type !== "range") return c.value;
    var v = JSON.parse(c.dataset.values)[+c.value];
    c.parentNode.querySelector("output").textContent = v;
    return v;
  }
  function draw() {
    var f = figures[controls.map(value).join(%(sep)s)];
    Plotly.react(plot, f.data, f.layout, {responsive: true, displaylogo: false});
  }
  controls.forEach(function (c) { c.addEventListener("input", draw); c.addEventListener("change", draw); });
  draw();
})();
"""


class PageExplorer:
    """One explorer's controls and its precomputed figures; displays as HTML in a notebook.

    ``controls`` maps each control's name to its values, in order; ``draw(**values)`` returns the
    plotly figure for one combination. Controls named in ``sliders`` are range inputs (ordered
    values), the others drop-downs; ``labels`` gives a control's label (default: its name) and
    ``initial`` the combination shown first (default: every control's first value).
    """

    def __init__(
        self,
        name: str,
        controls: dict[str, Sequence],
        draw: Callable,
        sliders: Iterable[str] = (),
        labels: dict[str, str] | None = None,
        initial: dict | None = None,
    ):
        self.name = name
        self.controls = {k: list(v) for k, v in controls.items()}
        self.sliders = set(sliders)
        self.labels = {k: k for k in controls} | (labels or {})
        self.initial = {k: v[0] for k, v in self.controls.items()} | (initial or {})
        for k, v in self.initial.items():
            if v not in self.controls.get(k, ()):
                raise ValueError(f"initial[{k!r}]: got {v!r}, allowed: {self.controls.get(k)}")
        self.figures = {
            _key(combo): draw(**dict(zip(self.controls, combo)))
            for combo in itertools.product(*self.controls.values())
        }

    def _repr_html_(self) -> str:
        import plotly.io

        element = f"earlybias-explorer-{self.name}"
        figures = (
            "{"
            + ",".join(
                f"{json.dumps(k)}:{plotly.io.to_json(fig, validate=False)}" for k, fig in self.figures.items()
            )
            + "}"
        )
        controls = "".join(
            _control(k, v, self.labels[k], k in self.sliders, self.initial[k])
            for k, v in self.controls.items()
        )
        # "</" inside the JSON would end the script element early.
        payload = figures.replace("</", "<\\/")
        script = _SCRIPT % {"id": json.dumps(element), "sep": json.dumps(_SEP)}
        return (
            f'<div class="earlybias-explorer" id="{element}">'
            '<div class="earlybias-explorer-controls" '
            'style="display:flex;flex-wrap:wrap;gap:0.5em 2em;align-items:center">'
            f"{controls}</div>"
            f'<div class="earlybias-explorer-plot"></div>'
            f'<script type="application/json">{payload}</script>'
            f'<script src="{PLOTLY_JS}"></script><script>{script}</script></div>'
        )
