// The exchange form: the server signs and sends the mutation; the page shows token, timeline, request, answer.
import { postJSON } from "./api.js";
import { $, json } from "./dom.js";
import { showToken } from "./token.js";
import { renderTimeline } from "./timeline.js";

export function setupExchange(onDone) {
  const form = $("#exchange-form");
  const error = $("#exchange-error");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const button = $("#exchange-run");
    button.disabled = true;
    button.textContent = "Running…";
    error.hidden = true;
    try {
      const result = await postJSON("/console/api/exchange", {
        integration: Number(data.get("integration")),
        customer: {
          email: data.get("email"),
          firstname: data.get("firstname"),
          lastname: data.get("lastname"),
          is_subscribed: data.get("is_subscribed") === "on",
        },
        store: (data.get("store") || "").trim(),
      });
      show(result);
      onDone?.(result);
    } catch (err) {
      error.textContent = err.message;
      error.hidden = false;
    } finally {
      button.disabled = false;
      button.textContent = "Run exchange";
    }
  });
}

function show(result) {
  const body = result.response.body;
  const token = body?.data?.exchangeExternalCustomerToken?.token;
  $("#exchange-result").hidden = false;
  showToken($("#token"), token);
  renderTimeline($("#timeline"), result.timeline);
  const { method, url, headers, body: requestBody } = result.request;
  $("#exchange-request").textContent =
    `${method} ${url}\n` + Object.entries(headers).map(([k, v]) => `${k}: ${v}`).join("\n") +
    `\n\n${json(requestBody)}`;
  $("#exchange-answer").textContent =
    `HTTP ${result.response.status}` +
    (result.activationIds.length ? `\nx-openwhisk-activation-id: ${result.activationIds.join(", ")}` : "") +
    `\n\n${typeof body === "string" ? body : json(body)}`;
}
