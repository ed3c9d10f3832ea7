#!/usr/bin/python3
"""Drives Debian's chromium through chromedriver (python3-selenium) against a running
otsensor console: a refused login, the pages, a Mute click, a viewer without triage
buttons, and no request to another host. Prints one JSON line of what it did.

Usage: browser.py URL OPERATOR:PASSWORD VIEWER:PASSWORD SCREENSHOT_DIR
The binary and driver paths are given explicitly: without them selenium's driver manager
would try to download a browser.
"""
import json
import sys
import tempfile
import time
from urllib.parse import urlsplit

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


def browser(profile):
    o = webdriver.ChromeOptions()
    o.binary_location = CHROMIUM
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
              "--no-first-run", "--disable-background-networking",
              "--disable-component-update", "--disable-sync",
              "--disable-dev-shm-usage", "--window-size=1400,1000",
              "--user-data-dir=" + profile):
        o.add_argument(a)
    o.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    return webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=o)


def wait(cond, what, secs=20.0):
    end = time.time() + secs
    while time.time() < end:
        try:
            v = cond()
            if v:
                return v
        except Exception:  # noqa: BLE001 - the page is being replaced
            pass
        time.sleep(0.2)
    raise SystemExit(f"timed out waiting for {what}")


def login(d, base, user, password):
    d.get(base + "login")
    d.find_element(By.ID, "name").send_keys(user)
    d.find_element(By.ID, "password").send_keys(password)
    d.find_element(By.ID, "login").click()


def requested_hosts(d):
    hosts = set()
    for entry in d.get_log("performance"):
        msg = json.loads(entry["message"])["message"]
        if msg.get("method") == "Network.requestWillBeSent":
            url = msg["params"]["request"]["url"]
            if url.startswith(("http:", "https:", "ws:", "wss:")):
                hosts.add(urlsplit(url).netloc)
    return hosts


def main():
    base, op, viewer, shots = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
    op_user, op_pw = op.split(":", 1)
    v_user, v_pw = viewer.split(":", 1)
    done = {}
    hosts = set()
    with tempfile.TemporaryDirectory() as profile:
        d = browser(profile)
        try:
            # A wrong password is refused, on the login page.
            login(d, base, op_user, op_pw + "-wrong")
            err = wait(lambda: d.find_element(By.ID, "login-error").text, "the login error")
            done["wrong_password"] = err
            d.save_screenshot(f"{shots}/login.png")

            login(d, base, op_user, op_pw)
            wait(lambda: "Overview" in d.find_element(By.TAG_NAME, "h1").text, "the overview")
            done["overview_alerts"] = int(d.find_element(By.ID, "alert-count").text)
            d.save_screenshot(f"{shots}/overview.png")

            d.get(base + "assets?sort=-risk.score")
            rows = d.find_elements(By.CSS_SELECTOR, "#assets tbody tr")
            done["assets"] = len(rows)
            d.save_screenshot(f"{shots}/assets.png")
            search = d.find_element(By.ID, "asset-search")
            search.send_keys("siemens\n")
            wait(lambda: "q=siemens" in d.current_url, "the search")
            found = d.find_elements(By.CSS_SELECTOR, "#assets tbody tr")
            done["assets_siemens"] = len(found)
            found[0].find_element(By.TAG_NAME, "a").click()
            wait(lambda: d.find_element(By.TAG_NAME, "h1").text.startswith("Asset "), "an asset page")
            done["asset_page"] = d.find_element(By.TAG_NAME, "h1").text
            d.save_screenshot(f"{shots}/asset.png")

            d.get(base + "map")
            done["map_zones"] = len(d.find_elements(By.CSS_SELECTOR, "#zone-map g.zone"))
            done["map_violations"] = len(d.find_elements(By.CSS_SELECTOR, "#zone-map line.violation"))
            done["map_observed"] = len(d.find_elements(By.CSS_SELECTOR, "#zone-map line.observed"))
            d.save_screenshot(f"{shots}/map.png")

            d.get(base + "alerts?status=active&rule=policy.operation_not_allowed")
            links = d.find_elements(By.CSS_SELECTOR, "#alerts tbody tr td a")
            done["alerts_listed"] = len(links)
            d.save_screenshot(f"{shots}/alerts.png")
            links[0].click()
            wait(lambda: d.find_element(By.ID, "status").text == "active", "an active alert")
            alert_url = d.current_url.split("?")[0]
            alert_id = alert_url.rstrip("/").rsplit("/", 1)[1]
            done["attack_links"] = [a.get_attribute("href") for a in d.find_elements(By.CSS_SELECTOR, "a.attack")]
            d.save_screenshot(f"{shots}/alert.png")
            d.find_element(By.ID, "mute").click()

            def muted():
                d.get(alert_url)
                return d.find_element(By.ID, "status").text == "muted"
            wait(muted, "the alert's status to become muted")
            done["muted"] = alert_id
            hosts |= requested_hosts(d)

            # The baseline: approve the first edge; the diff against the file shows it.
            d.get(base + "baseline")
            first = d.find_element(By.CSS_SELECTOR, "#baseline-edges tbody tr")
            done["baseline_edge"] = [td.text for td in first.find_elements(By.TAG_NAME, "td")[:3]]
            d.save_screenshot(f"{shots}/baseline.png")
            first.find_element(By.CSS_SELECTOR, "button.approve").click()
            wait(lambda: d.find_element(By.ID, "changed").text, "the approval")
            done["baseline_diff"] = d.find_element(By.ID, "diff").text
            hosts |= requested_hosts(d)

            # A viewer sees the alert but no triage buttons.
            d.find_element(By.CSS_SELECTOR, "form.logout button").click()
            wait(lambda: "/login" in d.current_url, "the logout")
            login(d, base, v_user, v_pw)
            wait(lambda: "Overview" in d.find_element(By.TAG_NAME, "h1").text, "the viewer's overview")
            d.get(alert_url)
            done["viewer_status"] = d.find_element(By.ID, "status").text
            done["viewer_buttons"] = len(d.find_elements(By.CSS_SELECTOR, "#triage button"))
            d.get(base + "baseline")
            done["viewer_baseline_buttons"] = len(d.find_elements(By.CSS_SELECTOR, "form.inline button"))
            hosts |= requested_hosts(d)
        finally:
            d.quit()
    done["hosts"] = sorted(hosts)
    print(json.dumps(done))


if __name__ == "__main__":
    main()
