"""The approval form in the real Prefect UI, driven by headless Chromium.

A real ``prefect server start`` (UI on, loopback only) runs in a subprocess; the calibration flow runs
in another subprocess against it and pauses for approval. Selenium then opens the paused run in the
UI, opens the "Resume Flow Run" modal, checks that the calibration report (the form's markdown
description) is rendered, fills ``author``, picks ``decision = accept``, keeps the prefilled
``applies_to`` / ``iteration`` and submits. The run must end Completed with version 1 stored under
the author typed in the browser.

Both bundled UIs are exercised (Prefect 3.8.8 ships and mounts both): v1 at ``/runs/flow-run/<id>``
and v2 at ``/v2/runs/flow-run/<id>``; a UI that the server does not list in ``/ui-settings`` is
skipped.

UI quirks found while writing this test (Prefect 3.8.8, Chromium 150):

* ``prefect server start --port P`` does NOT tell the UI which port the API is on: ``/ui-settings``
  still answers ``api_url = http://127.0.0.1:4200/api`` (built from ``PREFECT_SERVER_API_PORT``,
  not from the ``--port`` flag), so the page is empty apart from the toasts "Can't connect to Server
  API at http://127.0.0.1:4200/api". Set ``PREFECT_UI_API_URL`` (or ``PREFECT_SERVER_API_PORT``)
  to the same port, as the fixture below does.
* The server's default UI is v2 (``default_ui: v2``), but only ``/`` is redirected to ``/v2``. The
  "View at http://.../runs/flow-run/<id>" link that the flow logs opens the v1 UI.
* v1: a "Resume" button next to "Cancel" in the run header; the modal's submit button is "Submit";
  ``decision`` (a ``Literal``) is a native ``<select>`` with an empty placeholder. The ``<label for>``
  ids do not match any control, so fields are found through their form-property container.
* v2: Resume is only in the header's ⋮ menu ("Open menu", a Radix dropdown: menu item "Resume");
  the modal's submit button is also labelled "Resume"; ``decision`` is a combobox (button
  "Select Decision", then a ``role=option`` list).
* v1 hides the report: the markdown description is rendered into the DOM (heading, table, data-URL
  images) but the ``<article class="markdown-renderer">`` is a flex child of the modal body with
  ``overflow: auto`` and ``flex-shrink: 1``, so the tall approval form (18 fields) squeezes it to
  0 px at a 1400x1000 window (720 of 1358 px at 1400x3000). An operator using v1 sees only the
  form, not the calibration report. The test checks the report in the DOM for v1 and emits a
  ``UserWarning`` with the measured height instead of failing; v2 must show it (> 100 px).
* v2 shows the report in a scrolling box above the form; the six-column table is wider than the
  modal (horizontal scrollbar).
* Both: fields prefilled through ``RunInput.with_initial_data`` (``applies_to``, ``iteration``) are
  labelled "(Optional)" although the model requires them; ``author`` (``min_length=1``, not
  prefilled) is shown as required.
* Under CPU load every WebDriver command costs 0.2-0.5 s and each keystroke re-renders the big
  modal, so the report checks are one ``execute_script`` round trip.
* Resume latency is up to the flow's ``poll_interval`` (2 s): the run stays Paused for a moment
  after the modal closes, so the test waits on the REST API rather than on the page.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
import warnings
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.browser]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
if not CHROMIUM or not CHROMEDRIVER:
    pytest.skip(f"headless Chromium not installed (chromium: {CHROMIUM}, chromedriver: {CHROMEDRIVER}); "
                "install the Debian packages chromium and chromium-driver", allow_module_level=True)
pytest.importorskip("selenium", reason="selenium is not installed (pip install -e '.[test]')")

import httpx  # noqa: E402  (a Prefect dependency)
from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import TimeoutException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from resume_form import POLL, REPORT_PROBE, UI_TIMEOUT, choose, field, open_resume_modal, shot, text_is, type_into  # noqa: E402
from snapcal_core.settings import get_settings  # noqa: E402
from snapcal_core.simulate.run import simulate_run  # noqa: E402
from snapcal_core.storage.store import list_versions  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
RUN = 4243
STATE_ID = "04bd2c53f6bf6754"  # state of the simulated reference run (lite mode)
AUTHOR = "ui-tester"
SERVER_START_TIMEOUT = 120
PAUSE_TIMEOUT = 120  # from starting the flow subprocess to the Paused state
COMPLETE_TIMEOUT = 90  # from submitting the form to the Completed state


# --------------------------------------------------------------------------------------------------
# processes


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM the process (by its PID), SIGKILL it if it is still alive 10 s later."""
    for sig, grace in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
        if proc.poll() is not None:
            return
        try:
            os.kill(proc.pid, sig)
            proc.wait(timeout=grace)
        except ProcessLookupError:
            return
        except subprocess.TimeoutExpired:
            continue


def _tail(path: Path, n: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return "<no log>"


def _base_env(prefect_home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "SNAPCAL_"))}
    env.update(PREFECT_HOME=str(prefect_home), PREFECT_SERVER_ANALYTICS_ENABLED="false", DO_NOT_TRACK="1")
    return env


class Server:
    def __init__(self, url: str, proc: subprocess.Popen, log: Path):
        self.url, self.proc, self.log = url, proc, log
        self.api = f"{url}/api"

    def flow_runs(self, **flow_runs_filter) -> list[dict]:
        r = httpx.post(f"{self.api}/flow_runs/filter", json={"flow_runs": flow_runs_filter}, timeout=10)
        r.raise_for_status()
        return r.json()

    def ui_settings(self) -> dict:
        return httpx.get(f"{self.url}/ui-settings", timeout=10).json()


@pytest.fixture(scope="module")
def prefect_server(tmp_path_factory) -> Server:
    """``prefect server start`` on a free loopback port with the UI on; stopped by PID at the end."""
    home = tmp_path_factory.mktemp("prefect-server-home")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = _base_env(home)
    env.update(PREFECT_UI_ENABLED="true", PREFECT_SERVER_API_HOST="127.0.0.1", PREFECT_SERVER_API_PORT=str(port),
               PREFECT_UI_API_URL=f"{url}/api")  # without this the UI calls port 4200 (see the docstring)
    log = home / "server.log"
    prefect = Path(sys.executable).with_name("prefect")
    cli = [str(prefect)] if prefect.exists() else [sys.executable, "-m", "prefect"]
    with open(log, "wb") as out:
        proc = subprocess.Popen([*cli, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                                env=env, cwd=home, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while True:
            if proc.poll() is not None:
                pytest.fail(f"prefect server exited with {proc.returncode}:\n{_tail(log)}")
            try:
                if httpx.get(f"{url}/api/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"prefect server not healthy after {SERVER_START_TIMEOUT} s:\n{_tail(log)}")
            time.sleep(0.5)
        yield Server(url, proc, log)
    finally:
        _stop(proc)


@pytest.fixture(scope="module")
def facility(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("facility")
    simulate_run(run_number=RUN, ipts=9, sample="diamond", n_events=2_000_000, seed=21,
                 settings=get_settings(data_root=root))
    return root


FLOW_SCRIPT = """
import sys
from prefect import tags
from flows.calibration import calibration_flow
from flows.parameters import CalibrationParameters
with tags(sys.argv[1]):
    state = calibration_flow(CalibrationParameters(run_number=int(sys.argv[2]), sample="diamond", skip_pixel=True,
                                                   pause_timeout_s=300), return_state=True)
print("FINAL STATE:", state.type.value, state.message, flush=True)
sys.exit(0 if state.is_completed() else 1)
"""


class FlowProcess:
    def __init__(self, proc: subprocess.Popen, tag: str, log: Path, home: Path):
        self.proc, self.tag, self.log, self.home = proc, tag, log, home

    def run(self, server: Server) -> dict | None:
        runs = server.flow_runs(tags={"all_": [self.tag]})
        return runs[0] if runs else None

    def wait_for_state(self, server: Server, state_type: str, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        run = None
        while time.monotonic() < deadline:
            run = self.run(server)
            if run and run["state"] and run["state"]["type"] == state_type:
                return run
            if self.proc.poll() is not None and (run is None or run["state"]["type"] != state_type):
                # the process has ended: read the run one last time (the final state is set before exit)
                run = self.run(server)
                if run and run["state"]["type"] == state_type:
                    return run
                break
            time.sleep(0.5)
        state = json.dumps(run["state"], indent=1)[:800] if run else "no flow run"
        pytest.fail(f"flow run never reached {state_type} (last: {state}); flow process "
                    f"returncode={self.proc.poll()}:\n{_tail(self.log)}")


@pytest.fixture
def paused_flow(prefect_server, facility, tmp_path):
    """The calibration flow in a subprocess against the real server, waiting for approval."""
    home = tmp_path / "calibration"
    tag = f"ui-test-{uuid.uuid4().hex[:12]}"
    env = _base_env(tmp_path / "prefect-client-home")
    env.update(PREFECT_API_URL=prefect_server.api, PREFECT_LOGGING_LEVEL="INFO",
               PREFECT_RESULTS_LOCAL_STORAGE_PATH=str(tmp_path / "prefect-results"),
               SNAPCAL_DATA_ROOT=str(facility), SNAPCAL_CALIBRATION_HOME=str(home),
               SNAPCAL_SCRATCH_DIR=str(tmp_path / "scratch"), SNAPCAL_CONFIG=str(tmp_path / "absent.toml"),
               PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    log = tmp_path / "flow.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-c", FLOW_SCRIPT, tag, str(RUN)], env=env, cwd=REPO,
                                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    flow = FlowProcess(proc, tag, log, home)
    try:
        flow.paused = flow.wait_for_state(prefect_server, "PAUSED", PAUSE_TIMEOUT)
        yield flow
    finally:
        _stop(proc)


# --------------------------------------------------------------------------------------------------
# browser


@pytest.fixture
def driver():
    options = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1000",
                "--disable-gpu", "--no-first-run", "--disable-extensions", "--disable-background-networking"):
        options.add_argument(arg)
    options.binary_location = CHROMIUM
    drv = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    drv.set_page_load_timeout(60)
    try:
        yield drv
    finally:
        drv.quit()


@pytest.fixture
def artifacts(tmp_path) -> Path:
    folder = Path(os.environ.get("SNAPCAL_BROWSER_ARTIFACTS") or tmp_path / "browser-artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.mark.parametrize("ui", ["v1", "v2"])
def test_accept_from_the_resume_form_in_the_ui(ui, prefect_server, paused_flow, driver, artifacts, capsys):
    if ui not in prefect_server.ui_settings().get("available_uis", []):
        pytest.skip(f"the server does not serve the {ui} UI")
    t0, steps = time.monotonic(), []

    def step(name: str) -> None:
        steps.append(f"{name} {time.monotonic() - t0:.1f}s")

    run_id = paused_flow.paused["id"]
    prefix = "/v2" if ui == "v2" else ""
    driver.get(f"{prefect_server.url}{prefix}/runs/flow-run/{run_id}")

    served, dialog = open_resume_modal(driver)
    assert served == ui, f"expected the {ui} UI at {driver.current_url}, found {served}"
    step("modal open")

    # the calibration report (the form's markdown description) is rendered as markdown, not raw text
    report = WebDriverWait(driver, UI_TIMEOUT, poll_frequency=POLL).until(
        lambda d: d.execute_script(REPORT_PROBE, dialog, f"Run {RUN}, diamond"), "the report is not rendered in the modal")
    assert "iteration 1" in report["heading"], report["heading"]
    assert report["table"], "no report table with a DIFC column"
    assert [src.startswith("data:image/png") for src in report["images"]] == [True, True], report["images"]
    assert not any(raw in report["text"] for raw in ("###", "|---", "![")), "raw markdown in the modal"
    if ui == "v1" and report["shown"] < 1:
        # Known v1 quirk (see the module docstring): the report is in the DOM but squeezed to 0 px.
        warnings.warn(f"v1 UI: the report above the approval form is rendered with height {report['shown']:.0f} px "
                      f"(content {report['full']} px): operators cannot see it in the Resume modal", UserWarning)
    else:
        assert report["shown"] > 100, f"the report is not visible ({report['shown']:.0f} px of {report['full']} px)"
    report_png = shot(driver, artifacts, f"{ui}-1-report.png")
    step("report checked")

    # the prefilled values are there and kept
    assert field(dialog, "Applies To").get_property("value") == f">={RUN}"
    assert field(dialog, "Iteration").get_property("value") == "1"
    type_into(driver, dialog, "Author", AUTHOR)
    choose(driver, dialog, "Decision", "accept")
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", field(dialog, "Author"))
    form_png = shot(driver, artifacts, f"{ui}-2-filled-form.png")
    step("form filled")

    submit = dialog.find_element(By.XPATH, f".//button[{text_is('Submit')} or {text_is('Resume')}]")
    submit.click()
    try:
        WebDriverWait(driver, UI_TIMEOUT).until(EC.invisibility_of_element(dialog))
    except TimeoutException:
        shot(driver, artifacts, f"{ui}-error-modal-still-open.png")
        raise AssertionError(f"the modal did not close after submit:\n{dialog.text[-1500:]}")
    step("submitted")

    done = paused_flow.wait_for_state(prefect_server, "COMPLETED", COMPLETE_TIMEOUT)
    assert "saved version 1" in (done["state"]["message"] or ""), done["state"]
    assert paused_flow.proc.wait(timeout=30) == 0, _tail(paused_flow.log)
    step("run completed")

    driver.refresh()
    WebDriverWait(driver, UI_TIMEOUT).until(
        lambda d: d.find_elements(By.XPATH, f"//*[{text_is('Completed')}]"), "the run page does not show Completed")
    after_png = shot(driver, artifacts, f"{ui}-3-run-completed.png")
    step("page shows Completed")
    with capsys.disabled():
        print(f"\n[{ui} UI] {', '.join(steps)}; screenshots:\n  {report_png}\n  {form_png}\n  {after_png}")

    entries = list_versions(paused_flow.home, STATE_ID, lite=True)
    saved = {e.version: e for e in entries}
    assert 1 in saved, [e.version for e in entries]
    assert saved[1].author == AUTHOR and saved[1].appliesTo == f">={RUN}"
