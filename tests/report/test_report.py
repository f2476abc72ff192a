"""Snakemake's HTML report of a smoke run (`snakemake --report results/<name>/report.html`, README "Report"),
then the same page in a real headless Chromium, as a user opens it.

One smoke-grid pipeline run (CE, LIMIT_G with its β grid, cleanlab's folds; p = 0, where detection has nothing to
find, and 0.8) feeds both tests.
The browser test installs Debian's chromium with apt when it is missing (like the SLURM test installs slurm)
and drives it with Playwright's Python API and the system browser (never `playwright install`); it is
skipped, with the reason, only where no browser can be installed. Its screenshots go to
$LIMITLAB_TEST_ARTIFACTS (default: test-artifacts/ in the repository)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from limitlab.experiment import params_file as P
from limitlab.report.figures.index import family_name
from pipeline_support import REPO, check, copy_repo, run, smoke_subset

pytestmark = pytest.mark.slow
NAME = "smoke_report"
CHROMIUM = ("/usr/bin/chromium", "/usr/bin/chromium-headless-shell", "/usr/lib/chromium/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A smoke run and its report: (repo, experiment, report.html path, the report's embedded results)."""
    repo = copy_repo(tmp_path_factory.mktemp("report") / "repo")
    smoke_subset(repo, methods=["ce", "limit_g"], p=[0.0, 0.8], name=NAME)
    check(run(["snakemake", "--cores", "2", "--config", "params=params/smoke.yaml", "--", "all"], repo, timeout=1500))
    report = repo / "results" / NAME / "report.html"
    check(run(["snakemake", "--config", "params=params/smoke.yaml", "--report", str(report)], repo, timeout=600))
    return repo, P.load(repo / "params/smoke.yaml"), report, embedded(report, "results")


def embedded(report: Path, name: str) -> dict:
    """One of the JSON objects the report page embeds (`var results = {...};`, `var categories = ...`)."""
    return json.loads(re.search(rf"var {name} = (\{{.*?\}});\n", report.read_text(), re.S)[1])


def test_report_has_every_figure_table_and_the_params_file(built):
    repo, exp, report, results = built
    by_name = {Path(path).name: entry for path, entry in results.items()}
    category_of = {Path(path).name: cat for cat, subs in embedded(report, "categories").items()
                   for paths in subs.values() for path in paths}
    index = json.loads((repo / exp.results_path / "figures" / "index.json").read_text())
    drawn = index["figures"]
    assert {f["kind"] for f in drawn} >= {"fano", "curves", "limit_beta", "gradient_histograms", "confusing",
                                          "accuracy_vs_noise", "detection", "beta_curve", "paired_differences"}
    for fig in drawn:
        entry = by_name.get(fig["png"])
        assert entry is not None, f"{fig['png']} (drawn by the plot stage) is not in the report"
        assert entry["mime_type"] == "image/png" and entry["data_uri"].startswith("data:image/png")
        assert category_of[fig["png"]] == family_name(fig["kind"])
        assert str(exp.name) in entry["caption"] and "params/smoke.yaml" in entry["caption"]
    for name in ("results.html", "table.csv", "detection.csv", "selection.csv", "metrics.json", "paired.csv",
                 "claims.csv", "smoke.yaml"):
        assert name in by_name, f"{name} is not in the report"
    page = by_name["results.html"]
    assert category_of["results.html"] == "Results" and page["mime_type"] == "text/html"
    assert category_of["smoke.yaml"] == "Params file"
    # the detection table has the cleanlab row beside LIMIT's
    detection = (repo / exp.results_path / "detection.csv").read_text()
    assert "cleanlab_k3" in detection and "limit_g" in detection
    assert "cleanlab (3-fold CE)" in (repo / exp.results_path / "table.md").read_text()


def _browser() -> tuple[str | None, str]:
    """(path of a Chromium, '') or (None, why none can be had here)."""
    found = next((p for p in CHROMIUM if Path(p).is_file()), None) or shutil.which("chromium")
    if found:
        return found, ""
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return None, "no chromium, and apt-get cannot install it here (needs root on Debian/Ubuntu)"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", "chromium"]):
        res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
        if res.returncode != 0:
            return None, f"`{' '.join(cmd)}` failed: {res.stdout[-300:]}{res.stderr[-300:]}"
    found = next((p for p in CHROMIUM if Path(p).is_file()), None)
    return (found, "") if found else (None, "apt-get installed chromium but no browser binary was found")


def test_report_in_a_headless_browser(built):
    """Every image decodes (naturalWidth > 0), the summary is the page's first section and visible with a row per
    setting, the results table is visible with a row per method, p = 0 reads "no noise", no JS errors."""
    repo, exp, report, results = built
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("Playwright's Python package is missing: pip install playwright (uses the system chromium)")
    chromium, why = _browser()
    if chromium is None:
        pytest.skip(why)
    artifacts = Path(os.environ.get("LIMITLAB_TEST_ARTIFACTS", REPO / "test-artifacts"))
    artifacts.mkdir(parents=True, exist_ok=True)
    images = sorted(p for p, r in results.items() if r["mime_type"] == "image/png")
    labels = [m.label for m in exp.studies[0].methods]

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1500, "height": 1000})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
        page.on("console", lambda msg: errors.append(f"console {msg.type}: {msg.text}") if msg.type == "error" else None)
        page.goto(report.as_uri())
        page.wait_for_function("document.querySelector('#app') && document.querySelector('#app').children.length > 0")
        page.wait_for_timeout(500)
        page.screenshot(path=str(artifacts / "report_home.png"))
        assert "System Message" not in page.locator("#app").inner_text()  # docutils warnings in the captions

        # every embedded image, decoded by the browser as the report's viewer would show it
        widths = page.evaluate("""async (paths) => {
            const out = {};
            for (const p of paths) {
                const img = new Image();
                img.src = results[p].data_uri;
                try { await img.decode(); } catch (e) {}
                out[p] = img.naturalWidth;
            }
            return out; }""", images)
        assert len(widths) == len(images) > 0
        assert all(w > 0 for w in widths.values()), {p: w for p, w in widths.items() if w <= 0}

        # as a user: in the menu, the Results category, its results page, the eye button; the page is an iframe
        menu = page.locator("nav").first
        menu.get_by_text("Results", exact=True).last.click()
        menu.get_by_text("Results page", exact=True).first.click()
        menu.locator("tr", has_text="results.html").locator("a[iconname=eye]").click()
        frame = page.frame_locator("iframe").first
        table = frame.locator("#results-table")
        table.wait_for(state="visible", timeout=15000)
        # the summary opens the page: the first section, visible, above the results table, one row per setting
        assert frame.locator("h2").first.inner_text() == "Summary"
        summary = frame.locator("#summary-table")
        assert summary.is_visible() and summary.locator("tbody tr").count() == len(exp.studies[0].noise.p)
        assert summary.bounding_box()["y"] < table.bounding_box()["y"]
        assert summary.evaluate("e => e.getBoundingClientRect().top < window.innerHeight")  # seen without scrolling
        top = summary.inner_text()
        assert "best method" in top and "vs CE (points)" in top and "mnist5k uniform p=0.8 n=300" in top
        assert any(label in top for label in labels)
        rows = table.locator("tbody tr")
        assert rows.count() == len(labels)
        body = table.inner_text()
        assert all(label in body for label in labels)
        # mnist5k has no number in the paper: no empty paper columns, and the page says why
        assert "paper" not in table.locator("thead").inner_text()
        assert "no paper table is shown" in frame.locator("body").inner_text()
        detection = frame.locator("#detection-table")
        assert detection.is_visible() and "cleanlab (3-fold CE)" in detection.inner_text()
        assert "no noise" in detection.inner_text()  # p = 0: no corrupted label to find, never 0.0
        rules = frame.locator("#rules-table")  # the three selection rules, the oracle labelled as a bound
        assert rules.is_visible() and rules.locator("tbody tr").count() >= len(labels)
        assert "oracle (upper bound)" in rules.inner_text()
        budget = frame.locator("#budget-table")  # detection at a budget, with the trivial CE-loss detector
        assert budget.is_visible() and "CE loss (in-sample, trivial)" in budget.inner_text()
        paired = frame.locator("#paired-table")  # every method against CE on the same splits
        assert paired.is_visible() and paired.locator("tbody tr").count() >= len(labels) - 1
        claims = frame.locator("#claims-table")  # the paper's claims: what this grid can and cannot test
        assert claims.is_visible() and claims.locator("tbody tr").count() == 12
        assert "not testable with this grid" in claims.inner_text() and "params/paper/cifar10.yaml" in claims.inner_text()
        inputs = frame.locator("#inputs-table")  # every setting's data, by content identity
        assert inputs.is_visible() and "labels.npz" in inputs.inner_text()
        page.screenshot(path=str(artifacts / "report_results.png"))

        # and one figure through the report's own viewer
        fig = next(p for p in images if "accuracy_vs_noise" in p)
        page.goto(report.as_uri())  # back to the top of the menu
        page.wait_for_function("document.querySelector('#app') && document.querySelector('#app').children.length > 0")
        menu.get_by_text(family_name("accuracy_vs_noise"), exact=True).last.click()
        menu.locator("tr", has_text=Path(fig).stem).locator("a[iconname=eye]").first.click()  # labelled by name
        shown = page.locator("img[src^='data:image/png']").last
        shown.wait_for(state="visible", timeout=15000)
        assert page.evaluate("(img) => img.naturalWidth", shown.element_handle()) > 0
        page.screenshot(path=str(artifacts / "report_figure.png"))
        browser.close()
    assert errors == [], errors
