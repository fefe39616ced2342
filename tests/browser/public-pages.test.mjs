// The public pages, as a first-time visitor meets them. The API references render their
// descriptions' markdown, a table of contents that jumps to each operation, and examples.

import { test } from "node:test";
import assert from "node:assert/strict";
import { env, launch, newPage, screenshot } from "./lib.mjs";

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

test("the API references render markdown, a table of contents and examples, for both APIs", async () => {
  const browser = await launch();
  try {
    await checkReference(browser, "/api/docs", "api-reference", "POST /api/v1/endpoints", "url");
    await checkReference(browser, "/admin/docs", "operator-api-reference", "POST /admin/v1/tenants/{id}/suspend", "reason");
  } finally {
    await browser.close();
  }
});
