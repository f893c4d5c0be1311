// A small GraphQL editor: document, variables, headers, Run, the JSON answer. Signing is optional:
// the console's server signs the exact body with a store integration (loopback only).
import { getJSON, postJSON } from "./api.js";
import { $, h, json } from "./dom.js";

const EXAMPLES = {
  exchange: {
    query: `mutation Exchange($input: ExchangeExternalCustomerTokenInput!) {
  exchangeExternalCustomerToken(input: $input) {
    customer { email firstname lastname is_subscribed }
    token
  }
}`,
    variables: { input: { customer: { email: "roni_cost@example.com", firstname: "Roni", lastname: "Cost", is_subscribed: false } } },
    headers: {},
    sign: true,
  },
  customer: {
    query: `{
  customer { email firstname lastname is_subscribed }
}`,
    variables: {},
    headers: { Authorization: "Bearer <paste the token here>" },
    sign: false,
  },
};

let lastToken = null;

function load(name) {
  const example = EXAMPLES[name];
  const headers = { ...example.headers };
  if (name === "customer" && lastToken) headers.Authorization = `Bearer ${lastToken}`;
  $("#gql-query").value = example.query;
  $("#gql-variables").value = json(example.variables);
  $("#gql-headers").value = json(headers);
  const sign = $("#gql-sign");
  sign.value = example.sign && sign.options.length > 1 ? sign.options[1].value : "";
}

function parseJSON(id, what) {
  const text = $(id).value.trim();
  if (!text) return {};
  try { return JSON.parse(text); } catch (err) { throw new Error(`${what} are not valid JSON: ${err.message}`); }
}

async function run() {
  const status = $("#gql-status");
  const answer = $("#gql-answer");
  try {
    const variables = parseJSON("#gql-variables", "Variables");
    const headers = { "Content-Type": "application/json", Accept: "application/json", ...parseJSON("#gql-headers", "Headers") };
    const body = JSON.stringify({ query: $("#gql-query").value, variables });
    const integration = $("#gql-sign").value;
    if (integration) {
      const signed = await postJSON("/console/api/sign", { integration: Number(integration), body });
      headers.Authorization = signed.authorization;
    }
    status.textContent = "running…";
    const started = performance.now();
    const response = await fetch("/graphql", { method: "POST", headers, body });
    const text = await response.text();
    const ids = response.headers.get("x-openwhisk-activation-id");
    status.textContent = `HTTP ${response.status} · ${Math.round(performance.now() - started)} ms` +
      (ids ? ` · activation ${ids}` : "");
    let value;
    try { value = JSON.parse(text); } catch { value = null; }
    answer.textContent = value ? json(value) : text;
    lastToken = value?.data?.exchangeExternalCustomerToken?.token || lastToken;
  } catch (err) {
    status.textContent = "";
    answer.textContent = err.message;
  }
}

async function start() {
  try {
    const integrations = await getJSON("/console/api/integrations");
    for (const i of integrations.filter((i) => i.status === "active" && !i.token_revoked)) {
      $("#gql-sign").append(h("option", { value: i.id }, `${i.name} (#${i.id})`));
    }
  } catch { /* not local, or no store: the editor still sends unsigned requests */ }
  $("#gql-example").addEventListener("change", (e) => load(e.target.value));
  $("#gql-run").addEventListener("click", run);
  document.addEventListener("keydown", (e) => { if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) run(); });
  load("exchange");
  document.body.dataset.ready = "true";
}

start();
