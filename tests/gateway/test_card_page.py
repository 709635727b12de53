"""The member's card page in a real browser: headless Chromium from the OS packages, driven by
Playwright. It logs in as the demo member, sees the QR card and the balance, redeems a reward and
sees the balance drop; screenshots at phone and desktop sizes go to test-artifacts/.

The session fixture installs what is missing (Debian's chromium with apt-get, the playwright
package with pip) rather than skipping: this test always runs. Playwright's own browser download
is never used.
"""

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from deploy.local.demo import DEMO_MEMBER_EMAIL
from tests.conftest import ARTIFACTS
from tests.gateway.conftest import PROGRAM, GatewayPlatform

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
TIMEOUT_MS = 15_000


def _install_missing() -> None:
    if not os.path.exists(CHROMIUM):
        apt = ["apt-get"] if os.geteuid() == 0 else ["sudo", "-n", "apt-get"]
        subprocess.run([*apt, "update", "-q"], check=True, stdout=subprocess.DEVNULL)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(
            [*apt, "install", "-y", "-q", "chromium"],
            check=True,
            env=env,
            stdout=subprocess.DEVNULL,
        )
    try:
        import playwright  # noqa: F401
    except ImportError:
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", "playwright>=1.45,<2"], check=True
        )


@pytest.fixture
def browser(gateway_platform: GatewayPlatform) -> Iterator[Any]:
    """Per test, and after the platform: Playwright's sync API runs an event loop in this thread
    while open, and the platform's set-up needs asyncio.run."""
    _install_missing()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=shutil.which("chromium") or CHROMIUM, args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            launched.close()


def _balance(page: Any) -> int:
    return int(re.sub(r"\D", "", page.get_by_test_id("balance").inner_text()))


def test_demo_member_logs_in_sees_the_card_and_redeems(
    platform: GatewayPlatform, browser: Any
) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    # A phone far east of the program (Amsterdam): the card still shows the program's days.
    page = browser.new_page(viewport=PHONE, timezone_id="Asia/Tokyo", locale="en-US")
    page.set_default_timeout(TIMEOUT_MS)
    page.on("dialog", lambda dialog: dialog.accept())
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        page.goto(f"{platform.url}/card?program={PROGRAM}")
        page.get_by_test_id("login-email").fill(DEMO_MEMBER_EMAIL)
        page.get_by_test_id("login-submit").click()

        page.get_by_test_id("card").wait_for()
        page.locator("[data-testid=qr] svg").wait_for()
        assert page.get_by_test_id("member-name").inner_text() == "Dana Demo"
        # Functions, not expressions: Playwright evals an expression in the page, which the
        # page's Content-Security-Policy refuses (no 'unsafe-eval').
        page.wait_for_function(
            "() => /\\d/.test(document.querySelector('[data-testid=balance]').textContent)"
        )
        before = _balance(page)
        assert before == 1_900  # the demo member's beans
        assert "to Gold" in page.get_by_test_id("tier-text").inner_text()
        width = page.locator("#tier-progress-fill").evaluate("e => e.style.width")
        assert 0 < int(width.rstrip("%")) < 100
        assert "usable until" in page.get_by_test_id("expiring").inner_text()
        # Points expiring at midnight in Amsterdam on 1 January 2028 (08:00 that day in Tokyo)
        # last through 31 December: the day shown is the program's last day to spend them.
        assert page.evaluate("lastDay('2027-12-31T23:00:00Z')") == "12/31/2027"
        assert page.locator("[data-testid=history] li").count() >= 4
        page.screenshot(path=str(ARTIFACTS / "card-phone.png"), full_page=True)

        redeem = page.get_by_test_id("redeem-free-coffee")
        assert redeem.is_enabled()
        assert page.get_by_test_id("redeem-tote-bag").is_disabled()  # 2,500: too dear
        redeem.click()
        page.get_by_test_id("toast").filter(has_text="your code").wait_for()
        page.wait_for_function(
            f"() => document.querySelector('[data-testid=balance]').textContent.replace(/\\D/g, '')"
            f" === '{before - 450}'"
        )
        assert _balance(page) == before - 450
        page.screenshot(path=str(ARTIFACTS / "card-phone-redeemed.png"), full_page=True)

        page.set_viewport_size(DESKTOP)
        page.screenshot(path=str(ARTIFACTS / "card-desktop.png"), full_page=True)
        assert not errors, errors
    finally:
        page.close()
