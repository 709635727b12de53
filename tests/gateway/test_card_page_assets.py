"""The card page as the gateway serves it, read over HTTP without a browser: what it loads, that
it names its controls for screen readers, wraps long names on a phone, pages the history and
keeps reward codes; and the JSON it reads for those. The page in Chromium is
tests/gateway/test_card_page.py and `python -m deploy.local.card_audit`.
"""

import re
import time
from html.parser import HTMLParser

import pytest

from tests.gateway.conftest import PROGRAM, GatewayPlatform, unique
from tests.gateway.test_qr_offline import at, purchase, qr

BASE = f"/v1/programs/{PROGRAM}"
ASSETS = ("/card", "/card/assets/card.css", "/card/assets/card-logic.js", "/card/assets/card.js")
# An address on another host (http://x.y, https://x.y or //x.y): the page asks its own gateway
# only, so a member's visit is not reported to anyone else.
OTHER_HOST = re.compile(r"(?:https?:)?//[a-z0-9-]+\.[a-z0-9.-]+", re.IGNORECASE)


class Elements(HTMLParser):
    """Every start tag's attributes, in document order."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {name: value or "" for name, value in attrs}))


@pytest.fixture
def served(platform: GatewayPlatform) -> dict[str, str]:
    with platform.client() as client:
        responses = {path: client.get(path) for path in ASSETS}
    for path, response in responses.items():
        assert response.status_code == 200, (path, response.status_code)
    return {path: response.text for path, response in responses.items()}


def elements(html: str) -> list[tuple[str, dict[str, str]]]:
    parser = Elements()
    parser.feed(html)
    return parser.tags


def by_id(html: str, element_id: str) -> dict[str, str]:
    found = [attrs for _, attrs in elements(html) if attrs.get("id") == element_id]
    assert len(found) == 1, element_id
    return found[0]


def test_the_page_loads_its_own_files_only(served: dict[str, str]) -> None:
    tags = elements(served["/card"])
    scripts = [attrs["src"] for tag, attrs in tags if tag == "script"]
    # The page's logic first: card.js reads CardLogic as it runs.
    assert scripts == ["/card/assets/card-logic.js", "/card/assets/card.js"]
    links = {attrs["rel"]: attrs["href"] for tag, attrs in tags if tag == "link"}
    # An icon of its own, so the browser does not ask the gateway for /favicon.ico (a 404).
    assert links == {"stylesheet": "/card/assets/card.css", "icon": "data:,"}
    for path, text in served.items():
        assert not OTHER_HOST.findall(text), path


def test_controls_have_names_for_screen_readers(served: dict[str, str]) -> None:
    html = served["/card"]
    progress = by_id(html, "tier-progress")
    assert progress["role"] == "progressbar"
    assert by_id(html, progress["aria-labelledby"])  # the bar is read as "Tier", not unnamed
    qr = by_id(html, "qr")
    assert qr["role"] == "img" and qr["aria-label"]  # aria-label on a plain div is ignored
    toast = by_id(html, "toast")
    assert toast["role"] == "status"
    # Redeem buttons say which reward, and errors interrupt (role alert) while news waits.
    script = served["/card/assets/card.js"]
    assert 'setAttribute("aria-label", `Redeem ${reward.name}`)' in script
    assert 'setAttribute("role", error ? "alert" : "status")' in script


def test_member_text_is_never_parsed_as_html(served: dict[str, str]) -> None:
    """Names of members and rewards come from outside: set as text, never as markup. The one
    HTML the page inserts is the QR code's SVG, made by the gateway from the signed token."""
    script = served["/card/assets/card.js"] + served["/card/assets/card-logic.js"]
    inserted = re.findall(
        r"(\S+)\.(?:innerHTML|outerHTML)\s*=|insertAdjacentHTML|document\.write", script
    )
    assert inserted == ['$("qr")']
    assert "qr.qr_svg" in script


def test_long_names_wrap_on_a_phone(served: dict[str, str]) -> None:
    css = re.sub(r"/\*.*?\*/", "", served["/card/assets/card.css"], flags=re.DOTALL)
    wrapping = re.search(r"([^{}]*)\{\s*overflow-wrap:\s*anywhere;?\s*\}", css)
    assert wrapping, "no rule wraps long words"
    selectors = {s.strip() for s in wrapping.group(1).split(",")}
    assert {".member-name", ".reward-name"} <= selectors
    # Flex items shrink below their longest word only with min-width 0.
    assert re.search(r"\.card-head > div[^{]*\{\s*min-width:\s*0", css)


def test_the_history_pages_through_every_posting(
    platform: GatewayPlatform, served: dict[str, str]
) -> None:
    html, script = served["/card"], served["/card/assets/card.js"]
    assert by_id(html, "history-more")["hidden"] == ""  # shown only while there is more
    assert "history.next_page_token" in script and "&page_token=${token}" in script

    member_id = platform.enrol()
    for points in range(1, 46):
        platform.earn(member_id, points)
    seen: list[int] = []
    with platform.client(token=platform.member_token(member_id)) as client:
        token = ""
        for _ in range(10):
            # The page's request: page_size=20, then the answer's next_page_token.
            params = {"page_size": "20"} | ({"page_token": token} if token else {})
            page = client.get(f"{BASE}/members/me/history", params=params).json()
            seen += [posting["points"] for posting in page["postings"]]
            token = page["next_page_token"]
            if not token:
                break
    assert sorted(seen) == list(range(1, 46))


def test_reward_codes_stay_on_the_page(platform: GatewayPlatform, served: dict[str, str]) -> None:
    """The code of a redemption was shown only in a message that goes after six seconds; the
    page now lists the member's usable codes from its completed redemptions."""
    html, script = served["/card"], served["/card/assets/card.js"]
    assert by_id(html, "codes")["data-testid"] == "codes"
    assert "/members/me/redemptions?status=completed&page_size=20" in script

    member_id = platform.enrol()
    platform.earn(member_id, 1_000)
    with platform.client(token=platform.member_token(member_id)) as client:
        redeemed = client.post(
            f"{BASE}/members/me/redemptions",
            headers={"Idempotency-Key": unique("k")},
            json={"reward_id": "free-coffee", "quantity": 1, "channel": "app"},
        )
        assert redeemed.status_code == 201, redeemed.text
        listed = client.get(
            f"{BASE}/members/me/redemptions", params={"status": "completed", "page_size": 20}
        )
    codes = [
        (redemption["reward_id"], code["code"], code["status"])
        for redemption in listed.json()["redemptions"]
        for code in redemption["codes"]
    ]
    assert codes == [("free-coffee", redeemed.json()["codes"][0]["code"], "valid")]


def test_a_load_that_fails_offers_a_retry_not_the_login(served: dict[str, str]) -> None:
    html, script = served["/card"], served["/card/assets/card.js"]
    assert by_id(html, "error-view")["hidden"] == ""
    assert by_id(html, "retry")["type"] == "button"
    assert by_id(html, "loading")["role"] == "status"  # not a blank page while it loads
    assert "loadCard().catch(showLoadError)" in script


def test_the_token_in_the_qr_code_is_what_a_till_accepts(platform: GatewayPlatform) -> None:
    """The page draws the SVG the gateway made of `token` (a browser audit decoded the picture
    with zbarimg to that token); a till that scans it posts the token, and the member earns."""
    member_id = platform.enrol(given_name="<script>alert(1)</script>")
    with platform.client(token=platform.member_token(member_id)) as client:
        shown = client.get(f"{BASE}/members/me/qr-token").json()
    assert shown["qr_svg"].startswith("<svg") and "<script" not in shown["qr_svg"]
    with platform.client(key="pos") as till:
        posted = till.post(
            f"{BASE}/purchases",
            headers={"Idempotency-Key": unique("k")},
            json=purchase(qr(shown["token"]), at(time.time())),
        )
    assert posted.status_code == 201, posted.text
    assert posted.json()["member_id"] == member_id


def declaration(css: str, selector: str, prop: str) -> str:
    """The value of `prop` in the rule whose selector list is exactly `selector`."""
    for selectors, body in re.findall(r"([^{}]+)\{([^{}]*)\}", css):
        if selector in {s.strip() for s in selectors.split(",")}:
            found = re.search(rf"(?:^|;)\s*{re.escape(prop)}\s*:\s*([^;]+)", body)
            if found:
                return found.group(1).strip()
    raise AssertionError(f"{selector} {{ {prop} }} not found")


def colour(value: str, variables: dict[str, str]) -> tuple[float, float, float, float]:
    """#rrggbb, #rgb, rgba(r,g,b,a) or var(--name) as red, green, blue (0-255) and alpha."""
    value = variables.get(value.removeprefix("var(").removesuffix(")"), value)
    if value.startswith("#"):
        digits = value[1:] if len(value) == 7 else "".join(c * 2 for c in value[1:])  # #fff
        r, g, b = (int(digits[i : i + 2], 16) for i in (0, 2, 4))
        return r, g, b, 1.0
    r, g, b, a = (float(part) for part in re.findall(r"[\d.]+", value))
    return r, g, b, a


def over(top: tuple[float, float, float, float], below: tuple[float, ...]) -> tuple[float, ...]:
    alpha = top[3]
    return tuple(t * alpha + b * (1 - alpha) for t, b in zip(top[:3], below[:3], strict=True))


def contrast(one: tuple[float, ...], two: tuple[float, ...]) -> float:
    def luminance(rgb: tuple[float, ...]) -> float:
        linear = [
            c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
            for c in (v / 255 for v in rgb[:3])
        ]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    high, low = sorted((luminance(one), luminance(two)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_text_and_the_tier_bar_have_enough_contrast(served: dict[str, str]) -> None:
    """WCAG 2.1 AA: 4.5:1 for text, 3:1 for the bar (a graphic the member reads)."""
    css = re.sub(r"/\*.*?\*/", "", served["/card/assets/card.css"], flags=re.DOTALL)
    variables = dict(re.findall(r"(--[a-z0-9-]+):\s*([^;]+);", css))
    white = (255.0, 255.0, 255.0, 1.0)
    panel, page = colour("var(--panel)", variables), colour("var(--bg)", variables)
    muted = colour("var(--muted)", variables)
    assert contrast(muted, panel) >= 4.5 and contrast(muted, page) >= 4.5
    # The tier's name on the card: white on the badge, over the card's lighter (accent) end.
    badge = over(
        colour(declaration(css, ".tier-badge", "background"), variables),
        colour("var(--accent)", variables),
    )
    assert contrast(white, badge) >= 4.5, contrast(white, badge)
    track = colour(declaration(css, ".progress", "background"), variables)
    for end in ("var(--accent)", "var(--gold)"):  # the fill's gradient
        assert contrast(colour(end, variables), track) >= 3, end
    edge = declaration(css, ".progress", "box-shadow").split()[-1]
    assert contrast(colour(edge, variables), panel) >= 3


def test_a_message_may_be_as_wide_as_the_screen(served: dict[str, str]) -> None:
    """The message with a redemption's code: at left 50% it had half a phone's width to wrap in."""
    css = re.sub(r"/\*.*?\*/", "", served["/card/assets/card.css"], flags=re.DOTALL)
    assert declaration(css, ".toast", "left") == "0"
    assert declaration(css, ".toast", "width") == "fit-content"
    assert declaration(css, ".toast", "max-width") == "calc(100% - 32px)"


def test_the_page_allows_only_its_own_scripts_and_no_framing(platform: GatewayPlatform) -> None:
    """Defence beside the escaping: markup that reached the page would run no script, fetch
    nothing from elsewhere, and no other site can frame the Redeem button to trick a click."""
    with platform.client() as client:
        headers = client.get("/card").headers
    policy = {
        directive.split()[0]: directive.split()[1:]
        for directive in headers["content-security-policy"].split(";")
    }
    assert policy["default-src"] == ["'none'"]
    for fetched in ("script-src", "style-src", "connect-src"):
        assert policy[fetched] == ["'self'"], fetched
    assert policy["img-src"] == ["'self'", "data:"]  # the empty favicon
    assert policy["frame-ancestors"] == ["'none'"] and headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["x-content-type-options"] == "nosniff"


def test_a_pending_redemptions_key_outlives_a_reload(served: dict[str, str]) -> None:
    """A redemption made whose answer was lost: the member reloads and clicks again. The key
    was kept in memory only, so the second click redeemed again (two vouchers, seen in
    Chromium by deploy/local/card_audit.py); it is kept in the tab's sessionStorage now, and
    the gateway answers a retry under it with the first redemption (test_card_logic.py)."""
    script = served["/card/assets/card.js"]
    assert "const pendingKeysStorageKey = `loyalty-pending-redemptions:${program}`;" in script
    assert "sessionStorage.setItem(pendingKeysStorageKey" in script
    assert "sessionStorage.removeItem(pendingKeysStorageKey)" in script  # on log out
    assert "const key = pendingRedeemKeys.get(reward.reward_id) || newKey();" in script


def test_a_redeem_by_keyboard_keeps_the_focus_in_the_rewards(served: dict[str, str]) -> None:
    """After a redemption the rewards are drawn again; the focus fell back to the page's start,
    so a keyboard or screen-reader user lost their place."""
    html, script = served["/card"], served["/card/assets/card.js"]
    assert by_id(html, "rewards-heading")["tabindex"] == "-1"
    assert '(again && !again.disabled ? again : $("rewards-heading")).focus();' in script
