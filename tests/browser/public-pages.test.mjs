// The public pages, as a first-time visitor meets them: the landing page and every page it links
// to, the service status, onboarding and its error page, the guide and both API references. None
// scrolls sideways on a phone (390 px) or a laptop (1280 px); the references render their
// descriptions' markdown, a table of contents that jumps to each operation, and examples.

import { test } from "node:test";
import assert from "node:assert/strict";
import { env, fitsEveryWidth, newPage, screenshot, withBrowser } from "./lib.mjs";

/** What the landing page must link to: every page a tenant, a developer or an operator needs. */
const LANDING_LINKS = ["/onboarding", "/portal", "/console", "/docs", "/api/docs", "/admin/docs", "/status"];

test("the landing page links to every page, and each link answers 200", withBrowser(async (browser) => {
  const page = await newPage(browser);
  await page.goto(`${env.base}/`);
  const text = await page.locator("main").innerText();
  assert.doesNotMatch(text, /\bfollows?\b/, "it describes what exists, not what follows");
  const hrefs = await page.locator("a[href^='/']").evaluateAll((links) => [...new Set(links.map((a) => a.getAttribute("href")))]);
  for (const href of LANDING_LINKS) assert.ok(hrefs.includes(href), `the landing page links to ${href}: ${hrefs}`);
  assert.ok(!hrefs.includes("/readyz"), "service status is a page for people, not the JSON check");
  await screenshot(page, "public", "landing");

  // Follow every link to this site, by clicking it.
  for (const href of hrefs) {
    await page.goto(`${env.base}/`);
    const [response] = await Promise.all([
      page.waitForResponse((r) => r.request().isNavigationRequest() && new URL(r.url()).pathname === href),
      page.locator(`a[href="${href}"]`).first().click(),
    ]);
    assert.equal(response.status(), 200, `${href} answers 200`);
    await page.waitForLoadState("load");
    assert.equal(new URL(page.url()).pathname, href);
  }
  assert.deepEqual(page.errors, []);
}));

test("the service status page shows each check of /readyz, which stays JSON", withBrowser(async (browser) => {
  const ready = await fetch(`${env.base}/readyz`);
  assert.equal(ready.status, 200);
  assert.match(ready.headers.get("content-type"), /^application\/json/);
  const { checks } = await ready.json();

  const page = await newPage(browser);
  await page.goto(`${env.base}/status`);
  await page.locator("#overall").waitFor();
  assert.equal(await page.locator("#overall").textContent(), "All systems are working.");
  const table = page.getByRole("table", { name: "Checks" });
  assert.equal(await table.locator("tbody tr").count(), Object.keys(checks).length);
  for (const service of ["Database", "Job queues", "Microsoft app credential"]) {
    const row = table.getByRole("row").filter({ has: page.getByRole("rowheader", { name: new RegExp(service) }) });
    assert.equal(await row.getByText("working", { exact: true }).count(), 1, `${service} is working`);
  }
  await page.getByRole("button", { name: "Check again" }).click();
  await page.locator("#overall").waitFor();
  await fitsEveryWidth(page, "public", "status");
  assert.deepEqual(page.errors, []);
}));

test("the public pages never scroll sideways on a phone or a laptop", withBrowser(async (browser) => {
  const page = await newPage(browser);
  // [name, path, what shows once it is drawn, whether to save the whole page]: the references
  // are very long, a window's worth of them is enough to look at.
  const pages = [
    ["landing", "/", "h1", true],
    ["onboarding", "/onboarding", "form", true],
    ["guide", "/docs", "h1", true],
    ["api-reference", "/api/docs", "nav.toc", false],
    ["operator-api-reference", "/admin/docs", "nav.toc", false],
  ];
  for (const [name, path, drawn, fullPage] of pages) {
    await page.goto(`${env.base}${path}`);
    await page.locator(drawn).first().waitFor();
    await fitsEveryWidth(page, "public", name, { fullPage });
  }
  // An onboarding error page: a consent return without its state.
  const answer = await page.goto(`${env.base}/onboarding/callback?admin_consent=True&tenant=${"f".repeat(36)}`);
  assert.equal(answer.status(), 400);
  await page.getByRole("heading", { name: "We could not finish connecting your tenant" }).waitFor();
  await fitsEveryWidth(page, "public", "onboarding-error");
  // The 400 itself is logged by the browser as a failed resource; nothing else may be.
  assert.deepEqual(page.errors.filter((e) => !/status of 400/.test(e)), []);
}));

/** The reference at `path`: rendered, with a table of contents and an example request body. */
async function checkReference(browser, path, name, operation, field) {
  const page = await newPage(browser);
  await page.goto(`${env.base}${path}`);
  const toc = page.getByRole("navigation", { name: "Contents" });
  await toc.waitFor();
  await screenshot(page, "public", `${name}-top`, { fullPage: false });

  // Markdown is rendered: no backtick left, and the descriptions' code spans are code.
  const text = await page.locator("main").innerText();
  assert.ok(!text.includes("`"), `${path} shows no raw backticks`);
  assert.ok((await page.locator("#reference .intro code").count()) > 0, "the description's code spans are code");

  // The table of contents lists every operation, and each of its links has a target.
  const operations = await page.locator("section.operation h3").count();
  const links = await toc.locator("ul a").evaluateAll((as) => as.map((a) => a.getAttribute("href")));
  assert.ok(operations >= 10, `${path}: ${operations} operations`);
  assert.equal(links.length, operations);
  const missing = await page.evaluate((ids) => ids.filter((id) => !document.getElementById(id.slice(1))), links);
  assert.deepEqual(missing, []);

  // Following one jumps to the operation.
  await toc.getByRole("link", { name: operation, exact: true }).click();
  const heading = page.getByRole("heading", { level: 3, name: operation, exact: true });
  const id = await heading.getAttribute("id");
  assert.equal(new URL(page.url()).hash, `#${id}`);
  const top = await heading.evaluate((h) => h.getBoundingClientRect().top);
  assert.ok(top >= -1 && top < 100, `the operation's heading is at the top of the window (${top})`);
  await screenshot(page, "public", `${name}-operation`, { fullPage: false });

  // Its request body has an example, valid JSON with the body's fields.
  const section = page.locator("section.operation").filter({ has: heading });
  const figure = section.locator("figure.example").filter({ hasText: "Example request body" });
  const example = JSON.parse(await figure.locator("pre").textContent());
  assert.ok(field in example, `the example has ${field}: ${JSON.stringify(example)}`);
  assert.equal(await section.locator("figure.example").filter({ hasText: /Example response \(2\d\d\)/ }).count(), 1);
  assert.deepEqual(page.errors, []);
  await page.context().close();
}

test("the API references render markdown, a table of contents and examples, for both APIs", withBrowser(async (browser) => {
  await checkReference(browser, "/api/docs", "api-reference", "POST /api/v1/endpoints", "url");
  await checkReference(browser, "/admin/docs", "operator-api-reference", "POST /admin/v1/tenants/{id}/suspend", "reason");
}));
