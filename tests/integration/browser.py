"""A real browser for the tests: Debian's headless Chromium driven by Selenium, and the few moves
the Prefect UI (3.9, its React "v2" pages) needs: wait, replace a CodeMirror editor's text, run a
deployment with custom parameters, read the run names a page lists.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlparse

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
WAIT_S = 60
TOASTS = "return [...document.querySelectorAll('[data-sonner-toast]')].map(t => t.innerText.trim())" \
         ".filter(Boolean)"
EDITOR = "//div[@role='textbox' and @contenteditable='true']"
RUN_LINKS = "return [...document.querySelectorAll(\"a[data-slot='breadcrumb-link'][href*='/runs/flow-run/']\")]" \
            ".map(a => a.title || a.innerText.trim())"


@contextmanager
def chromium() -> Iterator[WebDriver]:
    """Headless Chromium, kept on loopback (the UI bundle would call an analytics host)."""
    options = Options()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1600,1000",
                     "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def wait(driver: WebDriver, seconds: float = WAIT_S) -> WebDriverWait[WebDriver]:
    """A wait that ignores elements re-rendered under it (the UI polls and re-renders often)."""
    return WebDriverWait(driver, seconds, ignored_exceptions=[StaleElementReferenceException])


def log_in_with_keycloak(driver: WebDriver, url: str, user: str, password: str) -> None:
    """Open ``url``; the gateway sends the browser to Keycloak's form; fill it in and come back."""
    driver.get(url)
    wait(driver).until(ec.element_to_be_clickable((By.ID, "username"))).send_keys(user)
    if not driver.find_elements(By.ID, "password"):
        # A realm with Organizations asks for the user first (to find their organisation's
        # identity provider), then for the password on a second page.
        driver.find_element(By.ID, "kc-login").click()
    wait(driver).until(ec.element_to_be_clickable((By.ID, "password"))).send_keys(password)
    driver.find_element(By.ID, "kc-login").click()
    base = url.split("/", 3)[:3]
    wait(driver).until(lambda d: d.current_url.split("/", 3)[:3] == base)


def _replace_text(driver: WebDriver, editor: WebElement, value: Any) -> None:
    """Put ``json.dumps(value)`` in a CodeMirror editor and check it took (a freshly switched
    editor may still be filling in its previous value when cleared)."""
    text = json.dumps(value)
    for _ in range(5):
        editor.click()
        ActionChains(driver).key_down(Keys.CONTROL).send_keys("a").key_up(Keys.CONTROL) \
            .send_keys(Keys.BACKSPACE).perform()  # element.send_keys(CONTROL, "a") does not select all here
        editor.send_keys(text)
        time.sleep(0.3)
        try:
            if json.loads(editor.text) == value:
                return
        except ValueError:
            pass
    raise AssertionError(f"the JSON editor holds {editor.text!r}, not {text!r}")


def _field(name: str) -> str:
    return f"//label[normalize-space()='{name}' or normalize-space()='{name} (Optional)']/ancestor::div[.//fieldset][1]"


def custom_run(driver: WebDriver, base: str, deployment_id: str, parameters: dict[str, Any], name: str) -> None:
    """Deployment page -> Run -> Custom run -> each parameter typed as JSON -> Submit."""
    waiting = wait(driver)
    driver.get(f"{base}/v2/deployments/deployment/{deployment_id}")
    waiting.until(ec.element_to_be_clickable((By.XPATH, "//button[normalize-space()='Run']"))).click()
    waiting.until(ec.element_to_be_clickable(
        (By.XPATH, "//a[.//*[@role='menuitem' and normalize-space()='Custom run']]"))).click()
    field = waiting.until(ec.element_to_be_clickable((By.CSS_SELECTOR, "input[name='name']")))
    field.send_keys(Keys.CONTROL, "a")
    field.send_keys(name)
    for key, value in parameters.items():
        container = _field(key)
        waiting.until(ec.presence_of_element_located((By.XPATH, container)))
        time.sleep(0.5)  # the JSON editors load lazily
        # The field's own menu comes first (nested fields have theirs): switch it to JSON input.
        waiting.until(ec.element_to_be_clickable(
            (By.XPATH, f"({container}//button[normalize-space()='Open menu'])[1]"))).click()
        waiting.until(ec.presence_of_element_located((By.XPATH, "//*[@role='menuitem']")))
        to_json = driver.find_elements(By.XPATH, "//*[@role='menuitem' and normalize-space()='Use JSON Input']")
        if to_json:
            to_json[0].click()
        else:  # already JSON
            ActionChains(driver).send_keys(Keys.ESCAPE).perform()
        _replace_text(driver, waiting.until(ec.element_to_be_clickable((By.XPATH, f"({container}{EDITOR})[1]"))),
                      value)
    submit = (By.XPATH, "//button[@type='submit' and normalize-space()='Submit']")
    wait(driver, 15).until(lambda d: not d.execute_script(TOASTS))
    waiting.until(ec.element_to_be_clickable(submit)).click()
    # Created: the UI goes back to the deployment's page. Refused: it stays and shows the error.
    outcome = waiting.until(lambda d: "created" if "/run" not in urlparse(d.current_url).path
                            else (d.execute_script(TOASTS) or [False])[0])
    assert outcome == "created", f"the UI did not create the run: {outcome}"


def run_names(driver: WebDriver, base: str, until: Callable[[list[str]], bool]) -> list[str]:
    """The run names /v2/runs lists, once ``until`` holds for them (the list fills in by polling)."""
    seen: list[str] = []

    def listed(d: WebDriver) -> bool:
        nonlocal seen
        seen = list(d.execute_script(RUN_LINKS))
        return until(seen)

    driver.get(f"{base}/v2/runs")
    try:
        wait(driver).until(listed)
    except Exception as error:
        raise AssertionError(f"/v2/runs listed {seen}") from error
    return seen
