// The card page's rules about what to show, apart from the DOM: plain functions of the JSON the
// gateway answers, so tests run them (tests/gateway/test_card_logic.py) without a browser.
// In the page they are `CardLogic.*`; under Node, `module.exports`.
"use strict";

(function (root) {
  // Money in minor units as the program's currency ("spend" tiers count spend, not points).
  function money(amountMinor, currency, locale) {
    const format = new Intl.NumberFormat(locale, { style: "currency", currency });
    const digits = format.resolvedOptions().maximumFractionDigits;
    return format.format(amountMinor / 10 ** digits);
  }

  function number(value, locale) {
    return new Intl.NumberFormat(locale).format(value);
  }

  // The tier panel: the tier's name, how far the member is towards the next tier (0 to 100) and
  // the sentence under the bar. The bar runs from the current tier's threshold to the next
  // one's; at the top tier it is full, and a program without tiers shows none.
  function tierProgress(balance, tiers, { pointsName = "points", currency = "EUR", locale } = {}) {
    const byCode = Object.fromEntries(tiers.map((tier) => [tier.code, tier]));
    const current = byCode[balance.tier_code];
    const next = byCode[balance.next_tier_code];
    const tierName = current ? current.name : balance.tier_code || "";
    if (next) {
      const floor = current ? current.threshold : 0;
      const span = Math.max(1, next.threshold - floor);
      const reached = (balance.qualifying_amount - floor) / span;
      const percent = Math.min(100, Math.max(0, Math.floor(reached * 100)));
      const missing = balance.qualifying_basis === "spend"
        ? `${money(balance.to_next_tier_amount, currency, locale)} of spend`
        : `${number(balance.to_next_tier_amount, locale)} ${pointsName}`;
      return { tierName, percent, text: `${missing} to ${next.name}`, hasTiers: true };
    }
    if (current) return { tierName, percent: 100, text: "You are in the top tier.", hasTiers: true };
    return { tierName, percent: 0, text: "", hasTiers: false };
  }

  // Whether a listed reward's Redeem button is enabled, and the note beside its price. Points
  // are not all: a reward the member may take no more of, or that is out of stock, would be
  // refused by the rewards service, so its button is off and the note says why.
  function redeemState(listing, availablePoints, { pointsName = "points", locale } = {}) {
    const { reward } = listing;
    if (listing.remaining_member_limit === 0) return { enabled: false, note: "limit reached" };
    const stock = reward.stock;
    if (stock && !stock.unlimited && stock.available <= 0) {
      return { enabled: false, note: "out of stock" };
    }
    if (!listing.affordable) {
      const short = Math.max(0, reward.points_price - (availablePoints || 0));
      return { enabled: false, note: `${number(short, locale)} more ${pointsName} needed` };
    }
    return { enabled: true, note: "" };
  }

  const REFUSALS = {
    INSUFFICIENT_POINTS: "You do not have enough points for this reward.",
    OUT_OF_STOCK: "This reward is out of stock.",
    INSUFFICIENT_STOCK: "This reward is out of stock.",
    CODES_EXHAUSTED: "This reward is out of stock.",
    MEMBER_LIMIT_REACHED: "You have already redeemed this reward as often as allowed.",
    NOT_ELIGIBLE: "This reward is not offered to you.",
    REWARD_NOT_FOUND: "This reward is no longer offered.",
    REWARD_NOT_ACTIVE: "This reward is no longer offered.",
    REWARD_NOT_AVAILABLE: "This reward is not available right now.",
    RATE_LIMITED: "Too many requests: please wait a moment and try again.",
    IDENTIFIER_NOT_FOUND: "No member has this e-mail address.",
  };

  // What the member reads when a call fails: never a service's method name or a stack trace.
  // status 0 is a network failure (no answer at all).
  function friendlyError(status, code, message) {
    if (status === 401) return "Your session has expired. Please log in again.";
    if (code && REFUSALS[code]) return REFUSALS[code];
    if (status === 0 || status >= 500) {
      return "We cannot reach the loyalty service right now. Please try again in a moment.";
    }
    if (status === 404 && code === "MEMBER_NOT_FOUND") return "Your card was not found.";
    // The gateway's own messages are plain sentences; show them, or a general one.
    return message || "Something went wrong. Please try again.";
  }

  // Whether a change's Idempotency-Key is kept for the next click: when no definite answer came
  // (no answer, a timeout, the service busy or down: 0, 429 or 5xx) the first request may have
  // gone through, and only the same key makes the retry the same change. After an answer (2xx,
  // or a refusal 4xx) the next click is a new change with a new key.
  function keepKeyAfter(status) {
    return status === 0 || status === 429 || status >= 500;
  }

  // When to ask for a new QR token: a minute before this one expires (the till must still
  // accept it when scanned), at most every `maxMs`; at once when it is past that (a phone that
  // slept with the page open: its timers did not run). `expired` says the code shown is stale.
  function qrRefresh(expiresAt, nowMs, { marginMs = 60_000, maxMs = 240_000 } = {}) {
    if (!expiresAt) return { refreshInMs: maxMs, expired: false };
    const expiresMs = Date.parse(expiresAt);
    return {
      refreshInMs: Math.max(0, Math.min(maxMs, expiresMs - marginMs - nowMs)),
      expired: nowMs >= expiresMs,
    };
  }

  // "Expiring soon": the ledger's points expiring within 30 days (null when none: "0 expire"
  // read as a warning), and the lots with points left that expire within `soonDays`, soonest
  // first, at most `shownMax`. Lots come soonest first from the ledger, but not necessarily all.
  function expiringSoon(balance, lots, nowMs, { soonDays = 90, shownMax = 3 } = {}) {
    const horizonMs = nowMs + soonDays * 86_400_000;
    const soon = lots
      .filter((lot) => lot.expires_at && lot.remaining_points > 0)
      .filter((lot) => Date.parse(lot.expires_at) < horizonMs)
      .sort((a, b) => Date.parse(a.expires_at) - Date.parse(b.expires_at))
      .slice(0, shownMax)
      .map((lot) => ({ points: lot.remaining_points, expiresAt: lot.expires_at }));
    return { within30Days: balance.expiring_30_days_points || null, lots: soon };
  }

  // What the balance does not show: points not yet usable, points set aside for a redemption
  // under way, and points owed (after a return of points already spent), which new points pay
  // first, so a member who earns and sees no change knows why.
  function balanceNotes(balance, { pointsName = "points", locale } = {}) {
    const notes = [];
    const amount = (points) => `${number(points, locale)} ${pointsName}`;
    if (balance.pending_points > 0) {
      notes.push(`${amount(balance.pending_points)} pending: usable once confirmed`);
    }
    if (balance.held_points > 0) {
      notes.push(`${amount(balance.held_points)} set aside for a reward being redeemed`);
    }
    if (balance.debt_points > 0) {
      notes.push(`You owe ${amount(balance.debt_points)}: new ${pointsName} pay this first`);
    }
    return notes;
  }

  const api = {
    money, number, tierProgress, redeemState, friendlyError, keepKeyAfter, qrRefresh, expiringSoon,
    balanceNotes,
  };
  if (typeof module === "object" && module.exports) module.exports = api;
  else root.CardLogic = api;
})(typeof globalThis === "object" ? globalThis : this);
