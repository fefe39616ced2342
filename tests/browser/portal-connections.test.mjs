// The portal's connections, end to end through its UI: a tenant onboarded through the real
// consent flow connects a work account (the sign-in link the portal shows, opened as the
// emulator's user of that tenant), sees the connection active, subscribes to a group's
// conversations through it, finds it in the operator console, sees it need its user again once
// Microsoft revokes the user's sessions (its Reconnect button in full view at 1280 px), restores
// it with the new link, and deletes it with its subscriptions.

import { test } from "node:test";
import assert from "node:assert/strict";
import {
  emulator,
  env,
  launch,
  newPage,
  placement,
  portalOfNewTenant,
  refreshUntil,
  screenshot,
  tenantCall,
} from "./lib.mjs";

const TENANT = "5d7a1c3e-9b24-4f86-a0e1-3c8f6b2d9e47";
const COMPANY = "Fabrikam";
const DOMAIN = "fabrikam.onmicrosoft.com";
const USER = `user@${DOMAIN}`;
const GROUP = "02bd9fd6-8f93-4758-87c3-1fb73740a315";
const RESOURCE = `groups/${GROUP}/conversations`;

test("a tenant connects a user, subscribes through it, restores it when it needs its user again, and deletes it", async () => {
  const browser = await launch();
  const { token_lifetime_secs: lifetime } = await emulator("GET", "/behaviour");
  try {
    // 1. Onboarding gives an API key; the portal's page is a page of its own.
    const { key, page } = await portalOfNewTenant(browser, "connections", COMPANY, TENANT);
    const nav = page.getByRole("navigation", { name: "Portal" });

    // 2. Connect a work account for group conversations: pending, with a sign-in link.
    await nav.getByRole("link", { name: "Connections" }).click();
    await page.getByRole("heading", { name: "Connections", level: 1 }).waitFor();
    await page.getByText("No connections yet.").waitFor();
    await page.getByLabel("Account", { exact: true }).selectOption("work");
    await page.getByRole("checkbox", { name: /Group conversations/ }).check();
    await page.getByLabel("Login hint (optional)").fill(USER);
    await screenshot(page, "connections", "form");
    await page.getByRole("button", { name: "Connect a user" }).click();
    await page.getByRole("heading", { name: "Connection started: send the sign-in link" }).waitFor();
    const url = (await page.locator("#auth-url").textContent()).trim();
    assert.match(url, /^https?:\/\/.+\/oauth2\/v2\.0\/authorize\?/, url);
    assert.ok(await page.getByRole("button", { name: "Copy link" }).isVisible());
    assert.ok(await page.locator("#auth-title ~ p time").count(), "the link's expiry shows");
    const row = page.getByRole("table", { name: "Your connections" }).locator("tbody tr");
    await row.getByText("pending", { exact: true }).waitFor();
    const id = (await row.locator("th code").textContent()).trim();
    assert.match(id, /^conn_/);
    await screenshot(page, "connections", "pending");

    // 3. The user opens the link: the emulator signs them in at once, Graphhook says so. Their
    // access tokens live two minutes, less than Graphhook's five-minute margin: every use of the
    // connection refreshes them (step 7 needs that).
    const visitor = await newPage(browser);
    try {
      await emulator("PATCH", "/behaviour", { auto_sign_in_user: USER, token_lifetime_secs: 120 });
      await visitor.goto(url);
      await visitor.getByRole("heading", { name: "Connected" }).waitFor();
    } finally {
      await emulator("PATCH", "/behaviour", { auto_sign_in_user: null });
    }
    await visitor.getByText(/is connected/).waitFor();
    await screenshot(visitor, "connections", "callback");
    await visitor.context().close();

    // 4. Active in the portal, with the user's name and the permission granted.
    await refreshUntil(page, row.getByText("active", { exact: true }), "the connection is active");
    assert.match(await row.textContent(), new RegExp(`${COMPANY} User`));
    assert.match(await row.textContent(), /Group\.Read\.All/);
    await screenshot(page, "connections", "active");

    // 5. A conversation subscription through it, from the subscription form.
    await nav.getByRole("link", { name: "Subscriptions" }).click();
    await page.getByRole("heading", { name: "Subscriptions", level: 1 }).waitFor();
    await page.getByLabel("Resource kind").selectOption("conversation");
    await page.getByLabel("Through connection").selectOption(id);
    await page.getByLabel("Resource", { exact: true }).fill(RESOURCE);
    await page.getByRole("checkbox", { name: "created" }).check();
    await page.getByRole("checkbox", { name: "updated" }).uncheck();
    await page.getByRole("checkbox", { name: "deleted" }).uncheck();
    await screenshot(page, "connections", "subscription-form");
    await page.getByRole("button", { name: "Create subscription" }).click();
    const subscription = page.getByRole("row").filter({ has: page.getByRole("rowheader", { name: new RegExp(RESOURCE) }) });
    await subscription.getByText("active", { exact: true }).waitFor();
    assert.match(await subscription.textContent(), new RegExp(`Through ${COMPANY} User`));
    const listed = await tenantCall(key, "GET", "/subscriptions");
    const held = listed.body.data.find((s) => s.resource === RESOURCE);
    assert.equal(held?.connection_id, id, JSON.stringify(listed.body));
    assert.deepEqual(held.change_types, ["created"]);
    await screenshot(page, "connections", "subscribed");

    // 6. The operator console shows the connection on the tenant's page.
    const tenant = (await tenantCall(key, "GET", "/tenant")).body;
    const operator = await newPage(browser);
    await operator.goto(`${env.base}/console`);
    await operator.getByLabel("Operator token").fill(env.operatorToken);
    await operator.keyboard.press("Enter");
    await operator.locator("#operator-name", { hasText: "browser-test" }).waitFor();
    await operator.goto(`${env.base}/console#/tenants/${encodeURIComponent(tenant.id)}`);
    const connections = operator.getByRole("table", { name: new RegExp(`Connections of ${COMPANY}`) });
    await connections.getByRole("row").filter({ hasText: `${COMPANY} User` }).getByText("active").waitFor();
    const subscriptions = operator.getByRole("table", { name: `Subscriptions of ${COMPANY}` });
    await subscriptions.getByText(id).waitFor();
    await screenshot(operator, "connections", "console");
    assert.deepEqual(operator.errors, []);
    await operator.context().close();

    // 7. Microsoft revokes the user's sessions: the next use of the connection (a second
    // subscription) fails its refresh, and the connection needs its user again.
    await emulator("POST", `/tenants/${TENANT}/users/${USER}/revoke-sessions`);
    const refused = await tenantCall(key, "POST", "/subscriptions", {
      resource: RESOURCE, change_types: ["updated"], connection_id: id,
    });
    assert.equal(refused.status, 409, JSON.stringify(refused.body));
    await emulator("PATCH", "/behaviour", { token_lifetime_secs: lifetime });
    await nav.getByRole("link", { name: "Connections" }).click();
    await page.getByRole("heading", { name: "Connections", level: 1 }).waitFor();
    await row.getByText("reauthorization required", { exact: true }).waitFor();
    await page.getByRole("heading", { name: "Needs its user again" }).waitFor();
    // At 1280 px its row's Reconnect is in full view, and the table does not scroll sideways.
    const again = row.getByRole("button", { name: `Reconnect ${COMPANY} User` });
    const { right, window, overflow } = await placement(again);
    assert.ok(right <= window, `Reconnect ends at ${right} px, in a ${window} px window`);
    assert.equal(overflow, 0, "the connections table does not scroll sideways");
    await screenshot(page, "connections", "needs-its-user");

    // Reconnect gives a new link; the same user signs in with it and the connection is active.
    await again.click();
    await page.getByRole("heading", { name: `Sign-in link to restore ${COMPANY} User` }).waitFor();
    const restore = (await page.locator("#auth-url").textContent()).trim();
    const returning = await newPage(browser);
    try {
      await emulator("PATCH", "/behaviour", { auto_sign_in_user: USER });
      await returning.goto(restore);
      await returning.getByRole("heading", { name: "Connected" }).waitFor();
    } finally {
      await emulator("PATCH", "/behaviour", { auto_sign_in_user: null });
    }
    await returning.context().close();
    await refreshUntil(page, row.getByText("active", { exact: true }), "the connection is active again");
    await screenshot(page, "connections", "restored");

    // 8. Delete the connection: it asks first, and takes its subscription with it.
    await nav.getByRole("link", { name: "Connections" }).click();
    await page.getByRole("heading", { name: "Connections", level: 1 }).waitFor();
    await row.getByRole("button", { name: "Delete" }).click();
    await row.getByText("Delete it and every subscription made through it?").waitFor();
    await row.getByRole("button", { name: "Yes, delete" }).click();
    await page.getByText(`Connection of ${COMPANY} User deleted, with its subscriptions.`).waitFor();
    await page.getByText("No connections yet.").waitFor();
    assert.equal((await tenantCall(key, "GET", `/connections/${id}`)).status, 404);
    const after = await tenantCall(key, "GET", "/subscriptions");
    const left = after.body.data.filter((s) => s.connection_id === id && s.status !== "deleted");
    assert.deepEqual(left, [], "its subscriptions are deleted too");
    await screenshot(page, "connections", "deleted");

    // 9. No script error and no CSP violation on the way.
    assert.deepEqual(page.errors, []);
  } finally {
    await emulator("PATCH", "/behaviour", { token_lifetime_secs: lifetime, auto_sign_in_user: null });
    await browser.close();
  }
});
