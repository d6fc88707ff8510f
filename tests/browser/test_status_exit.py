"""/status: the quick exit sits in the page's flow, never over the language button, at
any width from a small phone to a wide screen, and the first Tab reaches it."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.pages import BasePage

WIDTHS = (320, 375, 768, 1366, 1920)


class StatusPage(BasePage):
    path = "/status"

    def box(self, selector: str) -> dict[str, float]:
        found = self.page.locator(selector).bounding_box()
        assert found, f"{selector} is not shown"
        return dict(found)

    def exit_box(self) -> dict[str, float]:
        return self.box("a.quick-exit")

    def language_box(self) -> dict[str, float]:
        return self.box("header form.lang button")


def overlap(a: dict[str, float], b: dict[str, float]) -> bool:
    return not (
        a["x"] + a["width"] <= b["x"]
        or b["x"] + b["width"] <= a["x"]
        or a["y"] + a["height"] <= b["y"]
        or b["y"] + b["height"] <= a["y"]
    )


@pytest.fixture
def status_page(browsing: Any) -> StatusPage:
    page = StatusPage(browsing.new_page())
    assert page.open().status == 200
    return page


@pytest.mark.parametrize("width", WIDTHS)
def test_quick_exit_never_covers_the_language_button(status_page: StatusPage, width: int):
    status_page.page.set_viewport_size({"width": width, "height": 700})
    exit_box, language = status_page.exit_box(), status_page.language_box()
    assert not overlap(exit_box, language), (width, exit_box, language)
    # Both inside the screen, and the exit not pinned over the page as it scrolls.
    assert exit_box["x"] >= 0 and exit_box["x"] + exit_box["width"] <= width
    assert status_page.page.locator("a.quick-exit").evaluate(
        "el => getComputedStyle(el).position"
    ) not in ("fixed", "absolute", "sticky")
    for other in ("header .brand", "main h1"):
        assert not overlap(exit_box, status_page.box(other)), (width, other)


@pytest.mark.parametrize("width", (320, 375, 768, 1366))
def test_first_tab_reaches_the_quick_exit(status_page: StatusPage, width: int):
    status_page.page.set_viewport_size({"width": width, "height": 700})
    status_page.page.keyboard.press("Tab")
    focused = status_page.focused()
    assert focused and focused["visible"]
    assert status_page.page.locator("a.quick-exit").evaluate("el => el === document.activeElement")


def test_quick_exit_stays_first_and_clear_in_english(status_page: StatusPage):
    status_page.switch_language()
    assert status_page.lang() == "en"
    assert status_page.page.locator("a.quick-exit").inner_text() == "Quick exit"
    assert not overlap(status_page.exit_box(), status_page.language_box())
    status_page.screenshot("status-quick-exit-en")


def test_status_page_pictures(status_page: StatusPage):
    status_page.screenshot("status-quick-exit")
