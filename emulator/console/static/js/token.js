// A customer token (compact JWS) decoded in the page: header, claims, and its expiry counting down.
// Decoding is not verifying: the signature is shown, not checked (the emulator checks it on use).
import { h, clear, json } from "./dom.js";

function base64url(part) {
  const padded = part.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((part.length + 3) % 4);
  return JSON.parse(new TextDecoder().decode(Uint8Array.from(atob(padded), (c) => c.charCodeAt(0))));
}

export function decode(token) {
  const [header, claims, signature] = token.split(".");
  return { header: base64url(header), claims: base64url(claims), signature };
}

function remaining(seconds) {
  if (seconds <= 0) return "expired";
  const m = Math.floor(seconds / 60), s = seconds % 60;
  return `expires in ${m}:${String(s).padStart(2, "0")}`;
}

// `prefix` names the elements shown (`token-value`, `token-claims`...), one set per place a token is shown.
export function showToken(container, token, prefix = "token") {
  clearInterval(container.expiryTimer);
  if (!token) {
    clear(container, h("p", { class: "muted" }, "No token: the answer carries errors (see below)."));
    return;
  }
  const { header, claims } = decode(token);
  const countdown = h("span", { id: `${prefix}-expiry`, class: "badge" });
  const tick = () => {
    const left = claims.exp - Math.floor(Date.now() / 1000);
    countdown.textContent = remaining(left);
    countdown.classList.toggle("expired", left <= 0);
  };
  tick();
  container.expiryTimer = setInterval(tick, 1000);
  const copy = h("button", { type: "button", onclick: () => navigator.clipboard?.writeText(token) }, "Copy");
  clear(container,
    h("div", { class: "token-line" }, h("code", { id: `${prefix}-value`, class: "token" }, token), copy),
    h("div", { class: "columns" },
      h("div", {}, h("h4", {}, "Header"), h("pre", { id: `${prefix}-header` }, json(header))),
      h("div", {}, h("h4", {}, "Claims ", countdown), h("pre", { id: `${prefix}-claims` }, json(claims)),
        h("p", { class: "muted" },
          `customer ${claims.uid}, issued ${new Date(claims.iat * 1000).toLocaleString()}, ` +
          `expires ${new Date(claims.exp * 1000).toLocaleString()}`))));
}
