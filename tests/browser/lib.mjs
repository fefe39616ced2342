// Shared by the browser tests: the running Graphhook (started by run.sh), Debian's Chromium
// through playwright-core, screenshots into output/, checks that a page fits the window, a local
// webhook receiver, and onboarding a tenant through the real consent flow (the emulator accepts it).

import assert from "node:assert/strict";
import { createServer } from "node:http";
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));

/** Where run.sh started Graphhook and its emulator, and an operator token it minted. */
export const env = {
  base: required("GRAPHHOOK_URL"),
  emulator: required("EMULATOR_URL"),
  operatorToken: required("OPERATOR_TOKEN"),
  output: process.env.SCREENSHOTS ?? join(here, "output"),
};

function required(name) {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set: run the browser tests through tests/browser/run.sh`);
  }
  return value;
}

/** A test's body, run with a fresh browser that is closed afterwards whatever happens. */
export function withBrowser(body) {
  return async () => {
    const browser = await launch();
    try {
      await body(browser);
    } finally {
      await browser.close();
    }
  };
}

/** Headless Chromium with the flags this machine needs (no background networking). */
export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--disable-dev-shm-usage",
    ],
  });
}

/** A page that fails the test on any uncaught script error or CSP violation. */
export async function newPage(browser) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  page.errors = [];
  page.on("pageerror", (error) => page.errors.push(String(error)));
  page.on("console", (message) => {
    if (message.type() === "error") page.errors.push(message.text());
  });
  page.setDefaultTimeout(15_000);
  return page;
}

let shot = 0;
/**
 * Saves a screenshot as output/<test>-<nn>-<name>.png: of the whole page, or of the window only
 * with `{ fullPage: false }` (for very long pages).
 */
export async function screenshot(page, test, name, { fullPage = true } = {}) {
  mkdirSync(env.output, { recursive: true });
  shot += 1;
  const file = join(env.output, `${test}-${String(shot).padStart(2, "0")}-${name}.png`);
  await page.screenshot({ path: file, fullPage });
  return file;
}

/** The widths public pages must fit: a phone's (390 px) and a laptop's (1280 px). */
export const WIDTHS = [390, 1280];

/**
 * Asserts that the page, as it is now, scrolls sideways at none of `WIDTHS` (neither the document
 * nor the body is wider than the window: tables and code scroll inside their own box), and saves
 * a screenshot at each. The window is resized, the page is not reloaded (a result page can be
 * shown once only). Leaves the window at 1280 px.
 */
export async function fitsEveryWidth(page, test, name, { fullPage = true } = {}) {
  for (const width of WIDTHS) {
    await page.setViewportSize({ width, height: 844 });
    const sizes = await page.evaluate(() => ({
      window: window.innerWidth,
      document: document.documentElement.scrollWidth,
      body: document.body.scrollWidth,
    }));
    if (sizes.document > sizes.window || sizes.body > sizes.window) {
      await screenshot(page, test, `${name}-${width}px-overflows`, { fullPage });
    }
    assert.equal(sizes.window, width);
    assert.ok(sizes.document <= sizes.window, `${name} at ${width} px: the document is ${sizes.document} px wide`);
    assert.ok(sizes.body <= sizes.window, `${name} at ${width} px: the body is ${sizes.body} px wide`);
    await screenshot(page, test, `${name}-${width}px`, { fullPage });
  }
  await page.setViewportSize({ width: 1280, height: 900 });
}

/**
 * Where `locator`'s element ends against the window and its table's scrolling box: a control
 * is fully visible when `right <= window` and the table does not overflow (`overflow` 0).
 */
export async function placement(locator) {
  return locator.evaluate((node) => {
    const wrap = node.closest(".table-wrap");
    return {
      right: node.getBoundingClientRect().right,
      window: window.innerWidth,
      overflow: wrap ? wrap.scrollWidth - wrap.clientWidth : 0,
    };
  });
}

/**
 * A webhook receiver on 127.0.0.1: answers Graphhook's verification challenge, 200 to anything
 * else (or `status` while it is set), and records every request.
 */
export async function startReceiver() {
  const received = [];
  const receiver = { received, status: 200, url: "" };
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk) => (body += chunk));
    req.on("end", () => {
      let json = null;
      try {
        json = JSON.parse(body);
      } catch {
        json = null;
      }
      received.push({ headers: req.headers, body, json });
      if (json?.type === "endpoint.verification") {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ challenge: json.data.challenge }));
        return;
      }
      res.writeHead(receiver.status);
      res.end();
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  receiver.url = `http://127.0.0.1:${server.address().port}/hooks`;
  receiver.count = (type) => received.filter((r) => r.json?.type === type).length;
  receiver.close = () => new Promise((resolve) => server.close(resolve));
  return receiver;
}

/** The emulator's control api. */
export async function emulator(method, path, body) {
  const response = await fetch(`${env.emulator}/_emulator${path}`, {
    method,
    headers: body ? { "content-type": "application/json" } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  if (!response.ok) throw new Error(`emulator ${method} ${path}: ${response.status}`);
  return response.status === 204 ? null : response.json();
}

/**
 * Onboards a new tenant through the real flow in the browser: the emulator's sign-in page, where
 * the tenant's seeded Global Administrator is picked, then admin consent (accepted by the
 * emulator for the tenant the sign-in proved). Returns the API key the result page shows once.
 */
export async function onboard(page, test, company, tenantId) {
  const domain = `${company.toLowerCase()}.onmicrosoft.com`;
  await emulator("POST", "/tenants", {
    id: tenantId,
    domain,
    display_name: company,
  }).catch(() => null);
  await emulator("PATCH", "/behaviour", {
    consent_mode: "auto_accept",
    auto_sign_in_user: null,
  });
  await page.goto(`${env.base}/onboarding`);
  await page.getByLabel("Company name").fill(company);
  await page.getByRole("button", { name: "Connect Microsoft 365" }).click();
  await page.getByRole("heading", { name: "Sign in to your account" }).waitFor();
  await screenshot(page, test, "sign-in");
  await page.getByLabel(new RegExp(`\\badmin@${domain.replaceAll(".", "\\.")}`)).check();
  await page.getByRole("button", { name: "Sign in" }).click();
  const key = page.locator("#api-key");
  await key.waitFor();
  await screenshot(page, test, "onboarded");
  return (await key.textContent()).trim();
}

/** Polls `check` until it returns something truthy (or throws after `ms`). */
export async function eventually(check, what, ms = 15_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`never happened: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/**
 * Onboards a new tenant (as `onboard` does) in a page of its own, closed afterwards: the page a
 * test goes on with then shows only its own errors. Returns the API key.
 */
export async function onboardInOwnPage(browser, test, company, tenantId) {
  const onboarding = await newPage(browser);
  const key = await onboard(onboarding, test, company, tenantId);
  await onboarding.context().close();
  return key;
}

/** Signs in to the portal (already open in `page`) with `key`, and waits for its first view. */
export async function signInToPortal(page, key) {
  await page.getByLabel("API key").fill(key);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Endpoints", level: 1 }).waitFor();
}

/**
 * A new tenant onboarded in a page of its own (as `onboardInOwnPage` does), signed in to the
 * portal in a fresh page: `{ key, page }`. The portal's sign-in view is saved as `portal-sign-in`.
 */
export async function portalOfNewTenant(browser, test, company, tenantId) {
  const key = await onboardInOwnPage(browser, test, company, tenantId);
  assert.match(key, /^ghk_/);
  const page = await newPage(browser);
  await page.goto(`${env.base}/portal`);
  await screenshot(page, test, "portal-sign-in");
  await signInToPortal(page, key);
  return { key, page };
}

/** The tenant api, called with the tenant's own key: `{ status, body }` (body null if not JSON). */
export async function tenantCall(key, method, path, body) {
  const response = await fetch(`${env.base}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body ? { "content-type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: response.status, body: await response.json().catch(() => null) };
}

/** Clicks the page's Refresh button until `locator` shows up. */
export async function refreshUntil(page, locator, what) {
  await eventually(async () => {
    if (await locator.count()) return true;
    await page.getByRole("button", { name: "Refresh" }).click();
    await page.getByRole("button", { name: "Refresh" }).waitFor();
    return (await locator.count()) > 0;
  }, what);
}
