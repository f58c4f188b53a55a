// The API reference page (/docs) in Debian's headless Chromium: it renders every operation
// of /v2/openapi.json, grouped by tag, and its filter narrows them. Screenshots go to
// $CAIRN_ARTIFACTS. Prints `N passed, N failed`.
//
//   CAIRN_URL=http://127.0.0.1:8888 node tests/pages/docs.test.mjs

import { strict as assert } from "node:assert";
import { launch, Steps } from "./browser.mjs";

const BASE = process.env.CAIRN_URL;
const browser = await launch();
const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
const steps = new Steps("docs", page);

try {
  await steps.run("the reference renders every operation", async () => {
    const response = await page.goto(`${BASE}/docs`);
    assert.equal(response.status(), 200);
    const doc = await (await fetch(`${BASE}/v2/openapi.json`)).json();
    let operations = 0;
    for (const item of Object.values(doc.paths)) {
      operations += ["get", "head", "put", "post", "patch", "delete"].filter((m) => item[m]).length;
    }
    await page.locator("#operations details").first().waitFor({ timeout: 5000 });
    assert.equal(await page.locator("#operations details").count(), operations);
    assert.equal(await page.title(), `Cairn ${doc.info.version}`);
    for (const tag of ["Queues", "Messages", "Claims", "Subscriptions", "Topics", "Audit"]) {
      await page.locator("#toc a", { hasText: tag }).first().waitFor({ timeout: 5000 });
    }
  });

  await steps.run("an operation opens on its parameters and answers", async () => {
    const post = page.locator('details[data-path="/v2/queues/{queue_name}/claims"][data-method="post"]');
    await post.locator("summary").click();
    await post.locator("td", { hasText: "wait" }).first().waitFor({ timeout: 5000 });
    await post.locator("p", { hasText: "201:" }).waitFor({ timeout: 5000 });
    await post.locator("pre", { hasText: "grace" }).first().waitFor({ timeout: 5000 });
  });

  await steps.run("the filter narrows the operations", async () => {
    await page.fill("#filter", "history");
    const visible = await page.locator("#operations details:visible").count();
    assert.equal(visible, 2, "the history of a queue's and of a topic's message");
    await page.fill("#filter", "");
  });

  await steps.run("no script errors and no blocked resources", async () => {
    assert.deepEqual(steps.problems, []);
  });
} finally {
  await browser.close();
}
steps.report();
