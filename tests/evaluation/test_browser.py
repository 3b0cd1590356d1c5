"""The HTML report opened in a real headless browser (Debian's chromium) shows its plots."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

import synthkit

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.browser
@pytest.mark.skipif(
    CHROMIUM is None,
    reason="chromium is not installed (apt-get install -y chromium; .ci/run installs it in CI)",
)
def test_report_plots_render_in_chromium(small_split, tmp_path):
    report = synthkit.evaluate(
        small_split["train"],
        small_split["fresh"],
        holdout=small_split["holdout"],
        metrics=[
            "column_shapes",
            "column_pair_trends",
            "alpha_precision",
            "beta_recall",
            "dcr_share",
            "singling_out_risk",
            "linkability_risk",
            "inference_risk",
        ],
        max_rows=1000,
    )
    page = tmp_path / "report.html"
    report.to_html(page)
    result = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--virtual-time-budget=5000",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    dom = result.stdout
    assert result.returncode == 0, result.stderr[-2000:]
    # The page's script counts the plots the browser laid out with a non-zero size.
    rendered = re.search(r'data-rendered-plots="(\d+)"', dom)
    assert rendered, "the page script did not run in the browser"
    plots = re.findall(r'<svg class="plot" data-plot="([^"]+)"', dom)
    assert int(rendered.group(1)) == len(plots) == 15 + 3
    assert "pair-trend-heatmap" in plots and "privacy-risks" in plots
    assert "alpha-beta-curves" in plots
    assert sum(p.startswith("distribution:") for p in plots) == 15
