"""Sphinx extension of the book: each page's scripts once.

Jupyter Book 1 registers thebe's and togglebutton's inline configuration scripts twice, once with
the file name ``None`` and once with ``""``, which Sphinx does not recognise as the same script: a
page then declares ``THEBE_JS_URL`` twice and the browser reports a SyntaxError on every page.
"""


def _dedupe(app, pagename, templatename, context, doctree):
    seen, kept = set(), []
    for js in context.get("script_files", []):
        key = (str(getattr(js, "filename", js) or ""), getattr(js, "attributes", {}).get("body"))
        if key not in seen:
            seen.add(key)
            kept.append(js)
    context["script_files"] = kept


def setup(app):
    # After the theme and the other extensions have added their scripts.
    app.connect("html-page-context", _dedupe, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
