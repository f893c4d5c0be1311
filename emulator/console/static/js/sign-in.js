// Sign in with a provider: the OpenID Connect implicit id_token flow, or the code flow with PKCE, against a
// provider ID_PROVIDERS names. The provider sends the browser back to this page, which posts the ID token to
// the sign-in web sequence, as a storefront would, and shows the decoded ID token, the account link, the
// Commerce token and every activation of the call (sign-in's two, and the exchange's four through /graphql).
import { getJSON } from "./api.js";
import { $, h, clear, json } from "./dom.js";
import { decode, showToken } from "./token.js";
import { renderTimeline } from "./timeline.js";

const PENDING = "console.sign-in"; // sessionStorage: what the way back needs (state, nonce, PKCE verifier)
const ACTIVATION_HEADER = "x-openwhisk-activation-id";

function base64url(bytes) {
  return btoa(String.fromCharCode(...new Uint8Array(bytes))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

const random = (size = 32) => base64url(crypto.getRandomValues(new Uint8Array(size)));

async function challengeOf(verifier) {
  return base64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
}

function fail(message) {
  const error = $("#sign-in-error");
  error.textContent = message;
  error.hidden = false;
}

export async function setupSignIn(manifest, onDone) {
  const section = $("#sign-in");
  if (!manifest.packages.some((p) => p.name === "social-login")) {
    section.hidden = $("#sign-in-link").hidden = true;
    return;
  }
  const path = `/api/v1/web/${manifest.namespace}/social-login/sign-in`;
  $("#sign-in-path").textContent = path;
  let providers = [];
  try {
    providers = (await getJSON("/console/api/providers")).providers;
  } catch (err) { fail(err.message); }
  const select = $("#sign-in-provider");
  clear(select, providers.map((p) => h("option", { value: p.name }, `${p.name} (${p.issuer})`)));
  const clients = () => {
    const chosen = providers.find((p) => p.name === select.value);
    clear($("#sign-in-client"), (chosen?.client_ids || []).map((id) => h("option", { value: id }, id)));
  };
  select.addEventListener("change", clients);
  clients();
  $("#sign-in-none").hidden = providers.length > 0;
  $("#sign-in-run").disabled = providers.length === 0;
  $("#sign-in-form").addEventListener("submit", (event) => {
    event.preventDefault();
    start(new FormData(event.target)).catch((err) => fail(err.message));
  });
  await finish(path, onDone).catch((err) => fail(err.message));
}

// To the provider: its authorization endpoint, with a fresh state and nonce (and a PKCE challenge).
async function start(data) {
  $("#sign-in-error").hidden = true;
  const provider = data.get("provider");
  const endpoints = await getJSON(`/console/api/providers/${encodeURIComponent(provider)}`);
  const flow = data.get("flow");
  const pending = {
    provider, flow, clientId: data.get("client_id"), redirectUri: `${location.origin}/`,
    state: random(), nonce: random(), verifier: random(48), tokenEndpoint: endpoints.token_endpoint,
    store: (data.get("store") || "").trim(),
    customer: Object.fromEntries(["firstname", "lastname"].map((k) => [k, (data.get(k) || "").trim()]).filter(([, v]) => v)),
  };
  const params = new URLSearchParams({
    client_id: pending.clientId, redirect_uri: pending.redirectUri, scope: "openid email profile",
    state: pending.state, nonce: pending.nonce, response_type: flow === "code" ? "code" : "id_token",
    response_mode: flow === "code" ? "query" : "fragment",
  });
  if (flow === "code") {
    params.set("code_challenge", await challengeOf(pending.verifier));
    params.set("code_challenge_method", "S256");
  }
  sessionStorage.setItem(PENDING, JSON.stringify(pending));
  location.assign(`${endpoints.authorization_endpoint}?${params}`);
}

// Back from the provider: the ID token in the fragment, or a code in the query to exchange for one.
async function finish(path, onDone) {
  const fragment = new URLSearchParams(location.hash.slice(1));
  const query = new URLSearchParams(location.search);
  const answer = fragment.has("state") ? fragment : query.has("state") ? query : null;
  if (!answer) return;
  history.replaceState(null, "", `${location.pathname}#sign-in`); // out of the address bar and the history
  const pending = JSON.parse(sessionStorage.getItem(PENDING) || "null");
  sessionStorage.removeItem(PENDING);
  $("#sign-in").scrollIntoView();
  if (!pending || answer.get("state") !== pending.state) {
    throw new Error("The provider's answer matches no sign-in started from this page (state): start again.");
  }
  if (answer.get("error")) {
    throw new Error(`The provider refused: ${answer.get("error")} ${answer.get("error_description") || ""}`);
  }
  let idToken = answer.get("id_token");
  if (pending.flow === "code") {
    const response = await fetch(pending.tokenEndpoint, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded", Accept: "application/json" },
      body: new URLSearchParams({
        grant_type: "authorization_code", code: answer.get("code"), redirect_uri: pending.redirectUri,
        client_id: pending.clientId, code_verifier: pending.verifier,
      }),
    });
    const tokens = await response.json();
    if (!response.ok || !tokens.id_token) {
      throw new Error(`The token endpoint answered HTTP ${response.status}: ${tokens.error || ""} ${tokens.error_description || ""}`);
    }
    idToken = tokens.id_token;
  }
  if (!idToken) throw new Error("The provider sent no ID token back.");
  await signIn(path, pending, idToken);
  onDone?.();
}

async function signIn(path, pending, idToken) {
  const { header, claims } = decode(idToken);
  $("#sign-in-result").hidden = false;
  $("#id-token-header").textContent = json(header);
  $("#id-token-claims").textContent = json(claims);
  const body = { provider: pending.provider, id_token: idToken, nonce: pending.nonce };
  if (Object.keys(pending.customer).length) body.customer = pending.customer;
  const response = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...(pending.store ? { Store: pending.store } : {}) },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  let answer;
  try { answer = JSON.parse(text); } catch { answer = text; }
  showLink(answer);
  showToken($("#sign-in-token"), answer?.token, "sign-in-token");
  $("#sign-in-answer").textContent = `HTTP ${response.status}\n\n${typeof answer === "string" ? answer : json(answer)}`;
  const id = response.headers.get(ACTIVATION_HEADER);
  const records = id ? (await getJSON(`/console/api/activations/${id}/timeline`)).items : [];
  renderTimeline($("#sign-in-timeline"), records);
}

function showLink(answer) {
  const link = answer?.link;
  const error = answer?.errors?.[0];
  clear($("#sign-in-link-decision"), link
    ? h("p", { dataset: { new: String(link.new) } },
      link.new ? "First sign-in of this subject: now linked to " : `Linked since ${link.linked_at} to `,
      h("strong", {}, link.email), ` (subject ${link.subject} of ${link.issuer}).`)
    : h("p", { class: "error" }, error ? `Refused: ${error.extensions?.code} — ${error.message}` : "No answer."));
}
