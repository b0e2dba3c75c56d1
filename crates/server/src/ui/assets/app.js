// bosun's UI: live updates over the API's server-sent events, search as you type, favourites,
// and the actions (which call the same JSON API as the CLI, with the session's CSRF token).
// No framework and no build step. Nothing here writes untrusted text as HTML: values go in with
// textContent; fragments come from the server, rendered and escaped by its templates.
"use strict";

(function () {
  const csrf = document.querySelector('meta[name="csrf-token"]')?.content;
  const favourites = new Set(JSON.parse(localStorage.getItem("bosun.favourites") || "[]"));

  function saveFavourites() {
    localStorage.setItem("bosun.favourites", JSON.stringify([...favourites]));
  }

  function setBadge(element, value) {
    if (!element || !value) return;
    element.textContent = value;
    element.className = "badge " + value.toLowerCase();
  }

  // ---- the list: stars, favourites only, search as you type ----
  function decorateRows() {
    document.querySelectorAll("button[data-star]").forEach((button) => {
      const name = button.dataset.star;
      const on = favourites.has(name);
      button.textContent = on ? "★" : "☆";
      button.setAttribute("aria-pressed", on ? "true" : "false");
    });
    const only = document.getElementById("favourites-only");
    document.querySelectorAll("tr[data-app]").forEach((row) => {
      row.hidden = !!(only && only.checked && !favourites.has(row.dataset.app));
    });
  }

  document.addEventListener("click", (event) => {
    const star = event.target.closest("button[data-star]");
    if (star) {
      const name = star.dataset.star;
      if (favourites.has(name)) favourites.delete(name);
      else favourites.add(name);
      saveFavourites();
      decorateRows();
    }
  });

  const filters = document.getElementById("filters");
  let searchTimer = null;
  async function refreshRows() {
    const params = new URLSearchParams(new FormData(filters));
    const query = params.toString();
    history.replaceState(null, "", "/ui/applications" + (query ? "?" + query : ""));
    params.set("partial", "rows");
    const response = await fetch("/ui/applications?" + params.toString(), { credentials: "same-origin" });
    if (response.ok) {
      document.getElementById("rows").innerHTML = await response.text();
      decorateRows();
    }
  }
  if (filters) {
    filters.addEventListener("input", () => {
      clearTimeout(searchTimer);
      searchTimer = setTimeout(refreshRows, 150);
    });
    filters.addEventListener("submit", (event) => {
      event.preventDefault();
      refreshRows();
    });
    document.getElementById("favourites-only")?.addEventListener("change", decorateRows);
    decorateRows();
  }

  // ---- the Application page: tree or list, actions ----
  const appPage = document.getElementById("app");
  document.addEventListener("change", (event) => {
    if (event.target.id === "tree-as-list") {
      document.getElementById("tree").hidden = event.target.checked;
      document.querySelector("table.resource-list").hidden = !event.target.checked;
    }
  });

  async function act(button) {
    const app = encodeURIComponent(button.dataset.app || "");
    const action = button.dataset.action;
    // A partial sync: the checked resources of the sync form (Argo CD's sync `resources`).
    const selected = action === "sync"
      ? [...document.querySelectorAll("input[data-sync-resource]:checked")].map((box) => ({
          group: box.dataset.group || "",
          kind: box.dataset.kind,
          namespace: box.dataset.namespace || "",
          name: box.dataset.name,
        }))
      : [];
    const confirmText = selected.length > 0
      ? "Sync only " + selected.map((r) => r.kind + " " + (r.namespace ? r.namespace + "/" : "") + r.name).join(", ") +
        " of " + decodeURIComponent(app) + " (no hooks)?"
      : button.dataset.confirm;
    if (confirmText && !window.confirm(confirmText)) return;
    let path = "/api/v1/applications/" + app + "/" + action;
    let body = {};
    if (action === "rollout") {
      path = button.dataset.path;
      body = null;
    }
    if (action === "sync") {
      body = {
        prune: !!document.getElementById("sync-prune")?.checked,
        dryRun: !!document.getElementById("sync-dry-run")?.checked,
      };
      if (selected.length > 0) body.resources = selected;
    } else if (action === "rollback") {
      body = { id: Number(button.dataset.id) };
    }
    const result = document.getElementById("action-result");
    if (result) result.textContent = action + "…";
    button.disabled = true;
    try {
      const response = await fetch(path, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf || "" },
        body: body === null ? "" : JSON.stringify(body),
      });
      const answer = await response.json().catch(() => ({}));
      const what = action === "rollout" ? button.textContent : action;
      const text = response.ok
        ? what + ": " + (answer.operation?.phase || answer.summary?.phase || "done") + (answer.operation?.message ? " — " + answer.operation.message : "")
        : what + " refused: " + (answer.message || response.status);
      if (result) result.textContent = text;
      await reloadApp();
    } finally {
      button.disabled = false;
    }
  }

  document.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-action]");
    if (button) act(button);
  });

  let reloadTimer = null;
  async function reloadApp() {
    if (!appPage) return;
    const kept = document.getElementById("action-result")?.textContent;
    const asList = document.getElementById("tree-as-list")?.checked;
    // What the reader has set in the sync form survives the re-render.
    const key = (box) => [box.dataset.group, box.dataset.kind, box.dataset.namespace, box.dataset.name].join(":");
    const checked = new Set(
      [...document.querySelectorAll("input[data-sync-resource]:checked")].map(key),
    );
    const opened = document.querySelector("details.sync-resources")?.open;
    const options = ["sync-prune", "sync-dry-run"].filter((id) => document.getElementById(id)?.checked);
    const response = await fetch(
      "/ui/applications/" + encodeURIComponent(appPage.dataset.app) + "?partial=main",
      { credentials: "same-origin" },
    );
    if (!response.ok) return;
    appPage.innerHTML = await response.text();
    const result = document.getElementById("action-result");
    if (result && kept) result.textContent = kept;
    document.querySelectorAll("input[data-sync-resource]").forEach((box) => {
      box.checked = checked.has(key(box));
    });
    const details = document.querySelector("details.sync-resources");
    if (details && opened) details.open = true;
    options.forEach((id) => {
      const box = document.getElementById(id);
      if (box) box.checked = true;
    });
    const toggle = document.getElementById("tree-as-list");
    if (toggle && asList) {
      toggle.checked = true;
      toggle.dispatchEvent(new Event("change", { bubbles: true }));
    }
  }

  // At most one re-render every 300 ms however fast events come (a debounce would starve while
  // a Rollout changes steadily); an event during a re-render brings one more after it.
  function scheduleReload() {
    if (reloadTimer !== null) return;
    reloadTimer = setTimeout(() => {
      reloadTimer = null;
      reloadApp();
    }, 300);
  }

  // ---- live: the API's event streams ----
  // An Application's page also follows its Rollouts in full: weights, pods, every measurement.
  if (csrf && appPage) {
    const rollouts = new EventSource("/api/v1/stream/rollouts?changes=true");
    rollouts.onmessage = (message) => {
      let event;
      try {
        event = JSON.parse(message.data);
      } catch {
        return;
      }
      const shown = [...document.querySelectorAll("section.rollout[data-rollout]")].some((section) =>
        section.dataset.rollout === event.name &&
        section.dataset.namespace === event.namespace &&
        section.dataset.cluster === event.cluster);
      if (shown) scheduleReload();
    };
  }
  if (csrf && (filters || appPage)) {
    const events = new EventSource("/api/v1/stream/applications");
    events.onmessage = (message) => {
      let event;
      try {
        event = JSON.parse(message.data).result;
      } catch {
        return;
      }
      const app = event && event.application;
      if (!app || !app.metadata) return;
      const name = app.metadata.name;
      if (appPage && appPage.dataset.app === name) {
        scheduleReload();
        return;
      }
      const row = [...document.querySelectorAll("tr[data-app]")].find((r) => r.dataset.app === name);
      if (!row) return;
      if (event.type === "DELETED") {
        row.remove();
        return;
      }
      setBadge(row.querySelector('[data-field="sync"]'), app.status?.sync?.status);
      setBadge(row.querySelector('[data-field="health"]'), app.status?.health?.status);
      const revision = row.querySelector('[data-field="revision"]');
      if (revision) revision.textContent = (app.status?.sync?.revision || "").slice(0, 7);
      const operation = row.querySelector('[data-field="operation"]');
      if (operation) operation.textContent = app.status?.operationState?.phase || "";
    };
  }
})();
