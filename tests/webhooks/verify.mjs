// Verifies webhook deliveries with the Standard Webhooks reference library (standardwebhooks, from the npm
// registry), not with pgexport's code. One JSON object a line on stdin: {"secret": "whsec_…", "headers":
// {name: value}, "body": "<the raw body>"}; one line out for each: {"ok": true, "payload": <the verified
// body, parsed>} or {"ok": false, "error": "<why>"}.
import { createRequire } from "node:module";
import { createInterface } from "node:readline";

const { Webhook } = createRequire(import.meta.url)("standardwebhooks");

for await (const line of createInterface({ input: process.stdin })) {
    let answer;
    try {
        const { secret, headers, body } = JSON.parse(line);
        answer = { ok: true, payload: new Webhook(secret).verify(body, headers) };
    } catch (e) {
        answer = { ok: false, error: String(e && e.message ? e.message : e) };
    }
    process.stdout.write(JSON.stringify(answer) + "\n");
}
