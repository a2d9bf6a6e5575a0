"""Read an HTML form the way a browser submits it (inputs, checked radios/boxes, selected options, textareas), so
TestClient tests can fill in dashboard forms without a browser."""

from __future__ import annotations

from html.parser import HTMLParser


class _FormReader(HTMLParser):
    def __init__(self, form_id: str) -> None:
        super().__init__(convert_charrefs=True)
        self.form_id = form_id
        self.inside = False
        self.values: dict[str, str] = {}
        self.select: str | None = None
        self.first_option: str | None = None
        self.textarea: str | None = None
        self.option: dict[str, str | None] | None = None
        self.found = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form" and a.get("id") == self.form_id:
            self.inside = self.found = True
        if not self.inside:
            return
        name = a.get("name")
        if tag == "input" and name and a.get("type") not in ("submit", "button"):
            kind = a.get("type", "text")
            if kind in ("radio", "checkbox"):
                if "checked" in a:
                    self.values[name] = a.get("value") or "on"
            else:
                self.values[name] = a.get("value") or ""
        elif tag == "select" and name:
            self.select, self.first_option = name, None
        elif tag == "option" and self.select:
            self.option = a
            value = a.get("value")
            if self.first_option is None:
                self.first_option = value if value is not None else ""
            if "selected" in a:
                self.values[self.select] = value if value is not None else ""
        elif tag == "textarea" and name:
            self.textarea = name
            self.values[name] = ""

    def handle_data(self, data: str) -> None:
        if self.textarea:
            self.values[self.textarea] += data
        elif self.option is not None and self.select and self.option.get("value") is None:
            if "selected" in self.option:
                self.values[self.select] = data.strip()
            if self.first_option == "":
                self.first_option = data.strip()

    def handle_endtag(self, tag: str) -> None:
        if tag == "form" and self.inside:
            self.inside = False
        elif tag == "textarea":
            self.textarea = None
        elif tag == "option":
            self.option = None
        elif tag == "select" and self.select:
            self.values.setdefault(self.select, self.first_option or "")
            self.select = None


def form_values(page: str, form_id: str) -> dict[str, str]:
    """What submitting the form `form_id` of `page` unchanged would send."""
    reader = _FormReader(form_id)
    reader.feed(page)
    assert reader.found, f"no form with id {form_id!r} on the page"
    return reader.values
