// The member's card page: plain JavaScript against the gateway's own API, no build step. What to
// show from the JSON (tier progress, which Redeem buttons work, error texts) is in
// card-logic.js, loaded before this file; this one reads the API and fills the DOM.
"use strict";

const {
  balanceNotes, expiringSoon, friendlyError, keepKeyAfter, qrRefresh, redeemState, tierProgress,
} = CardLogic;

const params = new URLSearchParams(location.search);
const program = params.get("program") || "demo-coffee";
const base = `/v1/programs/${encodeURIComponent(program)}`;
const storageKey = `loyalty-token:${program}`;
const QR_RETRY_MS = 15 * 1000;
const SOON_DAYS = 90;
const HISTORY_PAGE_SIZE = 20;
const CODES_SHOWN_MAX = 10;
const KIND_NAMES = {
  earn: "Earned", redeem: "Redeemed", adjust: "Adjusted", expire: "Expired", reverse: "Returned",
  transfer_in: "Received", transfer_out: "Sent", hold_commit: "Reward",
};
let qrTimer = null;
let qrExpiresAt = null;
let pointsName = "points";
let currency = "EUR";
let historyPageToken = "";
// Idempotency-Key of a redemption that got no definite answer, per reward: the next click on
// that reward retries the same change (see CardLogic.keepKeyAfter), also after a reload of the
// page (sessionStorage: this tab only, gone when it closes).
const pendingKeysStorageKey = `loyalty-pending-redemptions:${program}`;
const pendingRedeemKeys = {
  all() {
    try { return JSON.parse(sessionStorage.getItem(pendingKeysStorageKey)) || {}; } catch { return {}; }
  },
  get(rewardId) { return this.all()[rewardId]; },
  set(rewardId, key) {
    sessionStorage.setItem(pendingKeysStorageKey, JSON.stringify({ ...this.all(), [rewardId]: key }));
  },
  delete(rewardId) {
    const keys = this.all();
    delete keys[rewardId];
    sessionStorage.setItem(pendingKeysStorageKey, JSON.stringify(keys));
  },
};

const $ = (id) => document.getElementById(id);

function takeTokenFromFragment() {
  const fragment = new URLSearchParams(location.hash.slice(1));
  const token = fragment.get("token");
  if (token) {
    sessionStorage.setItem(storageKey, token);
    history.replaceState(null, "", location.pathname + location.search);
  }
}

function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
}

// An error as the member reads it (`message`); status 0 when no answer came at all.
class ApiError extends Error {
  constructor(status, body) {
    const error = (body && body.error) || {};
    super(friendlyError(status, error.code, error.message));
    this.status = status;
    this.code = error.code;
  }
}

async function api(path, { method = "GET", body, auth = true, key } = {}) {
  const headers = { Accept: "application/json" };
  if (auth) headers.Authorization = `Bearer ${sessionStorage.getItem(storageKey) || ""}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET") headers["Idempotency-Key"] = key || newKey();
  let response;
  try {
    response = await fetch(base + path, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, null); // offline, or the gateway unreachable
  }
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    if (response.status === 401 && auth) logout();
    throw new ApiError(response.status, data);
  }
  return data;
}

function toast(message, { error = false } = {}) {
  const element = $("toast");
  element.textContent = message;
  element.className = error ? "toast error" : "toast";
  element.setAttribute("role", error ? "alert" : "status");
  element.hidden = false;
  clearTimeout(element.timer);
  element.timer = setTimeout(() => { element.hidden = true; }, 6000);
}

// Days are the program's (its time zone, from the program), wherever the phone is.
let timeZone;
const number = (value) => new Intl.NumberFormat().format(value);
const date = (value) => (value ? new Date(value).toLocaleDateString(undefined, { timeZone }) : "");
// The last day points can be spent: points expiring at midnight last through the day before.
const lastDay = (expiresAt) => date(new Date(new Date(expiresAt).getTime() - 1));

function show(view) {
  for (const name of ["login", "loading", "error-view", "card-view"]) {
    $(name).hidden = name !== view;
  }
}

function logout() {
  sessionStorage.removeItem(storageKey);
  sessionStorage.removeItem(pendingKeysStorageKey);
  clearTimeout(qrTimer);
  show("login");
}

// A failed load keeps the member logged in (the token is still good) and offers a retry; only
// an expired or revoked token (401, which api() handles) goes back to the login.
function showLoadError(error) {
  if (error.status === 401) {
    toast(error.message, { error: true });
    return;
  }
  $("error-text").textContent = error.message;
  show("error-view");
}

async function login(event) {
  event.preventDefault();
  try {
    const issued = await api("/demo-login", {
      method: "POST", body: { email: $("login-email").value.trim() }, auth: false,
    });
    sessionStorage.setItem(storageKey, issued.token);
  } catch (error) {
    toast(error.status === 404 && error.code === "NOT_FOUND"
      ? "Demo login is not enabled on this gateway." : error.message, { error: true });
    return;
  }
  await startCard();
}

async function refreshQr() {
  const qr = await api("/members/me/qr-token");
  $("qr").innerHTML = qr.qr_svg; // SVG made by the gateway from the signed token
  $("qr").dataset.token = qr.token;
  qrExpiresAt = qr.expires_at;
  showQrState(false);
}

function showQrState(expired) {
  $("qr").classList.toggle("stale", expired);
  $("qr-caption").textContent = expired
    ? "This code has expired: connect to the internet to renew it"
    : "Show this code at the till";
}

// Renews the QR token before the till would refuse it, and as soon as the page is seen again
// after the phone slept (timers do not run meanwhile); a failed renewal is retried.
function scheduleQr() {
  clearTimeout(qrTimer);
  const { refreshInMs } = qrRefresh(qrExpiresAt, Date.now());
  qrTimer = setTimeout(renewQr, refreshInMs);
}

async function renewQr() {
  try {
    await refreshQr();
    scheduleQr();
  } catch {
    showQrState(qrRefresh(qrExpiresAt, Date.now()).expired);
    clearTimeout(qrTimer);
    qrTimer = setTimeout(renewQr, QR_RETRY_MS);
  }
}

function renderTier(balance, tiers) {
  const progress = tierProgress(balance, tiers, { pointsName, currency });
  $("tier-name").textContent = progress.tierName;
  $("tier-name").hidden = !progress.tierName;
  $("tier-text").textContent = progress.text;
  $("tier-progress").hidden = !progress.hasTiers; // a program without tiers: nothing to climb
  $("tier-progress-fill").style.width = `${progress.percent}%`;
  $("tier-progress").setAttribute("aria-valuenow", String(progress.percent));
  $("tier-progress").setAttribute("aria-valuetext", progress.text || `${progress.percent}%`);
}

function renderBalance(balance) {
  $("balance").textContent = number(balance.available_points);
  const notes = $("balance-notes");
  notes.replaceChildren(...balanceNotes(balance, { pointsName }).map((text) => {
    const line = document.createElement("p");
    line.textContent = text;
    return line;
  }));
  notes.hidden = !notes.children.length;
}

function renderExpiring(balance, lots) {
  const element = $("expiring");
  element.replaceChildren();
  const soon = expiringSoon(balance, lots, Date.now(), { soonDays: SOON_DAYS });
  if (!soon.within30Days && soon.lots.length === 0) {
    element.textContent = "Nothing expires soon.";
    return;
  }
  if (soon.within30Days) {
    const summary = document.createElement("p");
    summary.textContent = `${number(soon.within30Days)} ${pointsName} expire in the next 30 days`;
    element.append(summary);
  }
  for (const lot of soon.lots) {
    const line = document.createElement("p");
    line.className = "muted";
    line.textContent = `${number(lot.points)} ${pointsName} usable until ${lastDay(lot.expiresAt)}`;
    element.append(line);
  }
}

function renderRewards(list) {
  const element = $("rewards");
  element.replaceChildren();
  for (const listing of list.rewards.filter((l) => l.eligible)) {
    const { reward } = listing;
    const item = document.createElement("li");
    const text = document.createElement("div");
    const name = document.createElement("div");
    name.className = "reward-name";
    name.textContent = reward.name;
    const price = document.createElement("div");
    price.className = "reward-price";
    const state = redeemState(listing, list.available_points, { pointsName });
    price.textContent = `${number(reward.points_price)} ${pointsName}` +
      (state.note ? ` · ${state.note}` : "");
    price.id = `price-${reward.reward_id}`;
    text.append(name, price);
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = "Redeem";
    button.dataset.testid = `redeem-${reward.reward_id}`;
    // Read as "Redeem, <reward name>, <price>": five buttons all called "Redeem" say nothing.
    button.setAttribute("aria-label", `Redeem ${reward.name}`);
    button.setAttribute("aria-describedby", price.id);
    button.disabled = !state.enabled;
    button.addEventListener("click", () => redeem(reward, button));
    item.append(text, button);
    element.append(item);
  }
  if (!element.children.length) element.textContent = "No rewards yet.";
}

// One page of history, added to the list (the first page replaces it); "Show more" asks for the
// next page while the ledger has one.
function renderHistory(history, { append = false } = {}) {
  const element = $("history");
  if (!append) element.replaceChildren();
  else element.querySelector(".empty")?.remove();
  for (const posting of history.postings) {
    const item = document.createElement("li");
    const what = document.createElement("div");
    what.textContent = `${KIND_NAMES[posting.kind] || posting.kind} · ${date(posting.occurred_at || posting.posted_at)}`;
    const points = document.createElement("div");
    points.className = posting.points >= 0 ? "points-plus" : "points-minus";
    points.textContent = `${posting.points >= 0 ? "+" : ""}${number(posting.points)}`;
    item.append(what, points);
    element.append(item);
  }
  if (!element.children.length) {
    const empty = document.createElement("li");
    empty.className = "empty";
    empty.textContent = "No points yet.";
    element.append(empty);
  }
  historyPageToken = history.next_page_token || "";
  $("history-more").hidden = !historyPageToken;
}

async function moreHistory() {
  const button = $("history-more");
  button.disabled = true;
  try {
    const token = encodeURIComponent(historyPageToken);
    renderHistory(
      await api(`/members/me/history?page_size=${HISTORY_PAGE_SIZE}&page_token=${token}`),
      { append: true },
    );
  } catch (error) {
    toast(error.message, { error: true });
  } finally {
    button.disabled = false;
  }
}

// The member's codes of completed redemptions that can still be used, so a code shown once
// after redeeming is not lost when the message goes.
function renderCodes(redemptions, rewardNames) {
  const element = $("codes");
  element.replaceChildren();
  for (const redemption of redemptions.redemptions) {
    for (const code of redemption.codes.filter((c) => c.status === "valid")) {
      if (element.children.length >= CODES_SHOWN_MAX) break;
      const item = document.createElement("li");
      const what = document.createElement("div");
      what.className = "reward-name";
      what.textContent = rewardNames[redemption.reward_id] || redemption.reward_id;
      const value = document.createElement("code");
      value.className = "code";
      value.textContent = code.code;
      item.append(what, value);
      element.append(item);
    }
  }
  $("codes-panel").hidden = !element.children.length;
}

async function redeem(reward, button) {
  if (!confirm(`Redeem ${reward.name} for ${number(reward.points_price)} ${pointsName}?`)) return;
  button.disabled = true;
  const key = pendingRedeemKeys.get(reward.reward_id) || newKey();
  pendingRedeemKeys.set(reward.reward_id, key);
  try {
    const redemption = await api("/members/me/redemptions", {
      method: "POST", key, body: { reward_id: reward.reward_id, quantity: 1, channel: "app" },
    });
    pendingRedeemKeys.delete(reward.reward_id);
    const codes = redemption.codes.map((c) => c.code).join(", ");
    toast(`Redeemed ${reward.name}${codes ? ` — your code: ${codes}` : ""}`);
  } catch (error) {
    if (!keepKeyAfter(error.status)) pendingRedeemKeys.delete(reward.reward_id);
    toast(error.message, { error: true });
  }
  await loadPoints().catch((error) => toast(error.message, { error: true }));
  // The list was drawn again: keyboard and screen-reader users keep their place, on the same
  // reward's button, or on the rewards' heading when that button is now off.
  const again = document.querySelector(`[data-testid="redeem-${CSS.escape(reward.reward_id)}"]`);
  (again && !again.disabled ? again : $("rewards-heading")).focus();
}

async function loadPoints() {
  const [balance, tiers, lots, history, rewards, redemptions] = await Promise.all([
    api("/members/me/balance"),
    api("/tiers"),
    api("/members/me/lots?page_size=20"),
    api(`/members/me/history?page_size=${HISTORY_PAGE_SIZE}`),
    api("/members/me/rewards"),
    api("/members/me/redemptions?status=completed&page_size=20"),
  ]);
  renderBalance(balance);
  renderTier(balance, tiers.tiers);
  renderExpiring(balance, lots.lots);
  renderRewards(rewards);
  renderHistory(history);
  const names = Object.fromEntries(rewards.rewards.map((l) => [l.reward.reward_id, l.reward.name]));
  renderCodes(redemptions, names);
}

async function loadCard() {
  const [programInfo, member] = await Promise.all([api(""), api("/members/me")]);
  pointsName = programInfo.points_name || "points";
  currency = programInfo.currency || "EUR";
  timeZone = programInfo.time_zone || undefined;
  $("program-name").textContent = programInfo.name;
  $("points-name").textContent = pointsName;
  const name = [member.profile.given_name, member.profile.family_name].filter(Boolean).join(" ");
  $("member-name").textContent = name || "Member";
  await Promise.all([refreshQr(), loadPoints()]);
  scheduleQr();
  show("card-view");
}

async function startCard() {
  show("loading");
  await loadCard().catch(showLoadError);
}

document.addEventListener("DOMContentLoaded", () => {
  $("login-form").addEventListener("submit", login);
  $("logout").addEventListener("click", logout);
  $("error-logout").addEventListener("click", logout);
  $("retry").addEventListener("click", startCard);
  $("history-more").addEventListener("click", moreHistory);
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible" && !$("card-view").hidden) scheduleQr();
  });
  takeTokenFromFragment();
  if (sessionStorage.getItem(storageKey)) startCard();
  else show("login");
});
