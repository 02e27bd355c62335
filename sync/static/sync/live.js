// The live page: asks /live/data each second and redraws the picture, the charts and the
// picked order's journey. Text is set with textContent only (product ids are user input).
(function () {
  "use strict";
  const script = document.getElementById("live-script");
  const dataUrl = script.dataset.url;
  const journeyUrl = (id) => script.dataset.journey.replace("00000000-0000-0000-0000-000000000000", id);
  const $ = (selector, root) => (root || document).querySelector(selector);

  function el(tag, text, attrs) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    return node;
  }
  function fill(node, children) {
    node.replaceChildren(...children);
  }
  function set(id, value) {
    const node = document.getElementById(id);
    const text = String(value);
    if (node.textContent !== text) {
      node.textContent = text;
      node.classList.remove("changed");
      void node.offsetWidth; // restart the highlight
      node.classList.add("changed");
    }
  }
  function pairs(dl, entries) {
    fill(dl, entries.flatMap(([k, v]) => [el("dt", k), el("dd", v)]));
  }
  function fmtAge(seconds) {
    return seconds === null || seconds === undefined ? "none" : seconds.toFixed(1) + " s";
  }

  // -- charts ------------------------------------------------------------------------
  function chart(id, label, color) {
    const box = document.getElementById(id);
    return new uPlot(
      {
        width: Math.max(260, (box.clientWidth || 320) - 12),
        height: 160,
        legend: { show: false },
        series: [{}, { label: label, stroke: color, width: 2, fill: color + "22" }],
        axes: [{}, { size: 50 }],
        scales: {
          // The last five minutes (sync/live.py keeps that many), newest on the right.
          x: { time: true, range: (u, min, max) => [(max || Date.now() / 1000) - 300, max || Date.now() / 1000] },
          y: { range: (u, min, max) => [0, Math.max(1, max * 1.1)] },
        },
      },
      [[], []],
      box
    );
  }
  const charts = {
    orderRate: chart("chart-orders", "orders/s", "#417690"),
    applyRate: chart("chart-applies", "decided/s", "#2e7d32"),
    lag: chart("chart-lag", "lag", "#c62828"),
  };

  // -- the picture ---------------------------------------------------------------------
  function drawTopic(section, topicName, topic) {
    $(".topic-name", section).textContent = topicName;
    if (!topic) {
      fill($("tbody", section), [el("tr", null)]);
      return 0;
    }
    $(".group-name", section).textContent = topic.group;
    $(".group-state", section).textContent =
      topic.state.toLowerCase().replace(/_/g, " ") + (topic.protocol === "unknown" ? "" : ", " + topic.protocol + " protocol");
    fill(
      $("tbody", section),
      topic.partitions.map((p) => {
        const row = el("tr", null, { "data-partition": p.partition });
        row.append(
          el("td", p.partition),
          el("td", p.end),
          el("td", p.committed === null ? "none yet" : p.committed),
          el("td", p.lag, p.lag ? { class: "behind" } : {}),
          el("td", p.member || "no member")
        );
        return row;
      })
    );
    const members = $(".members", section);
    if (members) {
      members.textContent =
        topic.members.length === 0
          ? "no member: nobody reads this topic now"
          : topic.members.length + " member(s): " +
            topic.members.map((m) => m.clientId + " → " + (m.partitions.join(", ") || "nothing")).join("; ");
    }
    return topic.lag;
  }

  function draw(data) {
    fill(document.getElementById("problems"), data.problems.map((p) => el("p", "Could not read " + p, { class: "errornote" })));
    const s = data.orders.byStatus;
    set("orders-total", data.orders.total);
    pairs(document.getElementById("orders-by-status"), Object.entries(s).sort());
    if (data.relay.kind === "debezium") {
      // Debezium deletes nothing it has not sent: the rows are gone at once, and its backlog
      // is the log its replication slot still holds.
      const behind = data.relay.connectors.reduce((n, c) => n + (c.lagBytes || 0), 0);
      set("outbox-unsent", behind + " B");
      set("relay-kind", "Debezium on Kafka Connect: the log its slot still holds");
      fill(
        document.getElementById("outboxes"),
        data.relay.connectors.map((c) =>
          el("li", c.name + ": " + c.state + (c.slotActive ? "" : ", slot not read") + ", " + (c.lagBytes === null ? "no slot yet" : c.lagBytes + " bytes of log behind"), c.state === "RUNNING" ? {} : { class: "errornote" })
        )
      );
    } else {
      const unsent = data.outboxes.reduce((n, o) => n + o.unsent, 0);
      set("outbox-unsent", unsent);
      fill(
        document.getElementById("outboxes"),
        data.outboxes.map((o) => el("li", o.outbox + ": " + o.unsent + " unsent (oldest " + fmtAge(o.oldestAgeSeconds) + "), " + o.sent + " sent"))
      );
    }
    set("catalog-lag", drawTopic(document.getElementById("hop-events"), data.flow.events, data.topics[data.flow.events]));
    set("results-lag", drawTopic(document.getElementById("hop-results"), data.flow.results, data.topics[data.flow.results]));
    const decided = (data.ledger["order applied"] || 0) + (data.ledger["order rejected"] || 0);
    set("ledger-decided", decided);
    pairs(document.getElementById("ledger"), Object.entries(data.ledger));
    set("orders-decided", (s.CONFIRMED || 0) + (s.REJECTED || 0));
    set("orders-pending", s.PENDING || 0);

    fill(
      $("#dead-letters tbody"),
      Object.entries(data.deadLetters).map(([topic, n]) => {
        const row = el("tr");
        row.append(el("td", topic), el("td", n, n ? { class: "behind" } : {}));
        return row;
      })
    );
    fill(
      $("#stock tbody"),
      Object.entries(data.stock).map(([product, units]) => {
        const row = el("tr", null, { "data-product": product });
        row.append(el("td", product), el("td", units));
        return row;
      })
    );
    fill(
      document.getElementById("recent-orders"),
      data.recentOrders.map((o) => {
        const link = el("a", o.orderId.slice(0, 8) + "… " + o.qty + " × " + o.productId + " " + o.status, {
          href: "?order=" + o.orderId,
          "data-order": o.orderId,
        });
        link.addEventListener("click", (event) => {
          event.preventDefault();
          pick(o.orderId);
        });
        const item = el("li");
        item.append(link);
        return item;
      })
    );
    for (const [name, plot] of Object.entries(charts)) plot.setData([data.history.t, data.history[name]]);
    document.getElementById("updated").textContent = "updated " + new Date(data.at).toLocaleTimeString();
  }

  // -- an order's journey --------------------------------------------------------------
  const journey = document.getElementById("journey");
  function pick(orderId) {
    journey.dataset.order = orderId;
    history.replaceState(null, "", "?order=" + orderId);
    refreshJourney();
  }
  async function refreshJourney() {
    const orderId = journey.dataset.order;
    if (!orderId) return;
    const response = await fetch(journeyUrl(orderId), { headers: { Accept: "application/json" } });
    if (!response.ok) {
      fill(journey, [el("p", "order " + orderId + ": " + response.status + " " + response.statusText, { class: "errornote" })]);
      return;
    }
    const j = await response.json();
    const table = el("table", null, { class: "journey" });
    const head = el("tr");
    head.append(el("th", "hop"), el("th", "at"), el("th", "since previous"), el("th", "detail"));
    table.append(head);
    for (const hop of j.hops) {
      const row = el("tr", null, { "data-hop": hop.hop, class: hop.at ? "reached" : "waiting" });
      row.append(
        el("td", hop.hop),
        el("td", hop.at ? new Date(hop.at).toLocaleTimeString() + "." + String(new Date(hop.at).getMilliseconds()).padStart(3, "0") : "—"),
        el("td", hop.sinceMs === null ? "" : "+" + hop.sinceMs + " ms"),
        el("td", hop.detail)
      );
      table.append(row);
    }
    const verdict = j.stuckAt ? "waiting at: " + j.stuckAt : "went all the way";
    fill(journey, [
      el("p", j.orderId, { class: "small" }),
      table,
      el("p", verdict, { id: "journey-verdict", class: j.stuckAt ? "behind" : "done" }),
      traceOf(j.trace),
    ]);
  }

  // The order's trace: its id, and the spans Zipkin has as a waterfall (or how to get them).
  function traceOf(trace) {
    const box = el("div", null, { id: "trace" });
    if (!trace) return box;
    box.append(el("p", "trace: " + (trace.traceId || "none"), { id: "trace-id", class: "small" }));
    if (trace.zipkin) {
      const link = el("a", "open in Zipkin", { href: trace.zipkin, target: "_blank", rel: "noopener" });
      box.append(link);
    }
    if (!trace.spans || trace.spans.length === 0) {
      if (trace.hint) box.append(el("p", trace.hint, { id: "trace-hint", class: "small" }));
      return box;
    }
    const total = Math.max(...trace.spans.map((s) => s.startMs + s.durationMs), 1);
    const rows = el("table", null, { class: "waterfall", id: "trace-spans" });
    for (const span of trace.spans) {
      const row = el("tr", null, { "data-service": span.service });
      const bar = el("div", null, { class: "bar" + (span.waitMs > 1000 ? " after-wait" : "") });
      bar.style.marginLeft = (100 * span.startMs) / total + "%";
      bar.style.width = Math.max(0.5, (100 * span.durationMs) / total) + "%";
      const label = (span.waitMs > 1000 ? "waited " + (span.waitMs / 1000).toFixed(1) + " s, then " : "") + span.durationMs + " ms";
      row.append(
        el("td", span.service, { class: "service" }),
        el("td", "\u00a0".repeat(2 * span.depth) + span.name),
        el("td", null, { class: "lane" }),
        el("td", label, { class: "small" })
      );
      row.children[2].append(bar);
      rows.append(row);
    }
    box.append(rows);
    return box;
  }

  async function tick() {
    try {
      const response = await fetch(dataUrl, { headers: { Accept: "application/json" } });
      if (!response.ok) throw new Error(response.status + " " + response.statusText);
      draw(await response.json());
      await refreshJourney();
    } catch (error) {
      document.getElementById("updated").textContent = "could not update: " + error.message;
    } finally {
      setTimeout(tick, 1000);
    }
  }
  tick();
})();
