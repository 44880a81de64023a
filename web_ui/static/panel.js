/* gymctl studio panel: live feed, station controls, charts.
   Loaded on every page (no inline script: the Content-Security-Policy forbids it). */
(function () {
  "use strict";

  const csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  const body = document.body;
  const page = body.dataset.page || "";

  // -- helpers ---------------------------------------------------------------------------

  async function api(method, url, payload) {
    const init = {
      method,
      credentials: "same-origin",
      headers: { Accept: "application/json", "X-CSRF-Token": csrf },
    };
    if (payload !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(payload);
    }
    let response;
    try {
      response = await fetch(url, init);
    } catch (err) {
      return { ok: false, status: 0, data: { detail: "the controller cannot be reached" } };
    }
    if (response.status === 401) {
      window.location.href = "/login?next=" + encodeURIComponent(window.location.pathname);
    }
    let data = null;
    try {
      data = await response.json();
    } catch (err) {
      data = null;
    }
    return { ok: response.ok, status: response.status, data };
  }

  function text(el, value) {
    if (el && el.textContent !== value) el.textContent = value;
  }

  function loadText(value, unit) {
    if (value === null || value === undefined) return "–";
    return String(Math.round(value * 100) / 100) + " " + (unit || "");
  }

  function setZone(dd, velocity, zone, label) {
    if (!dd) return;
    if (velocity === null || velocity === undefined) {
      text(dd, "–");
      return;
    }
    let chip = dd.querySelector(".zone");
    if (!chip) {
      dd.textContent = "";
      chip = document.createElement("span");
      dd.appendChild(chip);
    }
    chip.className = "zone zone-" + (zone || "none");
    text(chip, Number(velocity).toFixed(2) + " m/s" + (label ? " · " + label : ""));
  }

  const STATE_ICONS = {
    offline: "\u25cb", idle: "\u25cc", checked_in: "\u25cf", set_ready: "\u25c6",
    set_active: "\u25b6", resting: "\u2016", session_done: "\u2713", fault: "\u26a0",
    estopped: "\u25a0",
  };

  function renderAlerts(ul, alerts) {
    if (!ul) return;
    const key = JSON.stringify(alerts);
    if (ul.dataset.key === key) return;
    ul.dataset.key = key;
    ul.textContent = "";
    for (const a of alerts) {
      const li = document.createElement("li");
      li.className = "alert sev-" + a.severity;
      const strong = document.createElement("strong");
      strong.textContent = a.severity.toUpperCase();
      li.appendChild(strong);
      li.appendChild(document.createTextNode(" " + a.message));
      ul.appendChild(li);
    }
  }

  /** Update one station's tile (floor) or the station page from its JSON. */
  function renderStation(root, t) {
    if (root.classList.contains("tile")) {
      root.className = root.className.replace(/\bstate-\S+/g, "").trim() + " state-" + t.state;
      root.classList.toggle("is-safe", !!t.safe);
    }
    root.dataset.state = t.state;
    root.dataset.safe = t.safe ? "true" : "false";
    const badge = root.querySelector('[data-role="state"]');
    if (badge) {
      badge.className = "badge state-" + t.state;
      text(badge.querySelector(".icon"), STATE_ICONS[t.state] || "?");
      if (t.state_label) text(badge.querySelector('[data-role="state-label"]'), t.state_label);
    }
    const f = (name) => root.querySelector('[data-field="' + name + '"]');
    text(f("athlete"), t.athlete_name || t.athlete_id || "–");
    text(f("exercise"), t.exercise ? t.exercise.replace(/_/g, " ") : "–");
    text(
      f("setrep"),
      t.set_index === null || t.set_index === undefined
        ? "–"
        : "set " + (t.set_index + 1) + " · rep " + t.reps + (t.target_reps ? "/" + t.target_reps : "")
    );
    setZone(f("velocity"), t.last_velocity_ms, t.last_zone, t.zone_label);
    let load = t.safe && (t.load === null || t.load === undefined) ? "none · safe state" : loadText(t.load, t.unit);
    if (t.target_load !== null && t.target_load !== undefined && t.target_load !== t.load) {
      load += " → " + loadText(t.target_load, t.unit);
    }
    text(f("load"), load);
    const live = t.live_velocity_ms === null || t.live_velocity_ms === undefined
      ? "–" : Number(t.live_velocity_ms).toFixed(2) + " m/s";
    const liveEl = f("live");
    if (liveEl) text(liveEl, liveEl.tagName === "P" ? "Bar now: " + live : live);
    text(f("next"), loadText(t.next_load, t.unit));
    text(f("why"), t.next_load_reason || "–");
    renderAlerts(f("alerts"), t.alerts || []);
    const release = document.querySelector('[data-release="' + t.station_id + '"]');
    if (release) release.hidden = !t.estopped;
    checkEstopPending(t);
  }

  // -- e-stop, measured from the press to the station shown safe --------------------------

  const pendingEstops = new Map();

  function resultEl(stationId) {
    const root = document.querySelector('[data-station="' + stationId + '"]');
    return root ? root.querySelector('[data-field="estop-result"]') : null;
  }

  function checkEstopPending(t) {
    const started = pendingEstops.get(t.station_id);
    if (started === undefined || !t.safe) return;
    pendingEstops.delete(t.station_id);
    const ms = Math.round(performance.now() - started);
    body.dataset.lastEstopMs = String(ms);
    body.dataset.lastEstopStation = t.station_id;
    const el = resultEl(t.station_id);
    if (el) {
      el.dataset.ms = String(ms);
      text(el, "\u25a0 Safe in " + ms + " ms");
    }
  }

  async function estop(stationId, button) {
    pendingEstops.set(stationId, performance.now());
    const el = resultEl(stationId);
    if (el) text(el, "Stopping…");
    const answer = await api("POST", "/api/v1/stations/" + encodeURIComponent(stationId) + "/estop", {});
    if (answer.data && answer.data.station) {
      const root = document.querySelector('[data-station="' + stationId + '"]');
      if (root) applyTile(answer.data.station);
    }
    if (!answer.ok && el) {
      pendingEstops.delete(stationId);
      text(el, "E-stop failed: " + ((answer.data && answer.data.detail) || answer.status) + ". Use the machine's own stop button.");
    }
    if (button) button.focus();
  }

  document.addEventListener("click", (event) => {
    const button = event.target.closest("[data-estop]");
    if (button) {
      event.preventDefault();
      estop(button.dataset.estop, button);
    }
  });

  // -- the live feed ---------------------------------------------------------------------

  const frameTimes = [];
  let frameCount = 0;

  function feedStatus(state, message) {
    const el = document.getElementById("feed-status");
    if (!el) return;
    el.classList.toggle("live", state === "live");
    el.classList.toggle("down", state === "down");
    text(el.querySelector('[data-role="text"]'), message);
  }

  function countFrame() {
    const now = performance.now();
    frameTimes.push(now);
    frameCount += 1;
    while (frameTimes.length && frameTimes[0] < now - 1000) frameTimes.shift();
    body.dataset.feedFrames = String(frameCount);
    body.dataset.feedRate = String(frameTimes.length);
  }

  setInterval(() => {
    const now = performance.now();
    while (frameTimes.length && frameTimes[0] < now - 1000) frameTimes.shift();
    if (feedConnected) feedStatus("live", "live · " + frameTimes.length + " updates/s");
  }, 500);

  let feedConnected = false;
  const handlers = { trace: null, reps: null };

  function applyTile(t) {
    const roots = document.querySelectorAll('[data-station="' + t.station_id + '"]');
    for (const root of roots) {
      if (root.classList.contains("tile") || root.classList.contains("station")) renderStation(root, t);
    }
  }

  function renderSiteAlerts(alerts) {
    const box = document.getElementById("site-alerts");
    if (!box) return;
    box.textContent = "";
    for (const a of alerts) {
      const p = document.createElement("p");
      p.className = "alert sev-" + a.severity;
      const strong = document.createElement("strong");
      strong.textContent = a.severity.toUpperCase();
      p.appendChild(strong);
      p.appendChild(document.createTextNode(" " + a.message));
      box.appendChild(p);
    }
  }

  function connectFeed(stationId) {
    const url = "/api/v1/feed" + (stationId ? "?station=" + encodeURIComponent(stationId) : "");
    const source = new EventSource(url);
    source.addEventListener("open", () => {
      feedConnected = true;
      feedStatus("live", "live");
    });
    source.addEventListener("error", () => {
      feedConnected = false;
      feedStatus("down", "connection lost: retrying…");
    });
    source.addEventListener("stations", (event) => {
      countFrame();
      for (const t of JSON.parse(event.data).stations) applyTile(t);
    });
    source.addEventListener("site", (event) => renderSiteAlerts(JSON.parse(event.data).alerts));
    source.addEventListener("trace", (event) => handlers.trace && handlers.trace(JSON.parse(event.data)));
    source.addEventListener("reps", (event) => handlers.reps && handlers.reps(JSON.parse(event.data)));
    source.addEventListener("signed_out", () => {
      source.close();
      window.location.href = "/login";
    });
    window.addEventListener("pagehide", () => source.close());
  }

  // -- charts (uPlot) ---------------------------------------------------------------------

  function chartWidth(el) {
    return Math.max(240, Math.floor(el.clientWidth || el.parentElement.clientWidth || 300));
  }

  function makeChart(el, opts, data) {
    if (!el || typeof window.uPlot === "undefined") return null;
    const plot = new window.uPlot(Object.assign({ width: chartWidth(el), height: 220 }, opts), data, el);
    if (typeof ResizeObserver !== "undefined") {
      new ResizeObserver(() => plot.setSize({ width: chartWidth(el), height: 220 })).observe(el);
    }
    return plot;
  }

  function stationPage() {
    const root = document.querySelector(".station");
    if (!root) return;
    const stationId = root.dataset.station;
    const unit = root.dataset.unit || "kg";

    let trace = [];
    const traceChart = makeChart(
      document.getElementById("trace-chart"),
      {
        scales: { x: { time: false }, y: { range: [-1.5, 2.0] } },
        axes: [{ label: "s" }, { label: "m/s" }],
        series: [{}, { label: "bar velocity", stroke: "#1d4ed8", width: 2, points: { show: false } }],
        legend: { show: false },
      },
      [[], []]
    );
    handlers.trace = (frame) => {
      trace = frame.reset ? frame.points.slice() : trace.concat(frame.points);
      if (trace.length > 1000) trace = trace.slice(trace.length - 1000);
      if (!traceChart || !trace.length) {
        if (traceChart) traceChart.setData([[], []]);
        return;
      }
      const last = trace[trace.length - 1][0];
      const windowed = trace.filter((p) => p[0] >= last - 10);
      traceChart.setData([windowed.map((p) => p[0] - last), windowed.map((p) => p[1])]);
    };

    const bars = window.uPlot && window.uPlot.paths && window.uPlot.paths.bars
      ? window.uPlot.paths.bars({ size: [0.6, 80] }) : undefined;
    const repsChart = makeChart(
      document.getElementById("reps-chart"),
      {
        scales: {
          x: { time: false, range: (u, min, max) => [Math.min(min, 1) - 0.5, Math.max(max, 3) + 0.5] },
          y: { range: [0, 1.6] },
        },
        axes: [{ label: "rep", incrs: [1], values: (u, ticks) => ticks.map((v) => String(v)) }, { label: "m/s" }],
        series: [{}, { label: "mean velocity", stroke: "#166534", fill: "rgba(22,101,52,0.35)", paths: bars, points: { show: true } }],
        legend: { show: false },
      },
      [[], []]
    );
    const repsBody = document.getElementById("reps-body");
    handlers.reps = (frame) => {
      const reps = frame.reps || [];
      if (repsChart) repsChart.setData([reps.map((r) => r.rep), reps.map((r) => r.velocity)]);
      if (repsBody) {
        repsBody.textContent = "";
        for (const r of reps) {
          const tr = document.createElement("tr");
          const td1 = document.createElement("td");
          td1.textContent = String(r.rep);
          const td2 = document.createElement("td");
          setZone(td2, r.velocity, r.zone, r.zone_label);
          tr.append(td1, td2);
          repsBody.appendChild(tr);
        }
      }
    };

    const dialog = document.getElementById("confirm-dialog");
    function confirmThen(message, action) {
      if (!dialog || typeof dialog.showModal !== "function") {
        if (window.confirm(message)) action();
        return;
      }
      text(document.getElementById("confirm-text"), message);
      dialog.returnValue = "";
      dialog.addEventListener("close", function onClose() {
        dialog.removeEventListener("close", onClose);
        if (dialog.returnValue === "ok") action();
      });
      dialog.showModal();
      document.getElementById("confirm-ok").focus();
    }

    function showResult(el, answer) {
      if (!el) return;
      const data = answer.data || {};
      if (data.result) {
        el.className = "result " + (data.result.accepted ? "accepted" : "refused");
        text(el, (data.result.accepted ? "\u2713 " : "\u2715 ") + data.result.outcome + ": " + data.result.reason);
        if (data.station) applyTile(data.station);
      } else {
        el.className = "result refused";
        const detail = Array.isArray(data.detail) ? data.detail.map((d) => d.msg).join("; ") : data.detail;
        text(el, "\u2715 " + (detail || "refused (" + answer.status + ")"));
      }
    }

    const releaseButton = document.querySelector("[data-release]");
    if (releaseButton) {
      releaseButton.addEventListener("click", () =>
        confirmThen("Release the e-stop of this station? The machine stays unloaded until a load is asked for.", async () => {
          const answer = await api("POST", "/api/v1/stations/" + encodeURIComponent(stationId) + "/release");
          showResult(resultEl(stationId), answer);
        })
      );
    }

    const override = document.getElementById("override-form");
    if (override) {
      override.addEventListener("submit", (event) => {
        event.preventDefault();
        const value = parseFloat(override.elements.value.value);
        const reason = override.elements.reason.value;
        if (!Number.isFinite(value)) return;
        confirmThen(
          "Set the load to " + value + " " + unit + "? The safety envelope may clamp it, ramp it up, or ask the athlete to confirm first.",
          async () => {
            const answer = await api("POST", "/api/v1/stations/" + encodeURIComponent(stationId) + "/load", {
              value, reason, confirm: true,
            });
            showResult(document.getElementById("override-result"), answer);
          }
        );
      });
    }

    const checkin = document.getElementById("checkin-form");
    if (checkin) {
      checkin.addEventListener("submit", async (event) => {
        event.preventDefault();
        const athlete = checkin.elements.athlete_id.value;
        if (!athlete) return;
        const answer = await api("POST", "/api/v1/stations/" + encodeURIComponent(stationId) + "/checkin", { athlete_id: athlete });
        showResult(document.getElementById("checkin-result"), answer);
      });
    }
    const checkout = document.getElementById("checkout");
    if (checkout) {
      checkout.addEventListener("click", async () => {
        const answer = await api("POST", "/api/v1/stations/" + encodeURIComponent(stationId) + "/checkout");
        showResult(document.getElementById("checkin-result"), answer);
      });
    }

    document.addEventListener("keydown", (event) => {
      const tag = (event.target.tagName || "").toLowerCase();
      if (event.shiftKey && (event.key === "E" || event.key === "e") && !["input", "textarea", "select"].includes(tag)) {
        event.preventDefault();
        estop(stationId, document.querySelector('[data-estop="' + stationId + '"]'));
      }
    });

    connectFeed(stationId);
  }

  function athletePage() {
    const dataEl = document.getElementById("chart-data");
    if (!dataEl || typeof window.uPlot === "undefined") return;
    const charts = JSON.parse(dataEl.textContent);
    const day = (d) => Date.parse(d + "T12:00:00Z") / 1000;

    const trend = charts.trend;
    makeChart(
      document.getElementById("trend-chart"),
      {
        scales: { score: { range: [0, 100] }, hrv: { auto: true } },
        axes: [{}, { scale: "score", label: "readiness" }, { scale: "hrv", side: 1, label: "lnRMSSD", grid: { show: false } }],
        series: [
          {},
          { label: "readiness", scale: "score", stroke: "#1d4ed8", width: 2, spanGaps: true },
          { label: "lnRMSSD", scale: "hrv", stroke: "#b45309", width: 2, dash: [6, 4], spanGaps: true },
        ],
      },
      [trend.days.map(day), trend.score, trend.ln_rmssd]
    );

    const profiles = charts.profiles;
    for (const el of document.querySelectorAll(".lvp-chart")) {
      const p = profiles[el.dataset.exercise];
      if (!p) continue;
      const rows = p.points.map((pt) => [pt.load, pt.velocity_ms, null]);
      if (p.fit) {
        const lo = Math.min(...p.points.map((pt) => pt.load));
        const hi = Math.max(p.e1rm || 0, ...p.points.map((pt) => pt.load));
        for (const x of [Math.max(0, lo * 0.8), hi]) rows.push([x, null, null]);
        for (const r of rows) r[2] = p.fit.intercept + p.fit.slope * r[0];
      }
      rows.sort((a, b) => a[0] - b[0]);
      makeChart(
        el,
        {
          scales: { x: { time: false }, y: { range: [0, null] } },
          axes: [{ label: "load (kg)" }, { label: "m/s" }],
          series: [
            {},
            { label: "sets", stroke: "#1d4ed8", paths: () => null, points: { show: true, size: 8, fill: "#1d4ed8" } },
            { label: "fitted line", stroke: "#111827", width: 2, dash: [8, 4], spanGaps: true, points: { show: false } },
          ],
        },
        [rows.map((r) => r[0]), rows.map((r) => r[1]), rows.map((r) => r[2])]
      );
    }

    const names = Object.keys(profiles).filter((n) => profiles[n].history.length);
    if (names.length) {
      const days = Array.from(new Set(names.flatMap((n) => profiles[n].history.map((h) => h.day)))).sort();
      const palette = ["#1d4ed8", "#b91c1c", "#166534", "#7e22ce", "#b45309", "#0f766e"];
      makeChart(
        document.getElementById("e1rm-chart"),
        {
          axes: [{}, { label: "kg" }],
          series: [{}].concat(names.map((n, i) => ({
            label: n.replace(/_/g, " "), stroke: palette[i % palette.length], width: 2, spanGaps: true,
            dash: i % 2 ? [6, 3] : undefined, points: { show: true },
          }))),
        },
        [days.map(day)].concat(names.map((n) => {
          const byDay = new Map(profiles[n].history.map((h) => [h.day, h.e1rm]));
          return days.map((d) => (byDay.has(d) ? byDay.get(d) : null));
        }))
      );
    }
  }

  function dataPage() {
    const form = document.getElementById("erase-form");
    if (!form) return;
    const select = form.elements.athlete_id;
    const typed = form.elements.confirm;
    const button = form.querySelector('button[type="submit"]');
    const sync = () => {
      const option = select.options[select.selectedIndex];
      button.disabled = !option || !option.dataset.name || typed.value.trim() !== option.dataset.name.trim();
    };
    select.addEventListener("change", sync);
    typed.addEventListener("input", sync);
    sync();
  }

  function docsPage() {
    const el = document.getElementById("swagger-ui");
    if (!el || typeof window.SwaggerUIBundle === "undefined") return;
    window.SwaggerUIBundle({
      url: el.dataset.openapi,
      dom_id: "#swagger-ui",
      deepLinking: true,
      requestInterceptor: (request) => {
        request.headers["X-CSRF-Token"] = csrf;
        return request;
      },
    });
  }

  function start() {
    if (page === "floor") connectFeed(null);
    else if (page === "station") stationPage();
    else if (page === "athlete") athletePage();
    else if (page === "data") dataPage();
    else if (page === "docs") docsPage();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
