// The member's card page: plain JavaScript against the gateway's own API, no build step.
"use strict";

const params = new URLSearchParams(location.search);
const program = params.get("program") || "demo-coffee";
const base = `/v1/programs/${encodeURIComponent(program)}`;
const storageKey = `loyalty-token:${program}`;
const QR_REFRESH_MS = 4 * 60 * 1000;
const SOON_DAYS = 90;
const KIND_NAMES = {
  earn: "Earned", redeem: "Redeemed", adjust: "Adjusted", expire: "Expired", reverse: "Returned",
  transfer_in: "Received", transfer_out: "Sent", hold_commit: "Reward",
};
let qrTimer = null;
let pointsName = "points";

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

class ApiError extends Error {
  constructor(status, body) {
    super((body && body.error && body.error.message) || `HTTP ${status}`);
    this.status = status;
    this.code = body && body.error && body.error.code;
  }
}

async function api(path, { method = "GET", body, auth = true } = {}) {
  const headers = { Accept: "application/json" };
  if (auth) headers.Authorization = `Bearer ${sessionStorage.getItem(storageKey) || ""}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET") headers["Idempotency-Key"] = newKey();
  const response = await fetch(base + path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
  });
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
  $("login").hidden = view !== "login";
  $("card-view").hidden = view !== "card";
}

function logout() {
  sessionStorage.removeItem(storageKey);
  clearInterval(qrTimer);
  show("login");
}

async function login(event) {
  event.preventDefault();
  try {
    const issued = await api("/demo-login", {
      method: "POST", body: { email: $("login-email").value.trim() }, auth: false,
    });
    sessionStorage.setItem(storageKey, issued.token);
    await loadCard();
  } catch (error) {
    toast(error.status === 404 && error.code === "NOT_FOUND"
      ? "Demo login is not enabled on this gateway." : error.message, { error: true });
  }
}

async function refreshQr() {
  const qr = await api("/members/me/qr-token");
  $("qr").innerHTML = qr.qr_svg; // SVG made by the gateway from the signed token
  $("qr").dataset.token = qr.token;
}

function renderTier(balance, tiers) {
  const byCode = Object.fromEntries(tiers.map((tier) => [tier.code, tier]));
  const current = byCode[balance.tier_code];
  const next = byCode[balance.next_tier_code];
  $("tier-name").textContent = current ? current.name : balance.tier_code;
  let percent = 100;
  if (next) {
    const floor = current ? current.threshold : 0;
    const span = Math.max(1, next.threshold - floor);
    percent = Math.min(100, Math.max(0, Math.round(((balance.qualifying_amount - floor) / span) * 100)));
    const unit = balance.qualifying_basis === "spend" ? "spend" : pointsName;
    $("tier-text").textContent = `${number(balance.to_next_tier_amount)} ${unit} to ${next.name}`;
  } else if (current) {
    $("tier-text").textContent = "You are in the top tier.";
  } else {
    // A program without tiers: nothing to climb.
    percent = 0;
    $("tier-text").textContent = "";
  }
  $("tier-progress-fill").style.width = `${percent}%`;
  $("tier-progress").setAttribute("aria-valuenow", String(percent));
  $("pending-text").textContent = balance.pending_points
    ? `${number(balance.pending_points)} ${pointsName} pending (return window)` : "";
}

function renderExpiring(balance, lots) {
  const element = $("expiring");
  element.replaceChildren();
  const horizon = Date.now() + SOON_DAYS * 86400 * 1000;
  const soon = lots
    .filter((lot) => lot.expires_at && lot.remaining_points > 0 && new Date(lot.expires_at) < horizon)
    .sort((a, b) => new Date(a.expires_at) - new Date(b.expires_at))
    .slice(0, 3);
  if (!balance.expiring_30_days_points && soon.length === 0) {
    element.textContent = "Nothing expires soon.";
    return;
  }
  const summary = document.createElement("p");
  summary.textContent = `${number(balance.expiring_30_days_points)} ${pointsName} expire in the next 30 days`;
  element.append(summary);
  for (const lot of soon) {
    const line = document.createElement("p");
    line.className = "muted";
    line.textContent = `${number(lot.remaining_points)} usable until ${lastDay(lot.expires_at)}`;
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
    const short = reward.points_price - list.available_points;
    price.textContent = `${number(reward.points_price)} ${pointsName}` +
      (listing.affordable ? "" : ` · ${number(short)} more needed`);
    text.append(name, price);
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = "Redeem";
    button.dataset.testid = `redeem-${reward.reward_id}`;
    button.disabled = !listing.affordable;
    button.addEventListener("click", () => redeem(reward, button));
    item.append(text, button);
    element.append(item);
  }
  if (!element.children.length) element.textContent = "No rewards yet.";
}

function renderHistory(history) {
  const element = $("history");
  element.replaceChildren();
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
  if (!element.children.length) element.textContent = "No points yet.";
}

async function redeem(reward, button) {
  if (!confirm(`Redeem ${reward.name} for ${number(reward.points_price)} ${pointsName}?`)) return;
  button.disabled = true;
  try {
    const redemption = await api("/members/me/redemptions", {
      method: "POST", body: { reward_id: reward.reward_id, quantity: 1, channel: "app" },
    });
    const codes = redemption.codes.map((c) => c.code).join(", ");
    toast(`Redeemed ${reward.name}${codes ? ` — your code: ${codes}` : ""}`);
  } catch (error) {
    toast(error.message, { error: true });
  }
  await loadPoints();
}

async function loadPoints() {
  const [balance, tiers, lots, history, rewards] = await Promise.all([
    api("/members/me/balance"),
    api("/tiers"),
    api("/members/me/lots?page_size=20"),
    api("/members/me/history?page_size=20"),
    api("/members/me/rewards"),
  ]);
  $("balance").textContent = number(balance.available_points);
  renderTier(balance, tiers.tiers);
  renderExpiring(balance, lots.lots);
  renderRewards(rewards);
  renderHistory(history);
}

async function loadCard() {
  const [programInfo, member] = await Promise.all([api(""), api("/members/me")]);
  pointsName = programInfo.points_name || "points";
  timeZone = programInfo.time_zone || undefined;
  $("program-name").textContent = programInfo.name;
  $("points-name").textContent = pointsName;
  const name = [member.profile.given_name, member.profile.family_name].filter(Boolean).join(" ");
  $("member-name").textContent = name || "Member";
  await Promise.all([refreshQr(), loadPoints()]);
  clearInterval(qrTimer);
  qrTimer = setInterval(() => refreshQr().catch(() => {}), QR_REFRESH_MS);
  show("card");
}

document.addEventListener("DOMContentLoaded", () => {
  $("login-form").addEventListener("submit", login);
  $("logout").addEventListener("click", logout);
  takeTokenFromFragment();
  if (sessionStorage.getItem(storageKey)) {
    loadCard().catch((error) => { toast(error.message, { error: true }); show("login"); });
  } else {
    show("login");
  }
});
