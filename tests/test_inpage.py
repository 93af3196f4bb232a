"""In-page explorers: every combination precomputed, controls that name them, nothing fetched."""

import base64
import io
import json
import re

import numpy as np
import plotly.graph_objects as go
import pytest

from earlybias.inpage import PLOTLY_JS, PageExplorer, image_uri, montage


def test_montage_tiles_row_by_row_on_white():
    images = np.stack([np.full((2, 3, 3), k / 10) for k in range(5)])
    out = montage(images, columns=3, pad=1)
    assert out.shape == (2 * 2 + 1, 3 * 3 + 2, 3)
    assert np.all(out[0:2, 0:3] == 0.0) and np.all(out[0:2, 4:7] == 0.1) and np.all(out[3:5, 4:7] == 0.4)
    assert np.all(out[2] == 1.0) and np.all(out[3:5, 8:11] == 1.0)  # padding and the missing sixth tile


def test_image_uri_is_a_png_of_the_image():
    import matplotlib.image

    image = np.random.default_rng(0).random((4, 5, 3))
    uri = image_uri(image)
    assert uri.startswith("data:image/png;base64,")
    back = matplotlib.image.imread(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])), format="png")
    assert back.shape[:2] == (4, 5)
    assert np.abs(back[..., :3] - image).max() <= 1 / 255 + 1e-6  # 8 bits per channel


def _explorer(**kwargs):
    calls = []

    def draw(letter, number):
        calls.append((letter, number))
        return go.Figure(go.Scatter(x=[0, 1], y=[number, number]), layout_title_text=f"{letter}</script>")

    return PageExplorer("t", {"letter": ["a", "b"], "number": [1, 2, 3]}, draw, **kwargs), calls


def test_every_combination_is_drawn_once():
    page, calls = _explorer()
    assert sorted(calls) == [(a, n) for a in "ab" for n in (1, 2, 3)]
    assert len(page.figures) == 6


def test_html_has_a_control_per_parameter_and_every_figure():
    page, _ = _explorer(sliders=["number"], labels={"letter": "the letter"}, initial={"number": 3})
    html = page._repr_html_()
    assert 'class="earlybias-explorer"' in html and 'class="earlybias-explorer-plot"' in html
    assert re.search(r'<select data-control="letter">.*<option value="a" selected>', html)
    slider = re.search(r'<input type="range" data-control="number" min="0" max="2" step="1" value="2"', html)
    assert slider, "the slider starts at the initial value's index"
    assert "the letter" in html
    payload = re.search(r'<script type="application/json">(.*?)</script>', html, re.S).group(1)
    figures = json.loads(payload.replace("<\\/", "</"))
    assert len(figures) == 6
    assert "</script>" not in payload, "a title with </script> must not end the JSON early"
    # The only script it loads is the book's own copy of plotly.js.
    assert re.findall(r'<script src="([^"]+)"', html) == [PLOTLY_JS]
    assert "http" not in html


def test_an_initial_value_that_is_not_offered_is_an_error():
    with pytest.raises(ValueError, match=r"initial\['number'\]: got 4, allowed: \[1, 2, 3\]"):
        _explorer(initial={"number": 4})
