"""Driving Prefect's "Resume Flow Run" form with selenium (both bundled UIs; quirks in
test_ui_approval.py's docstring). Imported by the browser test only."""

from __future__ import annotations

from pathlib import Path

from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.select import Select
from selenium.webdriver.support.ui import WebDriverWait

UI_TIMEOUT = 45  # any single wait in the browser (s)
POLL = 0.2  # WebDriverWait poll interval (s)


def text_is(text: str) -> str:
    return f"normalize-space(.)='{text}'"


def open_resume_modal(drv, timeout: float = UI_TIMEOUT):
    """Click v1's "Resume" button, or v2's ⋮ menu then its "Resume" item; returns (ui, dialog)."""
    wait = WebDriverWait(drv, timeout, poll_frequency=POLL)

    def resume_control(d):
        for b in d.find_elements(By.XPATH, f"//button[{text_is('Resume')}]"):
            if b.is_displayed() and b.is_enabled():
                return "v1", b
        for b in d.find_elements(By.XPATH, f"//button[@aria-haspopup='menu'][{text_is('Open menu')}]"):
            if b.is_displayed() and b.is_enabled():
                return "v2", b
        return False

    try:
        ui, control = wait.until(resume_control, "no Resume button nor ⋮ menu on the flow-run page")
    except TimeoutException as exc:
        body = drv.find_element(By.TAG_NAME, "body").text[:2000]
        raise AssertionError(f"no Resume control on {drv.current_url}:\n{body}") from exc
    if ui == "v1":
        control.click()
    else:
        def resume_item(d):  # (re)open the menu until its Resume item shows
            items = [i for i in d.find_elements(By.XPATH, f"//*[@role='menuitem'][{text_is('Resume')}]")
                     if i.is_displayed()]
            if not items and control.get_dom_attribute("aria-expanded") != "true":
                control.click()
            return items[0] if items else False

        wait.until(resume_item, "the ⋮ menu has no Resume item").click()
    dialog = wait.until(EC.visibility_of_element_located(
        (By.XPATH, f"//*[@role='dialog'][.//*[{text_is('Resume Flow Run')}]]")), "no 'Resume Flow Run' modal")
    return ui, dialog


def label_xpath(title: str) -> str:
    """A form label "Title", "Title (hint)" or "Title (Optional)"."""
    return f"//label[{text_is(title)} or starts-with(normalize-space(.), '{title} (')]"


def field(dialog, title: str):
    """The control of the form property titled ``title`` (label "Title" or "Title (Optional)")."""
    label = label_xpath(title)
    controls = dialog.find_elements(
        By.XPATH, f".{label}/ancestor::*[.//fieldset][1]//fieldset//*[self::textarea or self::input or self::select "
                  f"or self::button]")
    assert controls, f"no form field {title!r} in the modal"
    return controls[0]


def choose(drv, dialog, title: str, value: str) -> None:
    control = field(dialog, title)
    drv.execute_script("arguments[0].scrollIntoView({block: 'center'})", control)
    if control.tag_name == "select":  # v1: native select
        Select(control).select_by_value(value)
        assert control.get_property("value") == value
    else:  # v2: combobox button -> listbox of options (rendered in a popover outside the dialog)
        control.click()
        option = WebDriverWait(drv, UI_TIMEOUT, poll_frequency=POLL).until(EC.element_to_be_clickable(
            (By.XPATH, f"//*[@role='option'][{text_is(value)}]")), f"no option {value!r} for {title}")
        option.click()
        WebDriverWait(drv, UI_TIMEOUT, poll_frequency=POLL).until(
            lambda d: control.get_property("textContent").strip() == value, f"{title} did not take the value {value!r}")


def type_into(drv, dialog, title: str, text: str, *, scroll: bool = True) -> None:
    """Type into an empty text field (real key events, so the UI's own input handlers run). With
    ``scroll=False`` nothing is scrolled first: the field must already be in view (the caller checks that
    the form did not scroll)."""
    control = field(dialog, title)
    assert control.get_property("value") == "", f"{title} is not empty"
    if scroll:
        drv.execute_script("arguments[0].scrollIntoView({block: 'center'})", control)
    control.click()
    control.send_keys(text)
    WebDriverWait(drv, UI_TIMEOUT, poll_frequency=POLL).until(lambda d: control.get_property("value") == text,
                                                              f"{title} did not take the value {text!r}")


# The nearest scrolling ancestor of an element (the modal's scrolling box), and whether an element lies
# wholly inside that box and the viewport; boxes as [top, bottom] in px of the page.
_GEOMETRY_JS = """
const scroller = e => { let s = e.parentElement;
  while (s && s.parentElement && !(/(auto|scroll)/.test(getComputedStyle(s).overflowY) && s.scrollHeight > s.clientHeight))
    s = s.parentElement;
  return s; };
const shown = (e, view) => { const r = e.getBoundingClientRect();
  return r.height > 0 && r.top >= Math.max(0, view.top) - 1 && r.bottom <= Math.min(innerHeight, view.bottom) + 1; };
const span = e => { const b = e.getBoundingClientRect(); return [Math.round(b.top), Math.round(b.bottom)]; };
"""

# One round trip: the short summary above the form (the form's markdown description): its one-line
# <summary> "Run R, iteration I: gate ..., n/N groups pass; full report" and the detail folded under it.
# Null until rendered. Reads only: scrolls nothing.
SUMMARY_PROBE = _GEOMETRY_JS + """
const [dialog, title] = arguments;
const line = [...dialog.querySelectorAll('summary')].find(e => e.textContent.trim().startsWith(title));
if (!line) return null;
const box = line.closest('article, .prose') || line.parentElement;
const view = scroller(line).getBoundingClientRect();
const link = [...line.querySelectorAll('a')].find(a => a.textContent.trim() === 'full report');
const table = box.querySelector('table');
const details = line.closest('details');
const lineHeight = parseFloat(getComputedStyle(line).lineHeight);
return {line: line.textContent.trim(), text: box.textContent, key: link ? link.title : null,
        href: link ? link.href : null, columns: table ? table.querySelectorAll('thead th').length : 0,
        folded: !!details && !details.open && !!table && details.contains(table),
        table_px: table ? Math.round(table.getBoundingClientRect().width) : 0, box_px: box.clientWidth,
        overflow_px: box.scrollWidth - box.clientWidth, images: box.querySelectorAll('img').length,
        shown_px: Math.round(box.getBoundingClientRect().height), summary: span(box),
        line_px: Math.round(line.getBoundingClientRect().height), line_height_px: lineHeight,
        line_shown: shown(line, view), link_shown: !!link && shown(link, view)};
"""

# The decision fields where the form is, without scrolling anything: each control (and the submit button)
# wholly inside the modal's scrolling box and the viewport? With the scroll offsets, to prove nothing moved.
FIELDS_PROBE = _GEOMETRY_JS + """
const [controls, submit] = arguments;
const box = scroller(controls[0]);
const view = box.getBoundingClientRect();
return {shown: controls.map(c => shown(c, view)), submit: shown(submit, {top: 0, bottom: innerHeight}),
        box_scroll_px: box.scrollTop, page_scroll_px: scrollY, box: span(box), controls: controls.map(span),
        submit_box: span(submit), viewport: [innerWidth, innerHeight]};
"""


def labels(dialog) -> list[str]:
    """The form's field labels, in order."""
    return [text for text in dialog.parent.execute_script(
        "return [...arguments[0].querySelectorAll('label')].map(l => l.textContent.trim())", dialog) if text]


def shot(drv, folder: Path, name: str) -> Path:
    path = folder / name
    assert drv.save_screenshot(str(path)), f"screenshot {path} failed"
    return path

