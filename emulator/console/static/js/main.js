// The console's entry point: load the manifest and the store, wire the exchange, the sign-in and the activations.
import { getJSON } from "./api.js";
import { $, h } from "./dom.js";
import { refresh as refreshActivations, setupActivations } from "./activations.js";
import { setupExchange } from "./exchange.js";
import { setupSignIn } from "./sign-in.js";
import { renderManifest } from "./manifest.js";
import { loadIntegrations, searchCustomers, setupStore } from "./store.js";

function fail(where, err) {
  $(where).prepend(h("p", { class: "error" }, err.message));
}

async function start() {
  let manifest = { namespace: "", packages: [], graphql: false };
  try {
    manifest = await getJSON("/console/api/manifest");
    renderManifest(manifest);
  } catch (err) { fail("#manifest", err); }
  setupActivations(manifest);
  // After a sign-in (this page is where the provider sends the browser back): its records, its customer.
  const afterSignIn = () => { refreshActivations(); if (manifest.graphql) searchCustomers(); };
  if (!manifest.graphql) {
    $("#exchange").hidden = $("#store").hidden = $("#graphql-link").hidden = true;
    await setupSignIn(manifest, afterSignIn); // it reports its own failures
    document.body.dataset.ready = "true";
    return;
  }
  setupStore();
  // After an exchange: its records, the customer it may have created, and the integrations as the store
  // has them now (one revoked from the command line shows it).
  setupExchange(() => { refreshActivations(); searchCustomers(); loadIntegrations().catch((err) => fail("#exchange", err)); });
  try { await loadIntegrations(); } catch (err) { fail("#exchange", err); }
  await searchCustomers(1); // it reports its own failure
  await setupSignIn(manifest, afterSignIn);
  document.body.dataset.ready = "true";
}

start();
