#!/usr/bin/env node
/**
 * Your site's back end, in Node.js: a signed link to the H5 chat page for a logged-in user (docs/app.md).
 * The same rule as examples/h5_link.py; only Node's own modules (an ES module: `import { h5Link } from ...`).
 *
 *   node examples/h5_link.js --base https://chat.example.com --business-line demo --secret SECRET --user user-42
 */
import crypto from "node:crypto";
import { pathToFileURL } from "node:url";

/** `external_id`, `identity_expires` (unix seconds, `ttl` ahead) and `identity_hash` (hex HMAC-SHA256 of
 * `external_id:identity_expires` with the business line's identity secret). */
export function signedIdentity(secret, externalId, ttl = 600) {
  const expires = Math.floor(Date.now() / 1000) + ttl;
  const hash = crypto.createHmac("sha256", secret).update(`${externalId}:${expires}`, "utf8").digest("hex");
  return { external_id: externalId, identity_expires: String(expires), identity_hash: hash };
}

export function h5Link({ base, businessLine, secret, user, ttl = 600, name = "", email = "" }) {
  const params = new URLSearchParams({ business_line: businessLine, ...signedIdentity(secret, user, ttl) });
  if (name) params.set("name", name);
  if (email) params.set("email", email);
  return `${base.replace(/\/+$/, "")}/h5/?${params}`;
}

function main(argv) {
  const options = {};
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, "").replace(/-([a-z])/g, (_, c) => c.toUpperCase());
    options[key] = argv[i + 1];
  }
  for (const required of ["base", "businessLine", "secret", "user"]) {
    if (!options[required]) {
      console.error("usage: node h5_link.js --base URL --business-line KEY --secret SECRET --user ID [--ttl S] [--name N] [--email E]");
      process.exit(2);
    }
  }
  console.log(h5Link({ ...options, ttl: Number(options.ttl || 600) }));
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) main(process.argv.slice(2));
