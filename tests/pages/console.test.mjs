// The console end to end, in Debian's headless Chromium driven by playwright-core: create a
// queue, post from the page and from outside it and watch the depth change live, open a
// message's history, claim, delete, filter the tail, purge and delete the queue. A
// screenshot of each step goes to $CAIRN_ARTIFACTS. Prints `N passed, N failed`.
//
//   CAIRN_URL=http://127.0.0.1:8888 node tests/pages/console.test.mjs

import { strict as assert } from "node:assert";
import { launch, Steps } from "./browser.mjs";

const BASE = process.env.CAIRN_URL;
const PROJECT = `console-${Date.now()}`;
const QUEUE = "orders";

/** A REST call from outside the page, as another client of the same project. */
async function rest(method, path, body) {
  const response = await fetch(`${BASE}${path}`, {
    method,
    headers: {
      "Client-ID": "3381af92-2b9e-11e3-b191-71861300734c",
      "X-Project-Id": PROJECT,
      "Content-Type": "application/json",
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}

const browser = await launch();
const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
const steps = new Steps("console", page);
page.on("dialog", (d) => d.accept());
const cell = (col) => page.locator(`#queues tr[data-queue="${QUEUE}"] td[data-col="${col}"]`);
/** Waits until a locator's text is `text`. */
async function expectText(locator, text, timeout = 5000) {
  const deadline = Date.now() + timeout;
  let seen;
  while (Date.now() < deadline) {
    seen = await locator.textContent({ timeout }).catch(() => null);
    if (seen !== null && seen.trim() === text) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`expected "${text}", saw "${seen}"`);
}

try {
  await steps.run("the console loads from the binary", async () => {
    const response = await page.goto(`${BASE}/console`);
    assert.equal(response.status(), 200);
    assert.match(response.headers()["content-security-policy"], /default-src 'none'/);
    assert.equal(await page.title(), "Cairn console");
  });

  await steps.run("connect to a project", async () => {
    await page.fill("#project", PROJECT);
    await page.click("#connect button[type=submit]");
    await page.locator("#status", { hasText: `connected to ${PROJECT}` }).waitFor({ timeout: 5000 });
  });

  await steps.run("create a queue from the page", async () => {
    await page.fill("#new-queue", QUEUE);
    await page.click("#create-queue button[type=submit]");
    await page.locator(`#queues tr[data-queue="${QUEUE}"]`).waitFor({ timeout: 5000 });
    await expectText(cell("total"), "0");
    assert.equal((await rest("GET", `/v2/queues/${QUEUE}/stats`)).status, 200);
  });

  await steps.run("post from the page: the depth changes", async () => {
    await page.fill("#post-body", '{"order": 1}');
    await page.click("#post button[type=submit]");
    await expectText(cell("total"), "1");
    await page.locator("#messages tbody tr").first().waitFor({ timeout: 5000 });
  });

  await steps.run("post from another client: the depth changes live", async () => {
    const posted = await rest("POST", `/v2/queues/${QUEUE}/messages`, {
      messages: [{ body: { order: 2 }, ttl: 600 }],
    });
    assert.equal(posted.status, 201);
    await expectText(cell("total"), "2");
    await expectText(cell("free"), "2");
    await page.locator("#messages tbody tr").nth(1).waitFor({ timeout: 5000 });
  });

  let claimed;
  await steps.run("claim from the page", async () => {
    await page.fill("#claim-limit", "1");
    await page.click("#claim button[type=submit]");
    await page.locator("#claims li").first().waitFor({ timeout: 5000 });
    await expectText(cell("claimed"), "1");
    await expectText(cell("free"), "1");
    const claims = [...new Set(await page.locator("#claims li").evaluateAll((l) => l.map((x) => x.dataset.claim)))];
    assert.equal(claims.length, 1);
    claimed = await page.locator("#messages tbody tr", { has: page.locator("td[title]:not(.body)") })
      .first().getAttribute("data-message");
    assert.ok(claimed, "a message row shows its claim");
  });

  await steps.run("open the claimed message's history", async () => {
    await page.locator(`#messages tr[data-message="${claimed}"] button`, { hasText: "History" }).click();
    await page.locator("#history-panel").waitFor({ state: "visible", timeout: 5000 });
    await page.locator('#history li[data-type="MessagesPosted"]').waitFor({ timeout: 5000 });
    await page.locator('#history li[data-type="MessagesClaimed"]').waitFor({ timeout: 5000 });
  });

  await steps.run("delete the claimed message: its history shows it live", async () => {
    await page.locator(`#messages tr[data-message="${claimed}"] button`, { hasText: "Delete" }).click();
    await page.locator('#history li[data-type="MessagesDeleted"]').waitFor({ timeout: 5000 });
    await expectText(cell("total"), "1");
    await expectText(cell("claimed"), "0");
    const gone = await rest("GET", `/v2/queues/${QUEUE}/messages/${claimed}`);
    assert.equal(gone.status, 404);
  });

  await steps.run("the tail shows the events, and filters them", async () => {
    for (const type of ["QueueCreated", "MessagesPosted", "MessagesClaimed", "MessagesDeleted"]) {
      await page.locator(`#tail li[data-type="${type}"]`).first().waitFor({ timeout: 5000 });
    }
    await page.fill("#filter-type", "claimed");
    const types = await page.locator("#tail li").evaluateAll((l) => l.map((x) => x.dataset.type));
    assert.deepEqual([...new Set(types)], ["MessagesClaimed"]);
    await page.fill("#filter-type", "");
  });

  await steps.run("purge from the page", async () => {
    await page.click("#purge");
    await expectText(cell("total"), "0");
    const listed = await rest("GET", `/v2/queues/${QUEUE}/messages?echo=true`);
    assert.ok(listed.status === 204 || listed.body.messages.length === 0);
  });

  await steps.run("delete the queue from the page", async () => {
    await page.click("#delete-queue");
    await page.locator(`#queues tr[data-queue="${QUEUE}"]`).waitFor({ state: "detached", timeout: 5000 });
    const queues = await rest("GET", "/v2/queues");
    assert.ok(queues.status === 204 || !queues.body.queues.some((q) => q.name === QUEUE));
  });

  await steps.run("a bad request shows Zaqar's error", async () => {
    await page.fill("#new-queue", "no spaces allowed");
    await page.click("#create-queue button[type=submit]");
    await page.locator("#error", { hasText: "400" }).waitFor({ timeout: 5000 });
  });

  await steps.run("no script errors and no blocked resources", async () => {
    assert.deepEqual(steps.problems, []);
  });
} finally {
  await browser.close();
}

steps.report();
