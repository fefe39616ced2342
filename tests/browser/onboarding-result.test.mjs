// The onboarding's result page, where an administrator sees the tenant's first API key once: it
// fits a phone and a laptop, keeps its security headers, its button copies the key (to the
// clipboard, or selected when the browser refuses), and it leads on to the tenant portal, where
// the key signs in.

import { test } from "node:test";
import assert from "node:assert/strict";
import { env, fitsEveryWidth, newPage, onboard, screenshot, withBrowser } from "./lib.mjs";

const TENANT = "9c4e2b7d-1a6f-4d38-b5e0-7f3a8c2d1e96";

test("the result page copies the API key and leads to the portal", withBrowser(async (browser) => {
  const page = await newPage(browser);
  await page.context().grantPermissions(["clipboard-read", "clipboard-write"], { origin: env.base });
  const results = [];
  page.on("response", (r) => {
    if (new URL(r.url()).pathname === "/onboarding/callback") results.push(r);
  });
  const key = await onboard(page, "onboarding-result", "Adatum", TENANT);
  assert.match(key, /^ghk_/);
  // Only Graphhook's pages count from here: the emulator's sign-in page has no favicon (404).
  page.errors.length = 0;

  // Served as before: never cached, scripts from this origin only (the copy button's script is
  // a file, no inline code).
  assert.equal(results.length, 1);
  const headers = results[0].headers();
  assert.equal(headers["cache-control"], "no-store");
  assert.match(headers["content-security-policy"], /script-src 'self'/);
  assert.doesNotMatch(headers["content-security-policy"], /unsafe/);
  assert.equal(headers["x-content-type-options"], "nosniff");
  assert.equal(headers["referrer-policy"], "no-referrer");

  await fitsEveryWidth(page, "onboarding-result", "result");

  // The button copies the key to the clipboard.
  const copy = page.getByRole("button", { name: "Copy the key" });
  await copy.click();
  await page.getByRole("status").filter({ hasText: "The API key is copied." }).waitFor();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), key);

  // Where the browser refuses, the key is selected instead, and the page says so.
  await page.evaluate(() => {
    navigator.clipboard.writeText = () => Promise.reject(new DOMException("refused", "NotAllowedError"));
    window.getSelection().removeAllRanges();
  });
  await copy.click();
  await page.getByRole("status").filter({ hasText: "the key is selected" }).waitFor();
  assert.equal((await page.evaluate(() => window.getSelection().toString())).trim(), key);
  await screenshot(page, "onboarding-result", "selected");

  // It links to the API reference, and on to the portal, where the key signs in.
  assert.equal(await page.getByRole("main").getByRole("link", { name: "API reference" }).getAttribute("href"), "/api/docs");
  await page.getByRole("link", { name: "Open the tenant portal" }).click();
  await page.getByLabel("API key").fill(key);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Endpoints", level: 1 }).waitFor();
  assert.equal(new URL(page.url()).pathname, "/portal");
  assert.equal(await page.locator("#who-name").textContent(), "Adatum");
  await screenshot(page, "onboarding-result", "portal");

  assert.deepEqual(page.errors, []);
}));
