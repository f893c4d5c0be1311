// The npm clients users pair the emulator with, driven from the Python tests (tests/interop/conftest.py):
// one JSON request per line on stdin, one JSON answer per line on stdout, until stdin closes.
//   {"op": "sign", "credentials": {...}, "method": "POST", "url": "..."}
//       -> {"authorization": "OAuth ...", "url": the URL as fetch sends it}     (nothing is sent)
//   {"op": "fetch", "credentials": {...}, "method": "POST", "url": "...", "headers": {...}, "body": "..."}
//       -> {"status": 200, "headers": {...}, "body": "..."}                       (signed, then sent)
//   {"op": "openwhisk", "options": {apihost, api_key, namespace}, "call": "actions.invoke", "args": {...}}
//       -> {"result": ...} or {"error": {"message", "statusCode", "error"}}
// Credentials are @adobe/aio-commerce-lib-auth's: consumerKey, consumerSecret, accessToken, accessTokenSecret.
// An openwhisk `args.action` given as {"base64": "..."} is sent as a Buffer (a zip action).
"use strict";

const readline = require("readline");
const openwhisk = require("openwhisk");
const { getIntegrationAuthProvider } = require("@adobe/aio-commerce-lib-auth");

function signed(request) {
  const provider = getIntegrationAuthProvider(request.credentials);
  return provider.getHeaders(request.method, request.url).Authorization;
}

async function answer(request) {
  switch (request.op) {
    case "sign":
      return { authorization: signed(request), url: new URL(request.url).href };
    case "fetch": {
      const headers = { ...request.headers, Authorization: signed(request) };
      const response = await fetch(request.url, { method: request.method, headers, body: request.body });
      return { status: response.status, headers: Object.fromEntries(response.headers), body: await response.text() };
    }
    case "openwhisk": {
      const [resource, method] = request.call.split(".");
      const args = { ...request.args };
      if (args.action && args.action.base64) args.action = Buffer.from(args.action.base64, "base64");
      try {
        return { result: await openwhisk(request.options)[resource][method](args) };
      } catch (error) {
        return { error: { message: error.message, statusCode: error.statusCode, error: error.error } };
      }
    }
    default:
      throw new Error(`unknown op ${request.op}`);
  }
}

const lines = readline.createInterface({ input: process.stdin });
let pending = Promise.resolve();
lines.on("line", (line) => {
  pending = pending.then(async () => {
    let reply;
    try {
      reply = await answer(JSON.parse(line));
    } catch (error) {
      reply = { failure: String(error && error.stack || error) };
    }
    process.stdout.write(JSON.stringify(reply) + "\n");
  });
});
