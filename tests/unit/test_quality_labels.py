"""Outlet names in the Quality page's plots are plain text (issue 28: `$...$` in a name made
matplotlib parse it as math, and the admin's Quality page failed to draw)."""

from __future__ import annotations

import datetime as dt
import io

from rag.team.quality import Day, QualityReport, quality_figure

NAMES = [r"$\frac{1}{$ Daily", "Cost $5 and $6 Times", r"Back\slash $x^2$ Post", "$$"]


def test_outlet_names_with_dollars_draw_as_written():
    today = dt.date(2025, 5, 16)
    report = QualityReport(days=7, until=dt.datetime(2025, 5, 16, tzinfo=dt.timezone.utc),
                           per_day=[Day(today, 3, 1, 1, 1)], outlets=[(name, 4 - i) for i, name in enumerate(NAMES)])
    figure = quality_figure(report)
    figure.savefig(io.BytesIO(), format="png")  # raised ValueError (mathtext) before
    outlets = figure.axes[2]
    drawn = {label.get_text() for label in outlets.get_yticklabels()}
    shown = {label._preprocess_math(label.get_text())[0] for label in outlets.get_yticklabels()}
    assert len(drawn) == len(NAMES) and shown == set(NAMES)
    assert all(not label._preprocess_math(label.get_text())[1] for label in outlets.get_yticklabels())
