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
    except TimeoutException:
        raise AssertionError(f"no Resume control on {drv.current_url}:\n{drv.find_element(By.TAG_NAME, 'body').text[:2000]}")
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


def type_into(drv, dialog, title: str, text: str) -> None:
    """Type into an empty text field (real key events, so the UI's own input handlers run)."""
    control = field(dialog, title)
    assert control.get_property("value") == "", f"{title} is not empty"
    drv.execute_script("arguments[0].scrollIntoView({block: 'center'})", control)
    control.click()
    control.send_keys(text)
    WebDriverWait(drv, UI_TIMEOUT, poll_frequency=POLL).until(lambda d: control.get_property("value") == text,
                                                              f"{title} did not take the value {text!r}")


# The nearest scrolling ancestor of an element, and whether an element lies inside it and the viewport.
_GEOMETRY_JS = """
const scroller = e => { let s = e.parentElement;
  while (s && s.parentElement && !(/(auto|scroll)/.test(getComputedStyle(s).overflowY) && s.scrollHeight > s.clientHeight))
    s = s.parentElement;
  return s; };
const shown = (e, view) => { const r = e.getBoundingClientRect();
  return r.height > 0 && r.top >= Math.max(0, view.top) - 1 && r.bottom <= Math.min(innerHeight, view.bottom) + 1; };
"""

# One round trip: the short summary above the form (the form's markdown description); null until rendered.
SUMMARY_PROBE = _GEOMETRY_JS + """
const [dialog, title] = arguments;
const h = [...dialog.querySelectorAll('h3')].find(e => e.textContent.trim().startsWith(title));
if (!h) return null;
const box = h.closest('article, .prose') || h.parentElement;
const view = scroller(h).getBoundingClientRect();
const link = [...box.querySelectorAll('a')].find(a => a.textContent.startsWith('calibration-report-'));
const table = box.querySelector('table');
return {heading: h.textContent.trim(), text: box.textContent, key: link ? link.textContent : null,
        href: link ? link.href : null, columns: table ? table.querySelectorAll('thead th').length : 0,
        table_px: table ? Math.round(table.getBoundingClientRect().width) : 0, box_px: box.clientWidth,
        images: box.querySelectorAll('img').length, shown_px: box.getBoundingClientRect().height,
        heading_shown: shown(h, view), link_shown: !!link && shown(link, view)};
"""

# Scrolls ``anchor`` (the first field's label) to the top of its scrolling box, then: is every control
# (and the submit button) inside that box and the viewport at once? Returns the boxes measured, in px.
FIELDS_PROBE = _GEOMETRY_JS + """
const [anchor, controls, submit] = arguments;
const box = scroller(anchor);
box.scrollTop = 0;
const before = controls.map(c => shown(c, box.getBoundingClientRect()));
anchor.scrollIntoView({block: 'start'});
const view = box.getBoundingClientRect();
const r = e => { const b = e.getBoundingClientRect(); return [Math.round(b.top), Math.round(b.bottom)]; };
return {shown: controls.map(c => shown(c, view)), submit: shown(submit, {top: 0, bottom: innerHeight}),
        shown_before_scrolling: before, scrolled_px: box.scrollTop, box: r(box), controls: controls.map(r),
        viewport: [innerWidth, innerHeight]};
"""


def labels(dialog) -> list[str]:
    """The form's field labels, in order."""
    return [text for text in dialog.parent.execute_script(
        "return [...arguments[0].querySelectorAll('label')].map(l => l.textContent.trim())", dialog) if text]


def shot(drv, folder: Path, name: str) -> Path:
    path = folder / name
    assert drv.save_screenshot(str(path)), f"screenshot {path} failed"
    return path

