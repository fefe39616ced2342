// The tenant portal, end to end through its UI: a tenant onboarded through the real consent flow
// signs in with its API key, registers an endpoint (verified by a local receiver), creates a
// Graph subscription, follows a change from the emulator to the receiver and into the message
// history, and resends it.

import { test } from "node:test";
import assert from "node:assert/strict";
import {
  emulator,
  env,
  eventually,
  launch,
  portalOfNewTenant,
  refreshUntil,
  screenshot,
  startReceiver,
} from "./lib.mjs";

const TENANT = "3b9e6c1a-52d4-4f0e-8a7b-c2d91e4f6a85";

test("a tenant signs in, registers an endpoint, subscribes, and follows and resends a message", async () => {
  const browser = await launch();
  const receiver = await startReceiver();
  try {
    // 1. Onboarding (the emulator accepts the consent) gives an API key. It runs in a page of its
    // own: the portal's page must show no error at all.
    // 2. Sign in with it: the tenant's name and status show; only the session token is kept.
    const { key, page } = await portalOfNewTenant(browser, "portal", "Northwind", TENANT);
    assert.equal(await page.locator("#who-name").textContent(), "Northwind");
    assert.equal(await page.locator("#who-status").textContent(), "active");
    const stored = await page.evaluate(() => JSON.stringify(sessionStorage));
    assert.ok(!stored.includes(key), "the API key is not kept in the browser");
    assert.ok(!page.url().includes("ghk_"), "the key is not in the URL");
    await screenshot(page, "portal", "signed-in");
    // The event-type suggestions come from the api's catalogue (its OpenAPI webhooks section).
    const catalogue = Object.keys((await (await fetch(`${env.base}/api/openapi.json`)).json()).webhooks);
    assert.ok(catalogue.includes("graph.message.created"), "the api's catalogue");
    const suggested = await page.locator("datalist[id$='-filters-options']").first()
      .locator("option").evaluateAll((options) => options.map((o) => o.value));
    for (const type of catalogue) assert.ok(suggested.includes(type), `${type} is suggested`);
    for (const pattern of ["*", "graph.*", "graph.message.*", "graph.subscription.*", "message.attempt.*"]) {
      assert.ok(suggested.includes(pattern), `${pattern} is suggested`);
    }
    assert.equal(new Set(suggested).size, suggested.length, "each suggestion once");

    // 3. Register the receiver; it answers the challenge and becomes active.
    await page.getByLabel("Endpoint URL").fill(receiver.url);
    await page.getByLabel("Description (optional)").fill("Northwind receiver");
    await page.getByRole("button", { name: "Register endpoint" }).click();
    await page.getByRole("heading", { name: "Endpoint registered" }).waitFor();
    const endpointRow = page.getByRole("row").filter({ hasText: receiver.url });
    await endpointRow.getByText("active", { exact: true }).first().waitFor();
    assert.match(await page.locator("#new-secret").textContent(), /^whsec_/);
    assert.ok(receiver.count("endpoint.verification") >= 1, "the receiver got the challenge");
    await screenshot(page, "portal", "endpoint-registered");

    // The endpoint's own page: details and health.
    await endpointRow.getByRole("link", { name: `Manage ${receiver.url}` }).click();
    await page.getByRole("heading", { name: "Health" }).waitFor();
    await screenshot(page, "portal", "endpoint-details");

    // 4. A subscription to users, updated only.
    await page.getByRole("navigation", { name: "Portal" }).getByRole("link", { name: "Subscriptions" }).click();
    await page.getByRole("heading", { name: "Subscriptions", level: 1 }).waitFor();
    await page.getByLabel("Resource kind").selectOption("user");
    assert.equal(await page.getByLabel("Resource", { exact: true }).inputValue(), "users");
    await page.getByRole("checkbox", { name: "updated" }).check();
    await page.getByRole("checkbox", { name: "deleted" }).uncheck();
    await page.getByRole("button", { name: "Create subscription" }).click();
    const subscriptionRow = page.getByRole("row").filter({ has: page.getByRole("rowheader", { name: /^users\b/ }) });
    await subscriptionRow.getByText("active", { exact: true }).waitFor();
    assert.ok(await subscriptionRow.locator("time").count() >= 1, "the expiry shows");
    await screenshot(page, "portal", "subscription-created");
    await subscriptionRow.getByRole("button", { name: "History" }).click();
    await page.getByRole("table", { name: /Lifecycle history/ }).or(page.getByText("Nothing has happened to it yet.")).waitFor();
    await screenshot(page, "portal", "subscription-history");

    // 5. A change at the emulator reaches the receiver, then the portal's history.
    await emulator("POST", "/changes", { tenant: TENANT, resource: "users", changeType: "updated", count: 1 });
    await eventually(() => receiver.count("graph.user.updated") >= 1, "the receiver got graph.user.updated", 30_000);
    await page.getByRole("navigation", { name: "Portal" }).getByRole("link", { name: "Messages" }).click();
    await page.getByRole("heading", { name: "Messages", level: 1 }).waitFor();
    const messageRow = page.getByRole("row").filter({ hasText: "graph.user.updated" });
    await refreshUntil(page, messageRow, "the message is listed");
    await messageRow.getByText("delivered").waitFor();
    await screenshot(page, "portal", "messages");
    await messageRow.getByRole("link", { name: /^Open graph\.user\.updated message/ }).click();
    await page.getByRole("heading", { name: "graph.user.updated", level: 1 }).waitFor();
    const attempts = page.getByRole("table", { name: `Attempts to ${receiver.url}` });
    await attempts.getByRole("row").filter({ hasText: "200" }).first().waitFor();
    assert.equal(await attempts.locator("tbody tr").count(), 1);
    assert.match(await page.locator("pre.payload").textContent(), /"type": "graph.user.updated"/);
    await screenshot(page, "portal", "message-details");

    // 6. Resend: the receiver gets it again and the portal shows a second attempt.
    await page.getByRole("button", { name: "Resend to this endpoint" }).click();
    await eventually(() => receiver.count("graph.user.updated") >= 2, "the receiver got the resend", 30_000);
    const ids = receiver.received.filter((r) => r.json?.type === "graph.user.updated").map((r) => r.headers["webhook-id"]);
    assert.equal(ids[0], ids[1], "a resend keeps the webhook-id");
    await refreshUntil(page, attempts.locator("tbody tr").nth(1), "the second attempt shows");
    const second = attempts.locator("tbody tr").nth(1);
    assert.match(await second.textContent(), /manual/);
    assert.match(await second.textContent(), /200/);
    await screenshot(page, "portal", "resent");

    // The other pages render too.
    await page.getByRole("navigation", { name: "Portal" }).getByRole("link", { name: "Events" }).click();
    await page.getByRole("heading", { name: "Operational events", level: 1 }).waitFor();
    await page.getByRole("row").filter({ hasText: "endpoint.created" }).first().waitFor();
    await screenshot(page, "portal", "events");
    await page.getByRole("navigation", { name: "Portal" }).getByRole("link", { name: "Tenant" }).click();
    await page.getByRole("heading", { name: "Northwind", level: 1 }).waitFor();
    await screenshot(page, "portal", "tenant");

    // Signing out forgets the session.
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByLabel("API key").waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.length), 0);

    // 7. No script error and no CSP violation on the way.
    assert.deepEqual(page.errors, []);
  } finally {
    await receiver.close();
    await browser.close();
  }
});
