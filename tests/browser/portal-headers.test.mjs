// Custom endpoint headers in the tenant portal: a value is typed once, never shown again (the
// form shows the mask), and saving the form with the mask left as it is keeps the value, while a
// header typed anew replaces its value. The receiver sees the real values.

import { test } from "node:test";
import assert from "node:assert/strict";
import {
  eventually,
  launch,
  portalOfNewTenant,
  screenshot,
  startReceiver,
} from "./lib.mjs";

const TENANT = "8d2f4a61-3c7e-4b95-a0d8-6e1f2b9c7a34";
const TOKEN = "Bearer portal-7c1e9d42a5b0";
const MASK = "********";

test("custom headers are shown masked and the mask saved back keeps their values", async () => {
  const browser = await launch();
  const receiver = await startReceiver();
  try {
    const { page } = await portalOfNewTenant(browser, "headers", "Litware", TENANT);

    // Register with two headers.
    await page.getByLabel("Endpoint URL").fill(receiver.url);
    await page.getByText("More options").click();
    await page.getByLabel("Custom headers (optional)").fill(`Authorization: ${TOKEN}\nX-Team: blue`);
    await page.getByRole("button", { name: "Register endpoint" }).click();
    await page.getByRole("heading", { name: "Endpoint registered" }).waitFor();
    const challenge = receiver.received.find((r) => r.json?.type === "endpoint.verification");
    assert.equal(challenge.headers.authorization, TOKEN);

    // The endpoint's page shows the names, and the form only the mask.
    const row = page.getByRole("row").filter({ hasText: receiver.url });
    await row.getByRole("link", { name: `Manage ${receiver.url}` }).click();
    await page.getByRole("heading", { name: "Health" }).waitFor();
    const form = page.locator("form").filter({ has: page.getByRole("heading", { name: "Change this endpoint" }) });
    await form.getByText("More options").click();
    const headers = form.getByLabel("Custom headers (optional)");
    assert.equal(await headers.inputValue(), `authorization: ${MASK}\nx-team: ${MASK}`);
    assert.ok(!(await page.content()).includes(TOKEN), "the value is nowhere on the page");
    await screenshot(page, "headers", "masked");

    // Change one header, leave the other masked, save.
    await headers.fill(`authorization: ${MASK}\nx-team: green`);
    await form.getByRole("button", { name: "Save changes" }).click();
    await page.getByText(/^Saved\. The endpoint is/).waitFor();

    // The test event carries the kept value and the new one.
    await page.getByRole("button", { name: "Send a test event" }).click();
    await eventually(() => receiver.count("endpoint.test") >= 1, "the receiver got the test event");
    const sent = receiver.received.filter((r) => r.json?.type === "endpoint.test").at(-1);
    assert.equal(sent.headers.authorization, TOKEN);
    assert.equal(sent.headers["x-team"], "green");
    assert.deepEqual(page.errors, []);
  } finally {
    await receiver.close();
    await browser.close();
  }
});
