"""The accessibility check of every screenshot can fail: a page given a known WCAG
violation is reported by axe-core, and the same page without it is not."""

from __future__ import annotations

from typing import Any

from tests.browser.pages import BasePage


def test_axe_reports_a_known_violation_and_passes_the_clean_page(browsing: Any) -> None:
    page = browsing.new_page()
    login = BasePage(page)
    login.open("/login")
    assert login.accessibility_problems() == []
    page.evaluate(
        """() => { const b = document.createElement('button');
                   document.querySelector('main').appendChild(b); }"""
    )
    problems = login.accessibility_problems()
    assert any(p.startswith("button-name (critical)") for p in problems), problems


def test_a_page_without_javascript_is_checked_too(browsing: Any) -> None:
    """axe-core needs timers, which a page without JavaScript never runs: the check reads
    a copy of its document, and still finds what is wrong with it."""
    page = browsing.new_page(java_script_enabled=False)
    login = BasePage(page)
    login.open("/login")
    assert login.accessibility_problems() == []
    page.evaluate(
        "() => document.querySelector('main').appendChild(document.createElement('button'))"
    )
    problems = login.accessibility_problems()
    assert any(p.startswith("button-name (critical)") for p in problems), problems
