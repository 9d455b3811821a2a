// ckpt report: renders the page from the JSON document in #report-data. Text only
// (textContent): nothing from the image is ever parsed as markup.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("report-data").textContent);
  var SVGNS = "http://www.w3.org/2000/svg";

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    if (attrs) for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function svgEl(tag, attrs) {
    var e = document.createElementNS(SVGNS, tag);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    return e;
  }
  function body(id) { return document.querySelector("#" + id + " .body"); }
  function plural(n, w) { return n + " " + w + (n === 1 ? "" : "s"); }
  function bytes(n) {
    var u = ["B", "KiB", "MiB", "GiB", "TiB"], k = 0;
    while (n >= 1024 && k < u.length - 1) { n /= 1024; k++; }
    return (k ? n.toFixed(1) : String(n)) + " " + u[k];
  }
  function hex(n) { return "0x" + Number(n).toString(16); }
  // A table of rows (arrays of cells); a cell is text or {text, cls}.
  function table(head, rows, id) {
    var t = el("table", id ? { id: id } : null), tr = el("tr");
    head.forEach(function (h) { tr.appendChild(el("th", null, h)); });
    t.appendChild(tr);
    rows.forEach(function (r) {
      var row = el("tr");
      r.forEach(function (c) {
        if (c !== null && typeof c === "object") row.appendChild(el("td", { "class": c.cls }, c.text));
        else row.appendChild(el("td", null, c));
      });
      t.appendChild(row);
    });
    return t;
  }
  function kv(pairs) {
    return table(["", ""], pairs.filter(function (p) { return p[1] !== undefined && p[1] !== null && p[1] !== ""; }));
  }
  // A horizontal bar chart: items [{label, value, title}], bars scaled to the largest.
  function bars(items, cls, unit) {
    var max = 1, rowH = 16, labelW = 260, barW = 420;
    items.forEach(function (i) { if (i.value > max) max = i.value; });
    var svg = svgEl("svg", { "class": "chart " + cls, width: labelW + barW + 120, height: items.length * rowH + 4 });
    items.forEach(function (i, k) {
      var g = svgEl("g", { "class": "bar", transform: "translate(0," + (k * rowH + 2) + ")" });
      var title = svgEl("title", {}); title.textContent = i.title || (i.label + ": " + i.value);
      g.appendChild(title);
      var t = svgEl("text", { x: labelW - 4, y: 11, "text-anchor": "end" }); t.textContent = i.label;
      g.appendChild(t);
      g.appendChild(svgEl("rect", { x: labelW, y: 1, height: rowH - 4, width: Math.max(1, barW * i.value / max), fill: "#4a7fc1" }));
      var v = svgEl("text", { x: labelW + Math.max(1, barW * i.value / max) + 4, y: 11 });
      v.textContent = unit ? unit(i.value) : String(i.value);
      g.appendChild(v);
      svg.appendChild(g);
    });
    return svg;
  }

  // Summary.
  (function () {
    var s = data.summary, b = body("summary");
    b.appendChild(kv([
      ["image", s.image],
      ["complete", data.complete ? "yes" : "no: " + (data.read_error || "")],
      ["revision", s.revision.id + " (user-cr " + s.revision.commit + ", CHECKPOINT_VERSION " + s.revision.checkpoint_version + ")" + (s.revision.forced ? ", given by the user" : "")],
      ["why", s.revision.reasons.join("; ")],
      ["also reads it", s.revision.also_fits.join(", ")],
      ["arch", s.arch + " (id " + s.arch_id + ", " + s.endian + ")"],
      ["kernel", s.kernel],
      ["kernel note", s.kernel_note],
      ["time", s.time_utc + " (" + s.time + ")"],
      ["uts", [s.uts_release, s.uts_version, s.uts_machine].join(" ")],
      ["flags", s.uflags_names.join(", ") || hex(s.uflags)],
      ["size", bytes(s.size) + " (" + s.size + " bytes)"],
      ["records", s.records],
      ["tasks", s.tasks],
      ["pages", s.pages + " (" + bytes(s.page_bytes) + ")"],
      ["failed checkpoint", s.error_message]
    ]));
  })();

  // Graph: pan and zoom on the SVG's viewBox; a click on a task shows it.
  var svg = document.querySelector("#graph-view > svg");
  var view = document.getElementById("graph-view");
  if (svg) {
    var vb0 = svg.getAttribute("viewBox").split(" ").map(Number), vb = vb0.slice();
    svg.removeAttribute("width"); svg.removeAttribute("height");
    var set = function () { svg.setAttribute("viewBox", vb.join(" ")); };
    var zoom = function (f, cx, cy) {
      if (cx === undefined) { cx = vb[0] + vb[2] / 2; cy = vb[1] + vb[3] / 2; }
      vb[0] = cx - (cx - vb[0]) * f; vb[1] = cy - (cy - vb[1]) * f;
      vb[2] *= f; vb[3] *= f; set();
    };
    var fit = function () {
      // A tall graph opens at the top, at a readable scale.
      var r = view.getBoundingClientRect(), w = vb0[2], h = vb0[3];
      var aspect = r.width > 0 && r.height > 0 ? r.height / r.width : 0.6;
      if (h > w * aspect * 4) vb = [vb0[0], vb0[1], w, w * aspect]; else vb = vb0.slice();
      set();
    };
    fit();
    var toSvg = function (ev) {
      var r = svg.getBoundingClientRect();
      var s = Math.max(vb[2] / r.width, vb[3] / r.height);
      return [vb[0] + (ev.clientX - r.left) * s, vb[1] + (ev.clientY - r.top) * s, s];
    };
    view.addEventListener("wheel", function (ev) {
      ev.preventDefault();
      var p = toSvg(ev);
      zoom(ev.deltaY > 0 ? 1.2 : 1 / 1.2, p[0], p[1]);
    }, { passive: false });
    var drag = null;
    view.addEventListener("mousedown", function (ev) { drag = [ev.clientX, ev.clientY, false]; });
    window.addEventListener("mousemove", function (ev) {
      if (!drag) return;
      var s = toSvg(ev)[2], dx = ev.clientX - drag[0], dy = ev.clientY - drag[1];
      if (Math.abs(dx) + Math.abs(dy) > 2) drag[2] = true;
      vb[0] -= dx * s; vb[1] -= dy * s; drag[0] = ev.clientX; drag[1] = ev.clientY; set();
    });
    window.addEventListener("mouseup", function () { setTimeout(function () { drag = null; }, 0); });
    document.getElementById("zoom-in").addEventListener("click", function () { zoom(1 / 1.5); });
    document.getElementById("zoom-out").addEventListener("click", function () { zoom(1.5); });
    document.getElementById("zoom-fit").addEventListener("click", fit);
    svg.addEventListener("click", function (ev) {
      if (drag && drag[2]) return;
      var n = ev.target.closest ? ev.target.closest("g.node.task") : null;
      if (n) showTask(Number(n.id.slice(1)), false);
    });
  }

  // Per task.
  var byIndex = {};
  data.tasks.forEach(function (t) { byIndex[t.index] = t; });
  var select = document.getElementById("task-select");
  data.tasks.forEach(function (t) {
    select.appendChild(el("option", { value: t.index }, "pid " + t.pid + " " + t.comm));
  });
  select.addEventListener("change", function () { showTask(Number(select.value), false); });

  function memoryChart(m) {
    // One bar per VMA, its length to scale (bytes), the part its saved pages cover filled.
    var rowH = 16, labelW = 340, barW = 460, max = 1;
    m.vmas.forEach(function (v) { if (v.end - v.start > max) max = v.end - v.start; });
    var svg = svgEl("svg", { "class": "chart memory", id: "memory-chart", width: labelW + barW + 140, height: m.vmas.length * rowH + 4 });
    m.vmas.forEach(function (v, k) {
      var size = v.end - v.start, w = Math.max(1, barW * size / max);
      var present = Math.min(w, barW * v.pages * 4096 / max);
      var g = svgEl("g", { "class": "vma", transform: "translate(0," + (k * rowH + 2) + ")" });
      var title = svgEl("title", {});
      title.textContent = hex(v.start) + "-" + hex(v.end) + " " + v.perms + " " + v.type + " " + (v.path || "") + ": " + bytes(size) + ", " + plural(v.pages, "page") + " saved";
      g.appendChild(title);
      var t = svgEl("text", { x: labelW - 4, y: 11, "text-anchor": "end" });
      t.textContent = hex(v.start) + " " + v.perms + " " + (v.path || v.type);
      g.appendChild(t);
      g.appendChild(svgEl("rect", { x: labelW, y: 1, width: w, height: rowH - 4, fill: "#dbe9f6", stroke: "#7a9cc6" }));
      if (v.pages > 0) g.appendChild(svgEl("rect", { "class": "present", x: labelW, y: 1, width: Math.max(1, present), height: rowH - 4, fill: "#1f4e8c" }));
      var s = svgEl("text", { x: labelW + w + 4, y: 11 });
      s.textContent = bytes(size) + ", " + v.pages + " p";
      g.appendChild(s);
      svg.appendChild(g);
    });
    return svg;
  }

  function showTask(index, quiet) {
    var t = byIndex[index], b = body("task");
    if (!t) return;
    select.value = String(index);
    while (b.firstChild) b.removeChild(b.firstChild);
    b.setAttribute("data-pid", t.pid);
    if (svg) {
      var old = svg.querySelector("g.node.task.selected");
      if (old) old.classList.remove("selected");
      var n = document.getElementById("t" + index);
      if (n) n.classList.add("selected");
    }
    b.appendChild(el("h3", null, "pid " + t.pid + " " + t.comm));
    b.appendChild(kv([
      ["state", t.state_name + (t.exit_state_name ? " / " + t.exit_state_name : "")],
      ["parent", t.ppid], ["thread group", t.tgid + " (" + plural(t.threads, "task") + ")"],
      ["process group", t.pgid], ["session", t.sid],
      ["exit signal", t.exit_signal],
      ["tables", Object.keys(t.tables).map(function (k) { return k + " " + t.tables[k]; }).join(", ")]
    ]));
    b.appendChild(el("h3", null, "Ids at every pid namespace level"));
    b.appendChild(table(["level", "pid"], t.pid_levels.map(function (l) { return [l.level, { text: l.pid, cls: "num" }]; }), "task-pids"));
    b.appendChild(el("h3", null, "Credentials"));
    if (t.creds) {
      var c = t.creds;
      b.appendChild(table(["", "real", "effective", "saved", "fs"], [
        ["uid", c.uid, c.euid, c.suid, c.fsuid], ["gid", c.gid, c.egid, c.sgid, c.fsgid]], "task-creds"));
    } else b.appendChild(el("p", { "class": "muted" }, "not recorded"));
    b.appendChild(el("h3", null, "Open files (" + t.files.length + ")"));
    b.appendChild(table(["fd", "type", "path", "what", "cloexec", "object"], t.files.map(function (f) {
      return [{ text: f.fd, cls: "num" }, f.type, f.path || "", f.what, f.close_on_exec ? "yes" : "", f.objref];
    }), "task-files"));
    b.appendChild(el("h3", null, "Memory"));
    if (t.memory) {
      b.appendChild(el("p", null, plural(t.memory.vmas.length, "area") + ", " + plural(t.memory.pages, "page") + " saved (" + bytes(t.memory.pages * 4096) + "), address space " + t.memory.objref));
      b.appendChild(memoryChart(t.memory));
    } else b.appendChild(el("p", { "class": "muted" }, "no address space recorded"));
    b.appendChild(el("h3", null, "Signals"));
    var pend = function (l) { return l.map(function (p) { return p.signal + (p.from_pid ? " from " + p.from_pid : ""); }).join(", "); };
    b.appendChild(kv([["blocked", t.signals.blocked.join(", ") || "none"],
      ["pending", pend(t.signals.pending) || "none"], ["pending (group)", pend(t.signals.shared_pending) || "none"]]));
    b.appendChild(table(["signal", "handler", "flags"], t.handlers.map(function (h) { return [h.signal, h.handler, h.flags]; }), "task-handlers"));
    var regs = el("button", { type: "button", id: "show-registers" }, "Show registers (" + t.registers.length + ")");
    b.appendChild(el("h3", null, "Registers"));
    b.appendChild(regs);
    regs.addEventListener("click", function () {
      regs.replaceWith(table(["register", "value"], t.registers.map(function (r) {
        return [r[0], { text: typeof r[1] === "number" ? hex(r[1]) : JSON.stringify(r[1]), cls: "mono" }];
      }), "task-registers"));
    });
    if (!quiet) document.getElementById("task").scrollIntoView();
  }
  window.ckptShowTask = showTask;
  if (data.tasks.length) showTask(data.tasks[0].index, true);

  // Statistics.
  (function () {
    var st = data.stats, b = body("stats");
    var rec = Object.keys(st.records).map(function (k) { return { label: k, count: st.records[k][0], bytes: st.records[k][1] }; });
    rec.sort(function (a, c) { return c.bytes - a.bytes || (a.label < c.label ? -1 : 1); });
    b.appendChild(el("p", null, "metadata " + bytes(st.metadata_bytes) + ", page contents " + bytes(st.page_bytes)));
    b.appendChild(el("h3", null, "Records by kind"));
    b.appendChild(bars(rec.map(function (r) { return { label: r.label, value: r.count }; }), "records"));
    b.appendChild(el("h3", null, "Bytes by kind"));
    b.appendChild(bars(rec.map(function (r) { return { label: r.label, value: r.bytes }; }), "bytes", bytes));
    var pages = data.tasks.map(function (t, k) { return { label: "pid " + t.pid + " " + t.comm, value: st.pages_per_task[k] || 0 }; });
    pages.sort(function (a, c) { return c.value - a.value; });
    var shown = pages.slice(0, 50);
    b.appendChild(el("h3", null, "Pages per task" + (pages.length > shown.length ? " (the " + shown.length + " with most of " + pages.length + ")" : "")));
    b.appendChild(bars(shown, "pages"));
    var kinds = {};
    Object.keys(st.shared).forEach(function (k) {
      var kind = k.split(" ")[0];
      kinds[kind] = kinds[kind] || { n: 0, tasks: 0 };
      kinds[kind].n++; kinds[kind].tasks += st.shared[k].length;
    });
    b.appendChild(el("h3", null, "Objects shared by several tasks"));
    b.appendChild(bars(Object.keys(kinds).sort().map(function (k) {
      return { label: k, value: kinds[k].n, title: k + ": " + plural(kinds[k].n, "object") + ", " + kinds[k].tasks + " holders in all" };
    }), "shared"));
  })();

  // Check.
  (function () {
    var c = data.check, b = body("check");
    if (!c) { b.appendChild(el("p", { "class": "muted" }, "not checked")); return; }
    if (c.error) { b.appendChild(el("p", { "class": "fail" }, "could not be checked: " + c.error)); return; }
    var r = c.report;
    b.appendChild(el("p", { "class": c.ok ? "ok" : "fail" }, "image " + r.revision + " against " + r.target_revision + " on kernel " + r.target_kernel + ": " +
      (r.checkpoint_failed ? "would not restart: the checkpoint failed: " + r.checkpoint_failed : c.ok ? "would restart" : "would NOT restart")));
    var find = function (f) { return [f.check, f.image, f.target, f.consequence, f.records.join(", ")]; };
    if (r.problems.length) { b.appendChild(el("h3", null, "Problems")); b.appendChild(table(["check", "image", "target", "consequence", "records"], r.problems.map(find), "check-problems")); }
    if (r.warnings.length) { b.appendChild(el("h3", null, "Warnings")); b.appendChild(table(["check", "image", "target", "consequence", "records"], r.warnings.map(find))); }
    if (r.needs.length) { b.appendChild(el("h3", null, "Kernel options needed")); b.appendChild(table(["option", "records"], r.needs.map(function (n) { return [n[0], n[1].join(", ")]; }))); }
    if (r.not_verified.length) { b.appendChild(el("h3", null, "Not verified")); var ul = el("ul"); r.not_verified.forEach(function (n) { ul.appendChild(el("li", null, n)); }); b.appendChild(ul); }
  })();

  // Convert.
  (function () {
    var c = data.convert, b = body("convert");
    if (!c) { b.appendChild(el("p", { "class": "muted" }, "no target given (--to-rev REV or --target-kernel X.Y.Z)")); return; }
    if (c.refused) {
      b.appendChild(el("p", { "class": "fail" }, c.from + " to " + c.to + ": refused: " + c.refused));
    } else {
      b.appendChild(el("p", { "class": "ok" }, c.from + " to " + c.to + " (kernel " + c.kernel + "): steps " + c.path.join(" \u2192 ") +
        "; records read " + c.records[0] + ", written " + c.records[1] + ", changed " + c.records[2]));
    }
    b.appendChild(table(["action", "changes"], Object.keys(c.counts).map(function (k) { return [k, { text: c.counts[k], cls: "num" }]; }), "convert-counts"));
    ["defaulted", "supplied", "dropped", "rewritten", "inserted", "removed", "moved", "renumbered"].forEach(function (a) {
      var list = c.entries[a];
      if (!list || !list.length) return;
      var more = (c.counts[a] || list.length) > list.length ? " (the first " + list.length + " of " + c.counts[a] + ")" : "";
      b.appendChild(el("h3", null, a + more));
      b.appendChild(table(["record", "field", "old", "new", "step", "why"], list.map(function (e) {
        return [e.record + " #" + e.record_index, e.field, e.old === undefined ? "" : JSON.stringify(e.old), e.new === undefined ? "" : JSON.stringify(e.new), e.step || "", e.reason || ""];
      })));
    });
  })();
})();
