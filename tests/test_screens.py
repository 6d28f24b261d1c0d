"""The pages at a phone's width and a desktop's, in Chromium: each page's screenshot is saved under
test-artifacts/screens/ to be looked at, and a layout that breaks fails here: the page wider than the
screen (a sideways scroll), text that spills out of its box, a control or a figure cut off or
overlapping another. Skipped without /usr/bin/chromium unless REQUIRE_BROWSER is set, as the other
browser tests."""

from pathlib import Path

import pytest

from .browser_support import require_chromium

require_chromium()

SCREENS = Path(__file__).resolve().parent.parent / "test-artifacts" / "screens"
X12 = Path(__file__).parent / "data" / "x12" / "own-dependent-family-deductible.271"


WIDTHS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 900}}


@pytest.fixture(params=list(WIDTHS))
def screen(request, browser):
    context = browser.new_context(viewport=WIDTHS[request.param], device_scale_factor=1)
    page = context.new_page()
    page.width_name = request.param
    yield page
    context.close()


def fill(page, server, lines, **fields):
    page.goto(server + "/")
    for i, code in enumerate(lines):
        if i >= 3:
            page.click("button[name=add_line]")
        page.fill("#cpt_code" if i == 0 else f"#lines-{i}-cpt_code", code)
    for name, value in fields.items():
        if name in ("payer_id", "setting"):
            page.select_option(f"#{name}", value)
        else:
            page.fill(f"#{name}", value)


def estimate(page):
    page.click("text=Estimate the cost")


# What a broken layout looks like, measured in the page: the overflow of the document, and the elements
# whose content is wider than their box (text cut off or spilling) or that reach past the right edge.
LAYOUT_PROBLEMS = """() => {
  const problems = [];
  const scrolledWithin = (el) => {
    for (let up = el.parentElement; up && up.tagName !== 'MAIN'; up = up.parentElement) {
      if (['auto', 'scroll'].includes(getComputedStyle(up).overflowX)) return true;
    }
    return false;
  };
  const width = document.documentElement.clientWidth;
  if (document.documentElement.scrollWidth > width + 1) {
    problems.push(`the page is ${document.documentElement.scrollWidth}px wide on a ${width}px screen`);
  }
  for (const el of document.querySelectorAll('main *')) {
    const style = getComputedStyle(el);
    if (style.display === 'none' || style.visibility === 'hidden') continue;
    if (scrolledWithin(el)) continue;  // inside a box that scrolls sideways by itself (a wide table)
    const box = el.getBoundingClientRect();
    if (box.width === 0 || box.height === 0) continue;
    if (box.right > width + 1) {
      const name = `${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''}.${el.className}`;
      problems.push(`${name} reaches ${Math.round(box.right)}px`);
    }
    const clips = ['hidden', 'clip'].includes(style.overflowX);
    if (clips && el.scrollWidth > el.clientWidth + 1 && ['INPUT','SELECT','TEXTAREA'].indexOf(el.tagName) < 0) {
      problems.push(`${el.tagName.toLowerCase()}.${el.className} cuts off its content`);
    }
  }
  return problems.slice(0, 10);
}"""


def shoot(page, name):
    SCREENS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENS / f"{name}-{page.width_name}.png"), full_page=True)
    problems = page.evaluate(LAYOUT_PROBLEMS)
    assert problems == [], (name, page.width_name, problems)


def test_the_form(screen, server):
    screen.goto(server + "/")
    shoot(screen, "form")


def test_the_form_filled_from_a_271(screen, server):
    fill(screen, server, ["64483"], payer_id="example_ppo", zip="10001", date_of_service="2025-12-15")
    screen.fill("#eligibility_271", X12.read_text())
    screen.click("button[name=read_271]")
    assert screen.input_value("#deductible") == "4000"
    shoot(screen, "form-from-271")


def test_a_result(screen, server):
    fill(screen, server, ["64483"], payer_id="example_ppo", zip="10001", setting="asc", date_of_service="2025-06-02")
    estimate(screen)
    assert screen.title() == "Estimate for 64483"
    shoot(screen, "result")


def test_a_visit(screen, server):
    fill(
        screen,
        server,
        ["64493", "64494", "64495", "99213"],
        payer_id="example_ppo",
        zip="60601",
        date_of_service="2025-09-15",
    )
    estimate(screen)
    assert screen.title().startswith("Estimate for a visit of 4 procedures")
    shoot(screen, "visit")


def test_a_good_faith_estimate(screen, server):
    fill(screen, server, ["99213", "64635", "64636"], payer_id="self_pay", zip="30303", date_of_service="2026-12-15")
    estimate(screen)
    assert "Good Faith Estimate" in screen.inner_text("h1")
    shoot(screen, "good-faith-estimate")


def test_the_upload_page_and_its_result(screen, server):
    screen.goto(server + "/batch")
    shoot(screen, "upload")
    screen.set_input_files("#file", str(Path(__file__).resolve().parent.parent / "examples" / "requests.csv"))
    screen.click("text=Estimate the file")
    assert "Rows read" in screen.inner_text("main")
    shoot(screen, "upload-result")


def test_the_code_finder(screen, server):
    screen.goto(server + "/procedures?q=facet")
    shoot(screen, "code-finder")
