// The operator console in Chromium: sign in (a wrong token first), find a tenant onboarded
// through the real consent flow, suspend and resume it (checked through the tenant api),
// the operations page and its charts, and the audit log those actions left (filtered by actor,
// every column visible at 1280 px).

import { test } from "node:test";
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import {
  env,
  eventually,
  launch,
  newPage,
  onboardInOwnPage,
  placement,
  screenshot,
  startReceiver,
  tenantCall,
} from "./lib.mjs";

const TENANT = "6f0d3c2a-8b47-4e15-9a3c-d2e71b5f4a08";
const REASON = "Unpaid invoice INV-2291 (browser test)";

/** An HS256 JWT shaped like an operator token, signed with a key Graphhook does not use. */
function forgedToken() {
  const part = (value) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const now = Math.floor(Date.now() / 1000);
  const unsigned = `${part({ alg: "HS256", typ: "JWT" })}.${part({ sub: "mallory", iat: now, exp: now + 3600 })}`;
  const signature = createHmac("sha256", "not-the-signing-key").update(unsigned).digest("base64url");
  return `${unsigned}.${signature}`;
}

async function tenantApi(key) {
  return tenantCall(key, "GET", "/tenant");
}

async function tenantStatus(page) {
  return (await page.locator("#tenant-status").textContent())?.trim();
}

test("the operator console: sign in, find, suspend and resume a tenant, operations, audit log", async () => {
  const browser = await launch();
  const receiver = await startReceiver();
  try {
    // 1. A tenant to find, onboarded through the real consent flow (in a page of its own: the
    // console's page is the one whose errors are checked at the end).
    const key = await onboardInOwnPage(browser, "console", "Tailspin", TENANT);
    assert.ok(key.length > 10, `an API key, not ${key}`);
    assert.equal((await tenantApi(key)).status, 200);
    // A subscription of its own (for "Renew now"), and an endpoint that has had deliveries,
    // one of them failed (for the delivery health and the charts).
    const created = await tenantCall(key, "POST", "/subscriptions", { resource: "users", change_types: ["updated", "deleted"] });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const endpoint = await tenantCall(key, "POST", "/endpoints", { url: receiver.url, description: "Tailspin receiver" });
    assert.equal(endpoint.status, 201, JSON.stringify(endpoint.body));
    await eventually(
      async () => (await tenantCall(key, "GET", `/endpoints/${endpoint.body.id}`)).body?.status === "active",
      "the endpoint is verified",
    );
    for (const status of [200, 200, 500, 200]) {
      receiver.status = status;
      const sent = await tenantCall(key, "POST", `/endpoints/${endpoint.body.id}/test`);
      assert.equal(sent.status < 300, true, JSON.stringify(sent.body));
    }
    receiver.status = 200;

    const page = await newPage(browser);

    // 2. A wrong token first: the server's 401 message shows, nothing is kept; then the right one.
    await page.goto(`${env.base}/console`);
    await page.getByLabel("Operator token").waitFor();
    await screenshot(page, "console", "sign-in");
    assert.equal(await page.getByLabel("Operator token").getAttribute("type"), "password");
    const wrong = forgedToken();
    const refused = await fetch(`${env.base}/admin/v1/credential`, { headers: { authorization: `Bearer ${wrong}` } });
    assert.equal(refused.status, 401);
    const { message } = await refused.json();
    await page.getByLabel("Operator token").fill(wrong);
    await page.getByRole("button", { name: "Sign in" }).click();
    const alert = page.getByRole("alert");
    await alert.waitFor();
    assert.ok((await alert.textContent()).includes(message), `the alert shows "${message}"`);
    assert.equal(await page.evaluate(() => sessionStorage.length), 0);
    assert.ok(await page.getByLabel("Operator token").isVisible());
    await screenshot(page, "console", "wrong-token");
    // Chromium logs the refused request itself ("Failed to load resource: … 401"); that one,
    // and only that one, is expected.
    const unexpected = page.errors.filter((e) => !/status of 401/.test(e));
    assert.deepEqual(unexpected, []);
    page.errors.length = 0;

    await page.getByLabel("Operator token").fill(env.operatorToken);
    await page.keyboard.press("Enter");
    await page.locator("#operator-name", { hasText: "browser-test" }).waitFor();
    assert.equal(await page.evaluate((k) => sessionStorage.getItem(k), "graphhook.operatorToken"), env.operatorToken);
    assert.ok(!page.url().includes(env.operatorToken), "the token is never in the URL");
    await page.getByRole("table", { name: /tenants/i }).waitFor();
    await screenshot(page, "console", "signed-in");

    // 3. Find Tailspin and open it.
    await page.getByLabel("Search", { exact: true }).fill("Tailspin");
    await page.getByLabel("Search", { exact: true }).press("Enter");
    const link = page.getByRole("table", { name: /Tailspin/ }).getByRole("link", { name: "Tailspin" });
    await link.waitFor();
    assert.match(page.url(), /#\/tenants\?search=Tailspin$/);
    await screenshot(page, "console", "search");
    await link.click();
    await page.getByRole("heading", { level: 1, name: "Tailspin" }).waitFor();
    assert.equal(await tenantStatus(page), "active");
    await page.getByRole("heading", { name: "API keys" }).waitFor();
    assert.ok(await page.getByRole("table", { name: /API keys of Tailspin/ }).isVisible());
    await screenshot(page, "console", "tenant");

    // Its subscription, renewed now (202: due at the next upkeep tick).
    const subscriptions = page.getByRole("table", { name: "Subscriptions of Tailspin" });
    await subscriptions.getByRole("button", { name: "Renew now: users" }).click();
    await page.getByRole("status").filter({ hasText: "The renewal of users is due now" }).waitFor();
    await screenshot(page, "console", "renew-now");

    // 4. Suspend it with a reason: the tenant api answers 403 with the reason.
    await page.getByRole("button", { name: "Suspend…" }).click();
    await page.getByLabel("Reason").fill(REASON);
    await screenshot(page, "console", "suspend-form");
    await page.getByRole("button", { name: "Suspend tenant" }).click();
    await eventually(async () => (await tenantStatus(page)) === "suspended", "the status shows suspended");
    assert.ok((await page.locator("#tenant-status-reason").textContent()).includes(REASON));
    await page.getByRole("status").filter({ hasText: "Tailspin suspended." }).waitFor();
    const suspended = await tenantApi(key);
    assert.equal(suspended.status, 403);
    assert.ok(suspended.body.message.includes(REASON), suspended.body.message);
    await screenshot(page, "console", "suspended");

    // 5. Resume it: active again, and the tenant api answers.
    await page.getByRole("button", { name: "Resume" }).click();
    await eventually(async () => (await tenantStatus(page)) === "active", "the status shows active");
    assert.equal((await tenantApi(key)).status, 200);
    await screenshot(page, "console", "resumed");

    // The subscriptions of every tenant, filtered.
    await page.getByRole("navigation", { name: "Console" }).getByRole("link", { name: "Subscriptions" }).click();
    await page.getByLabel("Status").selectOption("active");
    const subscriptionRow = page.getByRole("table", { name: /active subscriptions/ }).getByRole("row", { name: /users/ });
    await subscriptionRow.waitFor();
    // The tenant shows by its name (linked to its page), not only by its id.
    await subscriptionRow.getByRole("link", { name: "Tailspin" }).waitFor();
    await screenshot(page, "console", "subscriptions");

    // 6. Operations: queue depths, the delivery charts (with their text fallback), the credential.
    await page.getByRole("navigation", { name: "Console" }).getByRole("link", { name: "Operations" }).click();
    await page.getByRole("heading", { level: 1, name: "Operations" }).waitFor();
    await page.getByRole("table", { name: "Backlogs in Postgres now" }).waitFor();
    await eventually(
      async () => (await page.getByRole("table", { name: /Queue depths/ }).count()) === 1,
      "a worker recorded queue depths",
      20_000,
    ).catch(async () => {
      // The worker records depths on its maintenance tick: look again.
      await page.getByRole("button", { name: "Refresh" }).click();
      await page.getByRole("table", { name: /Queue depths/ }).waitFor();
    });
    assert.equal(await page.locator("svg.chart").count(), 2);
    assert.equal(await page.locator("svg.chart > title").first().textContent(), "Delivery attempts and successes per hour");
    assert.equal(await page.getByRole("img", { name: /latency/i }).count(), 1);
    assert.equal(await page.locator("table.series tbody tr").count(), 24);
    await page.getByRole("heading", { name: "App credential" }).waitFor();
    assert.ok(await page.locator("#credential dl").isVisible());
    await page.getByText("The hourly figures as a table").click();
    await screenshot(page, "console", "operations");

    // 7. The audit log has both actions, by browser-test, newest first.
    await page.getByRole("link", { name: "Audit log" }).click();
    const audit = page.getByRole("table", { name: /Audit log/ });
    await audit.waitFor();
    const rows = audit.getByRole("row");
    const suspendedRow = rows.filter({ hasText: "tenant.suspended" }).filter({ hasText: "browser-test" });
    const resumedRow = rows.filter({ hasText: "tenant.resumed" }).filter({ hasText: "browser-test" });
    assert.equal(await suspendedRow.count(), 1);
    assert.equal(await resumedRow.count(), 1);
    assert.ok((await suspendedRow.textContent()).includes(REASON));
    const actions = await audit.locator("code.action-name").allTextContents();
    assert.ok(actions.indexOf("tenant.resumed") < actions.indexOf("tenant.suspended"), "newest first");
    // Each entry names its tenant.
    assert.equal(await suspendedRow.getByRole("link", { name: "Tailspin" }).count(), 1);
    // At 1280 px every entry's Details is whole: within the window, and the table fits its box.
    for (const details of await audit.locator("tbody td:last-child").all()) {
      const { right, window, overflow } = await placement(details);
      assert.ok(right <= window, `Details ends at ${right} px, in a ${window} px window`);
      assert.equal(overflow, 0, "the audit log does not scroll sideways");
    }
    await screenshot(page, "console", "audit-log");

    // Only what browser-test did: the actor filter (kept in the URL).
    assert.ok((await audit.locator("td.actor").allTextContents()).some((a) => !a.includes("browser-test")), "others acted too");
    await page.getByLabel("Actor", { exact: true }).fill("browser-test");
    await page.getByRole("button", { name: "Apply" }).click();
    const byOperator = page.getByRole("table", { name: /Audit log, by browser-test/ });
    await byOperator.waitFor();
    assert.match(page.url(), /#\/audit\?actor=browser-test$/);
    const actors = await byOperator.locator("td.actor").allTextContents();
    assert.ok(actors.length >= 3, `the suspension, the resumption and the renewal, not ${actors}`);
    assert.ok(actors.every((a) => a.includes("browser-test")), actors.join(" | "));
    assert.equal(await suspendedRow.count(), 1);
    await screenshot(page, "console", "audit-log-by-actor");

    // Offboarding asks for the tenant's name: a wrong one is refused in the page, the right one
    // offboards it (its subscription deleted at Graph, its key revoked).
    await suspendedRow.getByRole("link").first().click();
    await page.getByRole("heading", { level: 1, name: "Tailspin" }).waitFor();
    await page.getByRole("button", { name: "Offboard…" }).click();
    await page.getByLabel("Type the tenant's name, Tailspin, to confirm").fill("tailspin");
    await page.getByRole("button", { name: "Offboard tenant" }).click();
    await page.getByRole("alert").filter({ hasText: "Type Tailspin exactly" }).waitFor();
    assert.equal(await tenantStatus(page), "active");
    await page.getByLabel("Type the tenant's name, Tailspin, to confirm").fill("Tailspin");
    await screenshot(page, "console", "offboard-form");
    await page.getByRole("button", { name: "Offboard tenant" }).click();
    await eventually(async () => (await tenantStatus(page)) === "offboarded", "the status shows offboarded");
    await page.getByText("Tailspin is offboarded.").waitFor();
    assert.ok((await page.locator(".notices").textContent()).includes("Subscriptions deleted at Graph: 1"));
    assert.equal(await page.getByRole("button", { name: "Suspend…" }).count(), 0);
    assert.notEqual((await tenantApi(key)).status, 200);
    await screenshot(page, "console", "offboarded");

    // Sign out: the token is forgotten.
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByLabel("Operator token").waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.length), 0);
    await screenshot(page, "console", "signed-out");

    // 8. No script error, CSP violation or failed request along the way.
    assert.deepEqual(page.errors, []);
  } finally {
    await browser.close();
    await receiver.close();
  }
});
