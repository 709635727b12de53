"""`python -m deploy.local.card_audit [--out DIR]`: the member card page as a member uses it, in
headless Chromium against a platform of its own, with PNG screenshots to look at.

It starts the four services and the gateway on a new database of the PostgreSQL server in
DATABASE_URL and the NATS server in NATS_URL (both required; the database is dropped at the
end), loads the demo program and makes members for the cases worth seeing: the demo member, one
with no points in the entry tier, one in the top tier, one with 45 postings, one whose name and
a reward's name are HTML, one with points expiring. Each is shown at 390x844 (a phone), 320x640
and 1280x900, and checked: no horizontal scrolling, no request to another host, no script error.
Then: the tier bars, history paging, the QR code decoded (with zbarimg, when Debian's zbar-tools
is installed) to the token the till accepts, a double-clicked Redeem making one redemption whose
code stays listed, a redemption whose answer was lost sent again after a reload as the same
one, a Redeem button reached with the keyboard, an expired token, and the ledger stopped.
Prints one line per check; exits 1 when any failed.

Needs Debian's chromium (`apt-get install chromium`); the suite's tests do not
(tests/gateway/test_card_page_assets.py and test_card_logic.py read the page over HTTP).
"""

import argparse
import asyncio
import datetime as dt
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import grpc
import httpx
from google.protobuf.timestamp_pb2 import Timestamp

from deploy.local import demo
from deploy.local.cluster import LocalCluster, free_endpoints, free_gateway_endpoint
from gateway.auth import MEMBER_SCOPES
from loyalty.common.v1 import common_pb2
from loyalty.identity.v1 import identity_pb2, identity_pb2_grpc
from loyalty.ledger.v1 import ledger_pb2, ledger_pb2_grpc
from loyalty.rewards.v1 import rewards_pb2, rewards_pb2_grpc

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
VIEWPORTS = {
    "phone": {"width": 390, "height": 844},
    "w320": {"width": 320, "height": 640},
    "desktop": {"width": 1280, "height": 900},
}
TIMEOUT_MS = 20_000
HISTORY_POSTINGS = 45
HTML_NAME = '<script>window.__xss=1</script><img src=x onerror="window.__xss=2">'
PROGRAM = demo.PROGRAM_ID
BASE = f"/v1/programs/{PROGRAM}"


@dataclass
class Audit:
    url: str
    out: Path
    results: list[tuple[bool, str, str]] = field(default_factory=list)

    def check(self, ok: bool, what: str, detail: object = "") -> None:
        self.results.append((ok, what, str(detail)))
        print(f"{'ok  ' if ok else 'FAIL'} {what}{f': {detail}' if detail else ''}", flush=True)


@dataclass(frozen=True)
class Member:
    member_id: str
    token: str


def _stamp(value: dt.datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp


async def _members(cluster: LocalCluster, demo_member_id: str) -> dict[str, Member]:
    """The members of the audit (see the module's docstring), each with a member token."""
    endpoints = cluster.endpoints
    async with (
        grpc.aio.insecure_channel(endpoints["identity"].grpc_address) as identity_channel,
        grpc.aio.insecure_channel(endpoints["ledger"].grpc_address) as ledger_channel,
        grpc.aio.insecure_channel(endpoints["rewards"].grpc_address) as rewards_channel,
    ):
        identity = identity_pb2_grpc.IdentityServiceStub(identity_channel)
        ledger = ledger_pb2_grpc.LedgerServiceStub(ledger_channel)

        async def token(member_id: str, ttl_seconds: int = 3_600) -> str:
            issued = await identity.IssueMemberToken(
                identity_pb2.IssueMemberTokenRequest(
                    program_id=PROGRAM,
                    member_id=member_id,
                    scopes=sorted(MEMBER_SCOPES),
                    ttl_seconds=ttl_seconds,
                )
            )
            return str(issued.token)

        async def member(given_name: str, *earnings: tuple[int, int]) -> Member:
            enrolled = await identity.EnrollMember(
                identity_pb2.EnrollMemberRequest(
                    program_id=PROGRAM,
                    idempotency_key=secrets.token_hex(8),
                    channel=common_pb2.CHANNEL_APP,
                    profile=identity_pb2.Profile(given_name=given_name),
                    identifiers=[
                        identity_pb2.Identifier(
                            kind=common_pb2.IDENTIFIER_KIND_EMAIL,
                            value=f"{secrets.token_hex(6)}@audit.example",
                        )
                    ],
                )
            )
            member_id = enrolled.member.member_id
            now = dt.datetime.now(dt.UTC)
            for points, expires_in_days in earnings:
                earn = ledger_pb2.EarnRequest(
                    program_id=PROGRAM,
                    idempotency_key=secrets.token_hex(8),
                    member_id=member_id,
                    points=points,
                    source_reference=secrets.token_hex(6),
                    vests_at=_stamp(now - dt.timedelta(seconds=1)),
                    qualifying=True,
                )
                if expires_in_days:
                    earn.expires_at.CopyFrom(_stamp(now + dt.timedelta(days=expires_in_days)))
                await ledger.Earn(earn)
            return Member(member_id, await token(member_id))

        await rewards_pb2_grpc.RewardsServiceStub(rewards_channel).CreateReward(
            rewards_pb2.CreateRewardRequest(
                program_id=PROGRAM,
                idempotency_key=secrets.token_hex(8),
                reward=rewards_pb2.Reward(
                    reward_id="html-named",
                    name='<img src=x onerror="window.__xss=3">Supercalifragilisticexpialidocious',
                    kind=common_pb2.REWARD_KIND_COUPON,
                    points_price=100,
                    discount=rewards_pb2.Discount(percent_bps=10_000),
                    stock=rewards_pb2.Stock(unlimited=True),
                    status=rewards_pb2.REWARD_STATUS_ACTIVE,
                ),
            )
        )
        members = {
            "zero": await member("Zoe"),
            "top": await member("Tina", (6_000, 0)),
            "history": await member("Hugo", *((points, 0) for points in range(1, 46))),
            "html": await member(HTML_NAME + "Averylongnamewithoutanyspaces", (123_456_789, 0)),
            "expiring": await member("Eddie", (200, 10), (300, 60), (400, 200)),
        }
        members["demo"] = Member(demo_member_id, await token(demo_member_id))
        expired = Member(members["zero"].member_id, await token(members["zero"].member_id, 1))
        members["expired"] = expired
        return members


@contextmanager
def _platform(
    server_url: str, nats_url: str, log_dir: Path
) -> Iterator[tuple[LocalCluster, dict[str, str]]]:
    """The platform with the demo program; what `make run` prints of its demo member."""
    database = f"loyalty_card_audit_{secrets.token_hex(3)}"

    async def admin(statement: str) -> None:
        connection = await asyncpg.connect(server_url)
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    asyncio.run(admin(f'CREATE DATABASE "{database}"'))
    base, _, _ = server_url.rpartition("/")
    cluster = LocalCluster(
        database_url=f"{base}/{database}",
        nats_url=nats_url,
        namespace=f"cardaudit{secrets.token_hex(2)}",
        endpoints=free_endpoints(),
        log_dir=log_dir,
        gateway=free_gateway_endpoint(),
    )
    try:
        cluster.start()
        cluster.start_gateway(
            extra_env={
                "GATEWAY_DEMO_LOGIN": "true",
                "GATEWAY_MEMBER_REQUESTS_PER_MINUTE_MAX": "10000",
            }
        )
        asyncio.run(demo.load_demo_program(cluster.endpoints))
        yield cluster, asyncio.run(demo.load_demo_member(cluster.endpoints, cluster.gateway.url))
    finally:
        cluster.stop()
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))


def _open(audit: Audit, browser: Any, member: Member, viewport: str) -> tuple[Any, list[str]]:
    """The card page of `member`, loaded; and the list its problems are added to."""
    page = browser.new_page(viewport=VIEWPORTS[viewport], locale="en-US")
    page.set_default_timeout(TIMEOUT_MS)
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"script error {error}"))
    # Console errors: a refused load (a 404, or whatever the page's Content-Security-Policy
    # blocks) is logged there only.
    page.on(
        "console",
        lambda message: (
            problems.append(f"console {message.text}") if message.type == "error" else None
        ),
    )
    page.on(
        "request",
        lambda request: (
            None
            if request.url.startswith(audit.url) or request.url.startswith("data:")
            else problems.append(f"request to another host {request.url}")
        ),
    )
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(f"{audit.url}/card?program={PROGRAM}#token={member.token}")
    return page, problems


def _api(audit: Audit, member: Member, path: str) -> Any:
    headers = {"Authorization": f"Bearer {member.token}"}
    return httpx.get(f"{audit.url}{BASE}{path}", headers=headers, timeout=30).json()


def _look(audit: Audit, browser: Any, name: str, member: Member) -> None:
    """The member's card at each size: loaded, no sideways scrolling, nothing from elsewhere."""
    for viewport in VIEWPORTS:
        page, problems = _open(audit, browser, member, viewport)
        page.get_by_test_id("card").wait_for()
        page.wait_for_function("/\\d/.test(document.getElementById('balance').textContent)")
        page.wait_for_timeout(500)  # the bar's transition
        path = audit.out / f"{name}-{viewport}.png"
        page.screenshot(path=str(path), full_page=True)
        widths = page.evaluate("[document.documentElement.scrollWidth, innerWidth]")
        audit.check(widths[0] <= widths[1], f"{name} {viewport}: no sideways scroll", widths)
        audit.check(not problems, f"{name} {viewport}: no errors or foreign requests", problems)
        if viewport == "phone":
            _check_member(audit, page, name, member)
        page.close()


def _check_member(audit: Audit, page: Any, name: str, member: Member) -> None:
    balance = _api(audit, member, "/members/me/balance")
    shown = int(re.sub(r"\D", "", page.get_by_test_id("balance").inner_text()))
    audit.check(shown == balance["available_points"], f"{name}: balance is the ledger's", shown)
    width = page.locator("#tier-progress-fill").evaluate("e => e.style.width")
    text = page.get_by_test_id("tier-text").inner_text()
    expected = {
        "zero": ("0%", "1,500 beans to Silver"),
        "top": ("100%", "You are in the top tier."),
    }
    if name in expected:
        audit.check((width, text) == expected[name], f"{name}: tier bar", f"{width} {text!r}")
    if name == "html":
        audit.check(page.evaluate("window.__xss") is None, "html: names shown as text, not run")
        audit.check("<script>" in page.get_by_test_id("member-name").inner_text(), "html: name")
    if name == "expiring":
        lines = page.get_by_test_id("expiring").inner_text()
        audit.check("200 beans expire in the next 30 days" in lines, "expiring: soon", lines)
    if name == "history":
        while page.get_by_test_id("history-more").is_visible():
            page.get_by_test_id("history-more").click()
            page.wait_for_timeout(500)
        count = page.locator("[data-testid=history] li").count()
        audit.check(count == HISTORY_POSTINGS, "history: Show more pages through all", count)


def _check_qr(audit: Audit, browser: Any, member: Member, pos_key: str) -> None:
    page, _ = _open(audit, browser, member, "phone")
    page.locator("[data-testid=qr] svg").wait_for()
    path = audit.out / "qr-phone.png"
    page.get_by_test_id("qr").screenshot(path=str(path))
    token = page.get_by_test_id("qr").get_attribute("data-token")
    page.close()
    zbarimg = shutil.which("zbarimg")
    if zbarimg is None:
        audit.check(True, "qr: not decoded (zbarimg missing: apt-get install zbar-tools)")
    else:
        read = subprocess.run(
            [zbarimg, "-q", "--raw", str(path)], capture_output=True, text=True, check=False
        )
        audit.check(read.stdout.strip() == token, "qr: the picture decodes to the token")
    sale = {
        "identifier": {"kind": "app_qr_token", "value": token},
        "transaction_id": secrets.token_hex(6),
        "channel": "pos",
        "amount": {"amount_minor": 500, "currency": "EUR"},
        "occurred_at": dt.datetime.now(dt.UTC).isoformat(),
    }
    posted = httpx.post(
        f"{audit.url}{BASE}/purchases",
        json=sale,
        headers={"X-Api-Key": pos_key, "Idempotency-Key": secrets.token_hex(8)},
        timeout=30,
    )
    audit.check(posted.status_code == 201, "qr: a till posts a purchase with its token")


def _check_redeem(audit: Audit, browser: Any, member: Member) -> None:
    """A double click on Redeem: one redemption, and its code listed on the page."""
    before = len(_api(audit, member, "/members/me/redemptions")["redemptions"])
    page, problems = _open(audit, browser, member, "phone")
    page.get_by_test_id("redeem-free-coffee").dblclick()
    page.get_by_test_id("toast").filter(has_text="your code").wait_for()
    page.wait_for_timeout(1_000)  # the page reloads the member's points and codes
    page.screenshot(path=str(audit.out / "redeemed-phone.png"), full_page=True)
    redemptions = _api(audit, member, "/members/me/redemptions")["redemptions"]
    audit.check(len(redemptions) == before + 1, "redeem: a double click redeems once")
    code = redemptions[0]["codes"][0]["code"]
    codes = page.locator("[data-testid=codes]")
    listed = codes.count() == 1 and code in codes.inner_text()
    audit.check(listed, "redeem: the code stays listed after the message goes")
    # From the top of the page, Tab reaches a Redeem button.
    page.evaluate("document.activeElement.blur()")
    reached = []
    for _ in range(10):
        page.keyboard.press("Tab")
        reached.append(page.evaluate("document.activeElement.dataset.testid || ''"))
    audit.check(any(r.startswith("redeem-") for r in reached), "keyboard: Tab reaches Redeem")
    audit.check(not problems, "redeem: no errors", problems)
    page.close()


def _check_lost_answer(audit: Audit, browser: Any, member: Member) -> None:
    """A redemption the gateway made whose answer the phone lost (the connection dropped): the
    member reloads and clicks again, and the page resends it under the same key: one
    redemption, not two."""
    before = len(_api(audit, member, "/members/me/redemptions")["redemptions"])
    page, _ = _open(audit, browser, member, "phone")

    def lose_answer(route: Any) -> None:
        route.fetch()  # the gateway redeems
        route.abort()  # and the phone never hears of it

    page.route("**/members/me/redemptions", lose_answer)
    page.get_by_test_id("redeem-five-euro-voucher").click()
    page.get_by_test_id("toast").filter(has_text="cannot reach").wait_for()
    page.unroute("**/members/me/redemptions")
    page.reload()
    page.get_by_test_id("redeem-five-euro-voucher").click()
    page.get_by_test_id("toast").filter(has_text="your code").wait_for()
    after = len(_api(audit, member, "/members/me/redemptions")["redemptions"])
    audit.check(after == before + 1, "lost answer: the retry is the same redemption", after)
    page.close()


def _check_login(audit: Audit, browser: Any) -> None:
    """The login at 320 px: the first thing a member without a token sees."""
    page = browser.new_page(viewport=VIEWPORTS["w320"], locale="en-US")
    page.goto(f"{audit.url}/card?program={PROGRAM}")
    page.get_by_test_id("login-email").wait_for()
    page.screenshot(path=str(audit.out / "login-w320.png"), full_page=True)
    widths = page.evaluate("[document.documentElement.scrollWidth, innerWidth]")
    audit.check(widths[0] <= widths[1], "login w320: no sideways scroll", widths)
    page.get_by_test_id("login-email").fill("nobody@audit.example")
    page.get_by_test_id("login-submit").click()
    page.get_by_test_id("toast").wait_for()
    said = page.get_by_test_id("toast").inner_text()
    audit.check(said == "No member has this e-mail address.", "login: unknown e-mail", said)
    page.close()


def _check_failures(
    audit: Audit, browser: Any, members: dict[str, Member], cluster: LocalCluster
) -> None:
    """An expired token goes back to the login, saying why; with the ledger stopped the page
    says so in words and offers to try again."""
    page, _ = _open(audit, browser, members["expired"], "phone")
    page.get_by_test_id("toast").wait_for()
    said = page.get_by_test_id("toast").inner_text()
    audit.check(page.locator("#login").is_visible(), "expired token: the login", said)
    audit.check("session has expired" in said, "expired token: says so", said)
    page.screenshot(path=str(audit.out / "expired-phone.png"), full_page=True)
    page.close()

    cluster.signal("ledger", signal.SIGTERM)
    cluster.wait("ledger")
    page, _ = _open(audit, browser, members["top"], "phone")
    page.wait_for_function("() => !document.getElementById('loading')?.checkVisibility?.()")
    page.wait_for_timeout(1_000)
    shown = page.locator("[data-testid=error-text]")
    said = shown.inner_text() if shown.count() else page.locator("body").inner_text()
    page.screenshot(path=str(audit.out / "ledger-down-phone.png"), full_page=True)
    audit.check("Service/" not in said and "Traceback" not in said, "ledger down: words", said)
    retry = page.locator("[data-testid=retry]")
    audit.check(retry.count() == 1 and retry.is_visible(), "ledger down: Try again offered")
    page.close()


def _drive(audit: Audit, cluster: LocalCluster, members: dict[str, Member], pos_key: str) -> None:
    from playwright.sync_api import sync_playwright  # a dev dependency; the page needs none

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=shutil.which("chromium") or CHROMIUM, args=CHROMIUM_ARGS
        )
        try:
            for name in ("demo", "zero", "top", "history", "html", "expiring"):
                _look(audit, browser, name, members[name])
            _check_qr(audit, browser, members["demo"], pos_key)
            _check_redeem(audit, browser, members["top"])
            _check_lost_answer(audit, browser, members["top"])
            _check_login(audit, browser)
            _check_failures(audit, browser, members, cluster)
        finally:
            browser.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument("--out", type=Path, default=Path("/tmp/webpage"), help="screenshots")
    args = parser.parse_args(argv)
    server_url, nats_url = os.environ.get("DATABASE_URL"), os.environ.get("NATS_URL")
    if not server_url or not nats_url:
        print("card_audit: set DATABASE_URL and NATS_URL", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    with _platform(server_url, nats_url, args.out / "logs") as (cluster, loaded):
        demo_member_id = loaded["member"].split("(")[1].rstrip(")")
        members = asyncio.run(_members(cluster, demo_member_id))
        audit = Audit(url=cluster.gateway.url, out=args.out)
        _drive(audit, cluster, members, pos_key=loaded["POS API key"].split()[0])
    failed = [what for ok, what, _ in audit.results if not ok]
    print(
        f"{len(audit.results) - len(failed)} checks passed, {len(failed)} failed; "
        f"screenshots in {args.out}"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
