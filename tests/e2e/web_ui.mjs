// The web UI in a real browser (Debian's chromium, driven by playwright-core):
// upload a file, see it listed, ask about it, watch the streamed answer, open
// a citation, save a screenshot, delete the document.
//
//   node web_ui.mjs URL FILE QUESTION SCREENSHOT
//
// Prints one JSON object of what the page showed; exits 1 on a failed check.
import { chromium } from "playwright-core";
import path from "node:path";

const [url, file, question, screenshot] = process.argv.slice(2);
const name = path.basename(file);
const browser = await chromium.launch({
  executablePath: process.env.QUARRY_CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu"],
});
const out = { page_errors: [] };
let ok = false;
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on("pageerror", (e) => out.page_errors.push(String(e)));
  page.on("dialog", (d) => d.accept());
  await page.goto(url);

  // Upload: the report says added, the table lists it.
  await page.setInputFiles("#files", file);
  await page.click("#upload button[type=submit]");
  await page.waitForSelector("#upload-report li.added, #upload-report li.replaced", { timeout: 120_000 });
  out.upload = await page.textContent("#upload-report");
  await page.waitForFunction((n) => [...document.querySelectorAll("#documents td")].some((td) => td.textContent.endsWith(n)), name);
  out.stats = await page.textContent("#stats");

  // Ask: streamed into #answer, sources listed, done marked at [DONE].
  await page.fill("#question", question);
  await page.click("#ask-button");
  await page.waitForSelector('#answer[data-done="1"]', { timeout: 300_000 });
  out.answer = await page.textContent("#answer");
  out.sources = await page.$$eval("#sources li", (lis) => lis.map((li) => li.textContent));

  // An inline [n], when the model wrote one, opens passage n.
  const inline = await page.$("#answer a.cite");
  out.inline_opens_its_passage = true;
  if (inline) {
    const n = await inline.getAttribute("data-n");
    await inline.click();
    await page.waitForSelector("#passage:not([hidden])");
    out.inline_passage_title = await page.textContent("#passage-title");
    out.inline_opens_its_passage = out.inline_passage_title.startsWith(`[${n}]`);
  }
  // The uploaded file is among the sources: its [n] in the list opens it.
  // (Which passage the small test model cites inline is its own business.)
  for (const link of await page.$$("#sources a.cite")) {
    await link.click();
    await page.waitForSelector("#passage:not([hidden])");
    out.passage_where = await page.textContent("#passage-where");
    out.passage_text = await page.textContent("#passage-text");
    if (out.passage_where.includes(name)) break;
  }
  await page.screenshot({ path: screenshot, fullPage: true });

  // Delete it again from the table.
  await page.click(`#documents tr:has(td:text-matches("${name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$")) button.delete`);
  await page.waitForFunction((n) => ![...document.querySelectorAll("#documents td")].some((td) => td.textContent.endsWith(n)), name);
  out.deleted = true;

  ok =
    out.upload.includes(`${name}: added`) &&
    out.answer.trim().length > 0 &&
    out.sources.length > 0 &&
    out.inline_opens_its_passage &&
    out.passage_where.includes(name) &&
    out.passage_text.length > 0 &&
    out.page_errors.length === 0;
} catch (e) {
  out.exception = String(e);
} finally {
  await browser.close();
}
console.log(JSON.stringify(out));
process.exit(ok ? 0 : 1);
