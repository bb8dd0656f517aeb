"""The HTML report in a real headless Chromium, at a desktop and a phone width: nothing overflows
the viewport (screenshots are exactly as wide as the window), long details start collapsed, the
chart draws, and the offline filter really hides what it filters out.

The screenshots are written under the test's tmp_path (look at them when this fails)."""

from __future__ import annotations

import struct
from dataclasses import replace
from pathlib import Path

import pytest
from chromium import Chromium, chromium_path
from report_sample import DIFF, finding, record

from ospatrol.audit.records import HostReport, ReportedFinding
from ospatrol.report import render

pytestmark = pytest.mark.skipif(
    chromium_path() is None, reason="chromium not installed (scripts/system-deps.sh --test)"
)
LONG_PATH = "/srv/" + "a_very_long_directory_name_without_any_break" * 6 + "/file.conf"
LONG_LINE = "+" + "x" * 400


def _page(tmp_path: Path) -> Path:
    base = record()
    wide = HostReport(
        "long-named-host-in-a-datacenter-" + "x" * 60,
        "10.0.0.4",
        "ok",
        findings=(
            ReportedFinding(
                finding("h", "fim", "changed", LONG_PATH, "Old sha256sum was: '" + "ab" * 64 + "'"),
                550,
                7,
                "File integrity: a monitored file changed.",
            ),
            ReportedFinding(
                finding("h", "commands", "changed", "uname -a", "1 added", DIFF + "\n" + LONG_LINE),
                80121,
                7,
                "Agentless: the output of a monitored command changed.",
            ),
        ),
        platform="linux",
        groups=("edge",),
    )
    page = tmp_path / "report.html"
    page.write_text(render(replace(base, hosts=(*base.hosts, wide)), "html"), encoding="utf-8")
    return page


def _png_size(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", png[16:24])


VISIBLE = "(el) => el.checkVisibility()"


def _visible(browser: Chromium, selector: str) -> list[str]:
    """data-host/data-level of the elements matching `selector` that are rendered."""
    return browser.evaluate(
        f"Array.from(document.querySelectorAll({selector!r})).filter({VISIBLE})"
        ".map(e => e.dataset.host + ':' + (e.dataset.level || ''))"
    )


def _choose(browser: Chromium, name: str, value: str) -> None:
    browser.evaluate(
        f"(() => {{ const s = document.querySelector('#filter [name={name}]');"
        f" s.value = {value!r}; s.dispatchEvent(new Event('change', {{bubbles: true}})); }})()"
    )


@pytest.mark.parametrize("width", [1280, 360])
def test_nothing_overflows_and_long_details_start_collapsed(tmp_path: Path, width: int):
    page = _page(tmp_path)
    with Chromium(tmp_path / "profile") as browser:
        browser.open(page.as_uri(), width)
        shot_width, shot_height = _png_size(browser.screenshot(tmp_path / f"report-{width}.png"))
        # A page wider than the window would make the full-page screenshot wider too.
        assert shot_width <= width and shot_height > 600
        assert browser.evaluate("document.documentElement.scrollWidth") <= width
        # Every block stays inside the window; only a <pre> may scroll inside itself.
        outside = browser.evaluate(
            "Array.from(document.querySelectorAll('body *')).filter(e => !e.closest('pre')"
            f" && ({VISIBLE})(e) && e.getBoundingClientRect().right > {width} + 0.5)"
            ".map(e => e.tagName + '.' + e.className)"
        )
        assert outside == []
        collapsed = browser.evaluate(
            "Array.from(document.querySelectorAll('details:not(.diff)')).map(d => d.open)"
        )
        assert collapsed and not any(collapsed)
        assert (
            browser.evaluate(
                "Array.from(document.querySelectorAll('details:not(.diff) pre')).some("
                + VISIBLE
                + ")"
            )
            is False
        )
        bars = browser.evaluate(
            "Array.from(document.querySelectorAll('svg.chart rect')).map(r => r.getBBox().width)"
        )
        assert len(bars) == 3 and all(w > 0 for w in bars)
        assert browser.evaluate(f"({VISIBLE})(document.getElementById('filter'))")


def test_filter_hides_rows_by_host_level_and_collector(tmp_path: Path):
    page = _page(tmp_path)
    with Chromium(tmp_path / "profile") as browser:
        browser.open(page.as_uri(), 1280)
        everything = _visible(browser, "article.finding")
        assert len(everything) == 6
        assert _visible(browser, "section.host")[0] == "web1:"

        _choose(browser, "host", "db1")
        assert _visible(browser, "article.finding") == ["db1:5"]
        assert _visible(browser, "section.host") == ["db1:"]
        assert browser.evaluate("document.getElementById('shown-count').textContent") == "1"
        browser.screenshot(tmp_path / "filtered-host.png")

        _choose(browser, "host", "")
        _choose(browser, "level", "7")
        levels = [int(v.split(":")[1]) for v in _visible(browser, "article.finding")]
        assert len(levels) == 4 and min(levels) >= 7
        # app1 (no findings) and db1 (only level 5) have nothing left to show.
        hosts = [v.split(":")[0] for v in _visible(browser, "section.host")]
        assert "app1" not in hosts and "db1" not in hosts and "web1" in hosts

        _choose(browser, "collector", "commands")
        shown = browser.evaluate(
            "Array.from(document.querySelectorAll('article.finding')).filter("
            + VISIBLE
            + ").map(e => e.dataset.collector)"
        )
        assert shown == ["commands", "commands"]
        browser.screenshot(tmp_path / "filtered-level-collector.png")

        _choose(browser, "level", "-1")
        _choose(browser, "collector", "")
        assert len(_visible(browser, "article.finding")) == 6
