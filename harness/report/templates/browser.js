// The sample browser's only script (allowed by hash in the page's CSP). Stored text reaches the page
// through textContent alone: nothing from a sample is ever parsed as markup or run.
(function () {
  "use strict";
  var ROW = 30;
  var BUFFER = 8;
  var SELECTS = ["candidate", "task", "outcome", "class", "unsupported"];
  var NONE = "(none)";
  var el = function (id) { return document.getElementById(id); };
  var controls = {
    candidate: el("f-candidate"), task: el("f-task"), outcome: el("f-outcome"), class: el("f-class"),
    unsupported: el("f-unsupported"), search: el("f-search")
  };
  var data = null, pairs = [], shown = [], selected = -1, choices = {}, haystacks = null;

  function node(tag, cls, text) {
    var n = document.createElement(tag);
    if (cls) { n.className = cls; }
    if (text !== undefined) { n.textContent = text; }
    return n;
  }

  async function load() {
    var holder = el("pairs-data");
    if (holder.type === "application/json") { return JSON.parse(holder.textContent); }
    var text = holder.textContent.trim();
    var binary = atob(text);
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) { bytes[i] = binary.charCodeAt(i); }
    var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    return JSON.parse(await new Response(stream).text());
  }

  function value(p, key) {
    if (key === "candidate") { return data.candidates[p.c]; }
    if (key === "task") { return p.t; }
    if (key === "outcome") { return p.o; }
    if (key === "class") { return p.cc; }
    return p.u || NONE;
  }

  function haystack(i) {
    if (!haystacks) { haystacks = new Array(pairs.length); }
    if (haystacks[i] === undefined) {
      var p = pairs[i], parts = [p.p];
      [p.r, p.b, p.a].forEach(function (blocks) { blocks.forEach(function (b) { parts.push(b[1]); }); });
      haystacks[i] = parts.join("\n").toLowerCase();
    }
    return haystacks[i];
  }

  function wanted() {
    var w = {};
    SELECTS.forEach(function (key) { w[key] = controls[key].value; });
    w.q = controls.search.value.trim().toLowerCase();
    return w;
  }

  // One pass: the pairs that pass every filter, and per select the counts of its options among the
  // pairs that pass all the other filters (so each option says what choosing it would show).
  function apply() {
    var w = wanted(), counts = {};
    SELECTS.forEach(function (key) { counts[key] = {}; });
    shown = [];
    for (var i = 0; i < pairs.length; i++) {
      var p = pairs[i], failed = null, fails = 0;
      if (w.q && haystack(i).indexOf(w.q) < 0) { continue; }
      for (var k = 0; k < SELECTS.length; k++) {
        var key = SELECTS[k];
        if (w[key] !== "" && value(p, key) !== w[key]) { fails++; failed = key; if (fails > 1) { break; } }
      }
      if (fails === 0) {
        shown.push(i);
        SELECTS.forEach(function (key) { var v = value(p, key); counts[key][v] = (counts[key][v] || 0) + 1; });
      } else if (fails === 1) {
        var v = value(p, failed);
        counts[failed][v] = (counts[failed][v] || 0) + 1;
      }
    }
    SELECTS.forEach(function (key) { label(key, counts[key]); });
    el("count").textContent = shown.length + " of " + pairs.length + " pairs";
    el("spacer").style.height = (shown.length * ROW) + "px";
  }

  function label(key, counts) {
    var options = controls[key].options, total = 0;
    for (var i = 1; i < options.length; i++) {
      var n = counts[options[i].value] || 0;
      total += n;
      options[i].textContent = options[i].value + " (" + n + ")";
    }
    options[0].textContent = "all (" + total + ")";
  }

  function fill(key, values) {
    var select = controls[key];
    select.appendChild(node("option", "", "all"));
    select.options[0].value = "";
    values.forEach(function (v) { var o = node("option", "", v); o.value = v; select.appendChild(o); });
    choices[key] = values;
  }

  function distinct(key, order) {
    var seen = {};
    pairs.forEach(function (p) { seen[value(p, key)] = true; });
    var values = Object.keys(seen);
    return order ? order.filter(function (v) { return seen[v]; }) : values.sort();
  }

  function renderRows() {
    var list = el("list"), spacer = el("spacer");
    var first = Math.max(0, Math.floor(list.scrollTop / ROW) - BUFFER);
    var last = Math.min(shown.length, Math.ceil((list.scrollTop + list.clientHeight) / ROW) + BUFFER);
    spacer.textContent = "";
    var many = data.candidates.length > 1;
    for (var i = first; i < last; i++) {
      var p = pairs[shown[i]];
      var row = node("div", i === selected ? "row sel" : "row");
      row.style.top = (i * ROW) + "px";
      row.dataset.index = String(i);
      row.appendChild(node("span", "badge o-" + p.o.replace(" ", "-"), p.o));
      row.appendChild(node("span", "meta", (many ? data.candidates[p.c] + " · " : "") + p.t + " #" + p.d));
      row.appendChild(document.createTextNode(p.p));
      spacer.appendChild(row);
    }
  }

  function blocks(parent, list) {
    list.forEach(function (b) {
      var box = node("div", "block");
      if (b[0] || b[1] === "") { box.appendChild(node("div", "label", b[0] + (b[1] === "" ? " (empty)" : ""))); }
      if (b[1] !== "") { box.appendChild(node("pre", "", b[1])); }
      parent.appendChild(box);
    });
  }

  function diffBlock(parent, runs) {
    if (runs === null) { parent.appendChild(node("p", "empty", "An answer is too long for a word diff.")); return; }
    var pre = node("pre", "diff");
    runs.forEach(function (r) {
      pre.appendChild(r[0] === "=" ? document.createTextNode(r[1]) : node(r[0] === "-" ? "del" : "ins",
        r[0] === "-" ? "del" : "ins", r[1]));
    });
    parent.appendChild(pre);
  }

  function renderDetail() {
    var box = el("detail");
    box.textContent = "";
    if (selected < 0 || selected >= shown.length) { box.appendChild(node("p", "empty", "No pair selected.")); return; }
    var p = pairs[shown[selected]], name = data.candidates[p.c];
    box.appendChild(node("h2", "", p.t + " · doc " + p.d + " · " + name + " " + p.o + " against " + data.baseline +
      (p.u ? " · unsupported: " + p.u : "")));
    box.appendChild(node("h3", "", "Request"));
    blocks(box, p.r);
    var sides = node("div", "sides");
    [[data.baseline + " (incumbent)", p.b], [name + " (candidate)", p.a]].forEach(function (s) {
      var col = node("section", "side");
      col.appendChild(node("h3", "", s[0]));
      blocks(col, s[1]);
      sides.appendChild(col);
    });
    box.appendChild(sides);
    box.appendChild(node("h3", "", "Word diff, incumbent → candidate"));
    diffBlock(box, p.x);
    if (p.j.length) { box.appendChild(node("h3", "", "Judge")); blocks(box, p.j); }
    box.scrollTop = 0;
  }

  function remember() {
    var w = wanted(), params = new URLSearchParams();
    SELECTS.forEach(function (key) { if (w[key]) { params.set(key, w[key]); } });
    if (controls.search.value) { params.set("q", controls.search.value); }
    if (selected >= 0 && selected < shown.length) { params.set("pair", pairs[shown[selected]].k); }
    history.replaceState(null, "", "#" + params.toString());
  }

  function select(i) {
    selected = shown.length ? Math.max(0, Math.min(i, shown.length - 1)) : -1;
    var list = el("list");
    if (selected >= 0) {
      var top = selected * ROW;
      if (top < list.scrollTop) { list.scrollTop = top; }
      if (top + ROW > list.scrollTop + list.clientHeight) { list.scrollTop = top + ROW - list.clientHeight; }
    }
    renderRows();
    renderDetail();
    remember();
  }

  function changed() {
    var key = selected >= 0 && selected < shown.length ? pairs[shown[selected]].k : null;
    performance.mark("pairs-filter-start");
    apply();
    var at = key === null ? -1 : shown.findIndex(function (i) { return pairs[i].k === key; });
    select(at >= 0 ? at : 0);
    performance.measure("pairs-filter", "pairs-filter-start");
  }

  function restore() {
    var params = new URLSearchParams(location.hash.slice(1));
    SELECTS.forEach(function (key) {
      var v = params.get(key) || "";
      controls[key].value = v && choices[key].indexOf(v) >= 0 ? v : "";
    });
    controls.search.value = params.get("q") || "";
    apply();
    var key = params.get("pair");
    var at = key === null ? 0 : shown.findIndex(function (i) { return pairs[i].k === key; });
    select(at >= 0 ? at : 0);
  }

  function keys(event) {
    var typing = event.target === controls.search || event.target.tagName === "SELECT";
    if (event.key === "Escape" && typing) { event.target.blur(); return; }
    if (typing || event.altKey || event.ctrlKey || event.metaKey) { return; }
    if (event.key === "j" || event.key === "ArrowDown") { select(selected + 1); event.preventDefault(); }
    else if (event.key === "k" || event.key === "ArrowUp") { select(selected - 1); event.preventDefault(); }
    else if (event.key === "/") { controls.search.focus(); event.preventDefault(); }
  }

  async function start() {
    try {
      data = await load();
    } catch (error) {
      el("count").textContent = "This browser cannot open the page's data (" + error + ").";
      return;
    }
    pairs = data.pairs;
    fill("candidate", data.candidates);
    fill("task", distinct("task"));
    fill("outcome", distinct("outcome", data.outcomes));
    fill("class", distinct("class"));
    fill("unsupported", distinct("unsupported"));
    SELECTS.forEach(function (key) { controls[key].addEventListener("change", changed); });
    var timer = null;
    controls.search.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(changed, 120); });
    el("filters").addEventListener("submit", function (event) { event.preventDefault(); });
    el("list").addEventListener("scroll", renderRows);
    el("list").addEventListener("click", function (event) {
      var row = event.target.closest(".row");
      if (row) { select(Number(row.dataset.index)); }
    });
    window.addEventListener("resize", renderRows);
    window.addEventListener("hashchange", restore);
    document.addEventListener("keydown", keys);
    restore();
    document.body.dataset.state = "ready";
    performance.mark("pairs-ready");
    requestAnimationFrame(function () { requestAnimationFrame(function () { performance.mark("pairs-painted"); }); });
  }

  start();
})();
