// What the page tests share: Debian's Chromium launched as this machine allows it, and
// named steps that each leave a screenshot in $CAIRN_ARTIFACTS and count as passed or
// failed, with the page's script errors and failed loads collected on the way.

import { createRequire } from "node:module";
import { mkdirSync } from "node:fs";

const require = createRequire(`${process.env.CAIRN_PAGES_NODE}/`);
const { chromium } = require("playwright-core");

const ARTIFACTS = process.env.CAIRN_ARTIFACTS || "test-artifacts/pages";

/** The browser: no sandbox as root, no background traffic (only 127.0.0.1 is reachable). */
export async function launch() {
  return chromium.launch({
    executablePath: process.env.CAIRN_CHROMIUM || "/usr/bin/chromium",
    args: [
      "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
  });
}

/** Named steps of one page's test. */
export class Steps {
  constructor(name, page) {
    this.name = name;
    this.page = page;
    this.passed = 0;
    this.failed = 0;
    this.problems = [];
    mkdirSync(ARTIFACTS, { recursive: true });
    page.on("pageerror", (e) => this.problems.push(`page error: ${e.message}`));
    page.on("console", (m) => m.type() === "error" && this.problems.push(`console: ${m.text()}`));
  }

  async run(title, fn) {
    try {
      await fn();
      this.passed++;
      console.log(`ok - ${this.name}: ${title}`);
    } catch (e) {
      this.failed++;
      console.log(`not ok - ${this.name}: ${title}\n  ${String(e.stack || e).split("\n").join("\n  ")}`);
    }
    const n = String(this.passed + this.failed).padStart(2, "0");
    const file = `${ARTIFACTS}/${this.name}-${n}-${title.replace(/[^a-z0-9]+/gi, "-")}.png`;
    await this.page.screenshot({ path: file, fullPage: true }).catch(() => {});
  }

  report() {
    console.log(`${this.passed} passed, ${this.failed} failed`);
    process.exitCode = this.failed ? 1 : 0;
  }
}
