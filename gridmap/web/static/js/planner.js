/* The planner page (/planner): a draft plan's grids on a Leaflet map (vendored, with the vendored
 * leaflet-draw for drawing and editing; no CDN), coloured by households against the planner's
 * target, with the edit tools of the plans API:
 *   split    select a grid, draw a line across it          POST {op: "split", code, line}
 *   merge    select two adjacent grids                      POST {op: "merge", codes}
 *   reshape  select a grid, drag its vertices, Finish       POST {op: "reshape", code, geometry[, neighbour]}
 *   move     select grid 1 then grid 2, draw an area        POST {op: "move", from, to, area}
 *   undo                                                    POST .../undo {rev}
 * Edits carry the revisions the page loaded ({code: rev}); a 409 means someone else changed the
 * draft: the page says so and reloads. After every edit the grids and their balance reload from
 * the server. Publishing is enabled only once the impact report is shown, and `force` only once a
 * refusal has listed its reasons. Text from the server or users goes in with textContent only. */
(function () {
  "use strict";

  var data = JSON.parse(document.getElementById("planner-data").textContent);
  var urls = JSON.parse(document.getElementById("planner-urls").textContent);
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  var $ = function (id) { return document.getElementById(id); };
  var plan = data.plan;                 // the chosen plan's record (rev, status, editable)
  var balance = {};                     // code -> under | within | over | unknown
  var revs = {};                        // code -> unit revision, as loaded
  var layers = {};                      // code -> L.Polygon
  var props = {};                       // code -> feature properties
  var selected = [];                    // up to two codes, in click order
  var busy = false, drawer = null, editing = null, impactShown = false, refused = false, reviewedRev = null;
  var lastImpact = null;  // the impact report the planner reviewed: the confirm step names what it will change

  // -- the map ------------------------------------------------------------------------------
  var map = L.map("planner-map", {maxZoom: 19, zoomSnap: 0.25, attributionControl: false,
                                  doubleClickZoom: false, boxZoom: false});
  L.control.scale({imperial: false}).addTo(map);
  map.setView([35.0, 105.0], 4);
  var gridLayer = L.featureGroup().addTo(map);
  var labelLayer = L.layerGroup().addTo(map);
  var shortCodes = {};  // code -> the label shown on the map (unique among the loaded grids)
  var problemLayer = L.featureGroup().addTo(map);   // coverage check: the problem shapes
  var ringLayer = L.featureGroup().addTo(map);      // impact / refused publish: problems by location
  window.gridmap = Object.assign(window.gridmap || {}, {plannerMap: map, planner: {
    layers: layers, selected: selected, balance: balance, revs: revs, labels: shortCodes,
    busy: function () { return busy; }, drawing: function () { return !!(drawer || editing); },
    problems: function () { return problemLayer.getLayers().length; }, rings: function () { return ringLayer.getLayers().length; }}});

  // -- plans and targets --------------------------------------------------------------------
  $("plan-select").addEventListener("change", function () { $("plan-pick").submit(); });

  $("new-draft").addEventListener("submit", function (e) {
    e.preventDefault();
    say("head-msg", "…", true);
    call("POST", urls.plans, {note: $("draft-note").value.trim() || null}).then(function (res) {
      if (res.status !== 200 && res.status !== 201) { say("head-msg", problemText(res), false); return; }
      window.location.assign(urls.page + "?plan=" + encodeURIComponent(res.out.version));
    }).catch(function (e2) { say("head-msg", "网络错误 Network error: " + e2.message, false); });
  });

  $("targets").addEventListener("submit", function (e) {
    e.preventDefault();
    var m = /^\s*(\d+)\s*-\s*(\d+)\s*$/.exec($("households").value);
    if (!m || Number(m[1]) > Number(m[2])) {
      say("head-msg", "目标户数格式：最小-最大，如 300-500。Households target: MIN-MAX, e.g. 300-500.", false);
      return;
    }
    say("head-msg", "", true);
    data.targets.households = [Number(m[1]), Number(m[2])];
    if (!plan) { return; }
    history.replaceState(null, "", withTargets(urls.page));
    reload(false).catch(function (e2) { say("head-msg", e2.message, false); });
  });

  if (!plan) { return; }  // no draft chosen: only the head forms work

  function colour(code) { return data.balance.colours[balance[code] || "unknown"]; }

  function styleOf(code) {
    var on = selected.indexOf(code);
    return {color: on >= 0 ? "#111" : "#33414e", weight: on >= 0 ? 3.5 : 1, dashArray: on === 1 ? "6 4" : null,
            fillColor: colour(code), fillOpacity: on >= 0 ? 0.6 : 0.45};
  }

  function restyle() { Object.keys(layers).forEach(function (c) { layers[c].setStyle(styleOf(c)); }); }

  /* National-style codes end in zone serial + grid serial: "001-003" names a grid within its town.
     Where two loaded grids would share a label ("003-003" in two towns), both show more of their
     code, three digits at a time ("001-003-003"), until every label on the map is unique. */
  function suffix(code, groups) {
    var parts = [];
    for (var i = 0; i < groups; i++) {
      var end = code.length - 3 * i;
      if (end - 3 < 0) { return code; }
      parts.unshift(code.slice(end - 3, end));
    }
    return parts.join("-");
  }
  function computeShortCodes() {
    var codes = Object.keys(layers).filter(function (c) { return c.length > 9 && /^\d+$/.test(c); });
    var groups = {};
    codes.forEach(function (c) { groups[c] = 2; });
    for (var round = 0; round < 6; round++) {
      var seen = {};
      codes.forEach(function (c) { var k = suffix(c, groups[c]); (seen[k] = seen[k] || []).push(c); });
      var clash = false;
      Object.keys(seen).forEach(function (k) {
        if (seen[k].length > 1) { clash = true; seen[k].forEach(function (c) { groups[c] += 1; }); }
      });
      if (!clash) { break; }
    }
    Object.keys(shortCodes).forEach(function (c) { delete shortCodes[c]; });
    codes.forEach(function (c) { shortCodes[c] = suffix(c, groups[c]); });
  }
  function shortCode(code) { return shortCodes[code] || code; }

  function drawLabels() {
    labelLayer.clearLayers();
    computeShortCodes();
    Object.keys(layers).forEach(function (code) {
      var l = layers[code], b = l.getBounds();
      var w = map.latLngToContainerPoint(b.getNorthEast()).x - map.latLngToContainerPoint(b.getSouthWest()).x;
      if (w < 48) { return; }  // too small at this zoom: the tooltip still names it
      var el = document.createElement("div"), p = props[code] || {};
      el.textContent = shortCode(code);
      if (p.households != null) {
        var small = document.createElement("small");
        small.textContent = p.households + " 户";
        el.appendChild(small);
      }
      L.marker(labelPoint(l, b), {icon: L.divIcon({className: "gm-label", html: el, iconSize: null}),
                               interactive: false, keyboard: false}).addTo(labelLayer);
    });
  }
  map.on("zoomend", drawLabels);

  function labelPoint(l, bounds) {
    try {  // the centroid of the (first) outer ring; a multi-part grid may not have one Leaflet can find
      var c = l.getCenter();
      if (isFinite(c.lat) && isFinite(c.lng)) { return c; }
    } catch (e) { /* fall through */ }
    return bounds.getCenter();
  }

  function tooltip(code) {
    var p = props[code] || {}, el = document.createElement("span");
    el.textContent = code + " " + (p.name || "") + " · " + (p.households != null ? p.households : "?") + " 户 households · " +
      (data.balance.labels[balance[code] || "unknown"] || "");
    return el;
  }

  function showGrids(fc, fit) {
    gridLayer.clearLayers();
    Object.keys(layers).forEach(function (c) { delete layers[c]; });
    Object.keys(props).forEach(function (c) { delete props[c]; });
    Object.keys(revs).forEach(function (c) { delete revs[c]; });
    L.geoJSON(fc, {
      onEachFeature: function (f, l) {
        var p = f.properties || {}, code = String(p.code || f.id);
        layers[code] = l;
        props[code] = p;
        if (p.rev != null) { revs[code] = p.rev; }
        l.setStyle(styleOf(code));
        l.bindTooltip(function () { return tooltip(code); }, {sticky: true});
        l.on("click", function () { select(code); });
      }
    }).eachLayer(function (l) { gridLayer.addLayer(l); });
    for (var i = selected.length - 1; i >= 0; i--) { if (!layers[selected[i]]) { selected.splice(i, 1); } }
    restyle();
    if (fit && gridLayer.getLayers().length) { map.fitBounds(gridLayer.getBounds(), {padding: [10, 10], animate: false}); }
    drawLabels();
    $("grid-count").textContent = String(Object.keys(layers).length);
    showSelection();
  }

  // -- talking to the server ----------------------------------------------------------------
  function call(method, url, body) {
    return window.gridmap.callJSON(method, url, body, csrf, "application/json, application/geo+json");
  }

  function problemText(res) {
    var o = res.out || {};
    var text = o.detail || o.title || o.error || ("HTTP " + res.status);
    if (res.status === 401) { text += " — 请重新登录 sign in again"; }
    return text;
  }

  function say(id, text, good) {
    var el = $(id);
    el.textContent = text;
    el.className = "gm-msg " + (good ? "ok" : "bad");
  }

  function withTargets(url) {
    var q = [];
    if (plan) { q.push("plan=" + encodeURIComponent(plan.version)); }
    if (data.targets.households) { q.push("households=" + encodeURIComponent(data.targets.households.join("-"))); }
    return url + (q.length ? (url.indexOf("?") >= 0 ? "&" : "?") + q.join("&") : "");
  }

  /* The plan's record and balance (planner.json), then its grids (units GeoJSON with revisions). */
  var loads = 0;  // a slower earlier reload must not overwrite a later one
  function reload(fit) {
    if (!plan) { return Promise.resolve(); }
    var mine = ++loads;
    return Promise.all([call("GET", withTargets(urls.json)), call("GET", urls.units + "?level=grid")])
      .then(function (both) {
        var twin = both[0], units = both[1];
        if (mine !== loads) { return; }
        if (twin.status !== 200) { throw new Error(problemText(twin)); }
        if (units.status !== 200) { throw new Error(problemText(units)); }
        data = twin.out;
        plan = data.plan;
        Object.keys(balance).forEach(function (c) { delete balance[c]; });
        data.balance.grids.forEach(function (g) { balance[g.code] = g.balance; });
        showPlan();
        showGrids(units.out, fit);
      });
  }

  function planLabel(p) {
    return p.version + " · " + (p.status === "draft" ? "草稿 draft" : "已发布 published") + (p.in_force ? " · 现行 in force" : "") +
      (p.effective_from ? " · " + p.effective_from : "") + (p.note ? " · " + p.note : "");
  }

  function showPlans() {
    var sel = $("plan-select");
    sel.textContent = "";
    data.plans.slice().reverse().forEach(function (p) {
      var opt = document.createElement("option");
      opt.value = String(p.version);
      opt.textContent = planLabel(p);
      opt.selected = p.version === plan.version;
      sel.appendChild(opt);
    });
  }

  function showPlan() {
    showPlans();
    $("plan-rev").textContent = String(plan.rev);
    $("plan-edits").textContent = String(plan.edits);
    $("plan-status").textContent = plan.status === "draft" ? "草稿 draft" : "已发布 published";
    Array.prototype.forEach.call(document.querySelectorAll("#legend li"), function (li) {
      li.querySelector(".n").textContent = String(data.balance.counts[li.getAttribute("data-balance")] || 0);
    });
    $("target-text").textContent = data.targets.households ? data.targets.households.join("–") : "—";
    showFlagged();
    showSelection();
  }

  /* The grids under or over the target, furthest first; a click selects and frames one. */
  function showFlagged() {
    var t = data.targets.households, list = $("flagged-list");
    var off = data.balance.grids.filter(function (g) { return g.balance === "under" || g.balance === "over"; });
    off.forEach(function (g) { g.by = g.balance === "under" ? t[0] - g.households : g.households - t[1]; });
    off.sort(function (x, y) { return y.by - x.by || (x.code < y.code ? -1 : 1); });
    $("flagged-count").textContent = String(off.length);
    list.textContent = "";
    off.forEach(function (g) {
      var el = document.createElement("li");
      el.textContent = shortCode(g.code) + " " + (g.name || "") + ": " + g.households + " 户 (" +
        (g.balance === "under" ? "−" : "+") + g.by + ")";
      el.title = g.code;
      el.setAttribute("data-code", g.code);
      el.style.color = data.balance.colours[g.balance];
      el.addEventListener("click", function () {
        var l = layers[g.code];
        if (!l || drawer || editing || busy) { return; }
        map.fitBounds(l.getBounds().pad(0.5), {animate: false});
        drawLabels();
        selected.length = 0;
        select(g.code);
      });
      list.appendChild(el);
    });
  }

  // -- selection and tools ------------------------------------------------------------------
  function select(code) {
    if (drawer || editing || busy) { return; }
    var at = selected.indexOf(code);
    if (at >= 0) { selected.splice(at, 1); } else { selected.push(code); }
    while (selected.length > 2) { selected.shift(); }
    restyle();
    showSelection();
  }

  function showSelection() {
    var el = $("selected");
    el.textContent = "";
    if (!selected.length) { el.textContent = "—"; }
    selected.forEach(function (code, i) {
      var b = document.createElement("b");
      b.textContent = (i + 1) + ". " + code + " " + ((props[code] || {}).name || "");
      el.appendChild(b);
      if (i === 0 && selected.length > 1) { el.appendChild(document.createTextNode(" → ")); }
    });
    var editable = !!(plan && plan.editable);
    Array.prototype.forEach.call(document.querySelectorAll("#tools button[data-needs]"), function (b) {
      b.disabled = !editable || busy || !!drawer || !!editing || selected.length < Number(b.getAttribute("data-needs"));
    });
    $("tool-undo").disabled = !editable || busy || !!drawer || !!editing || !plan.edits;
    $("drawing").hidden = !(drawer || editing);
    $("check-coverage").disabled = busy;
    $("show-impact").disabled = busy || !plan;
    $("publish").disabled = !editable || busy || !impactShown || !!drawer || !!editing;
  }

  $("clear-selection").addEventListener("click", function () {
    selected.length = 0;
    restyle();
    showSelection();
  });

  function rev(codes) {
    var out = {};
    codes.forEach(function (c) { if (revs[c] != null) { out[c] = revs[c]; } });
    return Object.keys(out).length === codes.length ? out : plan.rev;
  }

  /* One edit: POST it, then reload the grids and their colours; a 409 reloads too. */
  function edit(body, codes) {
    body.rev = rev(codes);
    busy = true;
    showSelection();
    say("edit-msg", "…", true);
    return call("POST", urls.edits, body).then(function (res) {
      if (res.status === 200 || res.status === 201) {
        var o = res.out || {};
        var parts = [];
        if (o.created && o.created.length) { parts.push("新 new " + o.created.join(", ")); }
        if (o.changed && o.changed.length) { parts.push("改 changed " + o.changed.join(", ")); }
        if (o.removed && o.removed.length) { parts.push("撤 removed " + o.removed.join(", ")); }
        selected.length = 0;
        staleImpact();
        return reload(false).then(function () {
          say("edit-msg", "✓ " + body.op + (parts.length ? ": " + parts.join("; ") : "") +
              ((o.notes && o.notes.length) ? "\n" + o.notes.join("\n") : ""), true);
        });
      }
      if (res.status === 409) {
        return reload(false).then(function () {
          say("edit-msg", "冲突 Conflict: " + problemText(res) + "\n已重新加载最新方案 The draft was reloaded: check it and try again.", false);
        });
      }
      say("edit-msg", problemText(res), false);
      if (body.op === "reshape") { return reload(false); }  // put back the outline the server refused
    }).catch(function (e) {
      say("edit-msg", "网络错误 Network error: " + e.message, false);
    }).then(function () {
      busy = false;
      showSelection();
    });
  }

  // Esc (or anything else) stopping leaflet-draw without a shape: back to selecting
  map.on(L.Draw.Event.DRAWSTOP, function () {
    if (drawer && !drawer.enabled()) {
      drawer = null;
      map.off(L.Draw.Event.CREATED);
      say("edit-msg", "", true);
      showSelection();
    }
  });

  function startDrawing(Handler, options, done) {
    drawer = new Handler(map, options);
    drawer.enable();
    map.once(L.Draw.Event.CREATED, function (e) {
      var geom = e.layer.toGeoJSON(false).geometry;
      drawer = null;
      done(geom);
    });
    showSelection();
  }

  function stopDrawing() {
    if (drawer) {
      var d = drawer;
      drawer = null;
      map.off(L.Draw.Event.CREATED);
      d.disable();
    }
    if (editing) {
      editing.editing.disable();
      editing = null;
      reload(false);
    }
    say("edit-msg", "", true);
    showSelection();
  }

  $("tool-split").addEventListener("click", function () {
    var code = selected[0];
    say("edit-msg", "画一条穿过网格 " + code + " 的线（从网格外到网格外），然后点 完成。Draw a line across " + code +
        " from outside to outside, then Finish.", true);
    startDrawing(L.Draw.Polyline, {shapeOptions: {color: "#c0392b", weight: 3, opacity: 0.9}}, function (line) {
      edit({op: "split", code: code, line: line}, [code]);
    });
  });

  $("tool-merge").addEventListener("click", function () {
    edit({op: "merge", codes: selected.slice()}, selected.slice());
  });

  $("tool-move").addEventListener("click", function () {
    var from = selected[0], to = selected[1];
    say("edit-msg", "画出要从 " + from + " 划给 " + to + " 的区域（贴着两者的共同边界），然后点 完成。Draw the area " +
        from + " gives to " + to + " (up to their shared edge), then Finish.", true);
    startDrawing(L.Draw.Polygon, {shapeOptions: {color: "#6a1b9a", weight: 2, fillOpacity: 0.25}}, function (area) {
      edit({op: "move", from: from, to: to, area: area}, [from, to]);
    });
  });

  $("tool-reshape").addEventListener("click", function () {
    var code = selected[0];
    editing = layers[code];
    // leaflet-draw's vertex editing expects the styles its edit toolbar would have set
    editing.options.original = L.extend({}, editing.options);
    editing.options.editing = {color: "#c0392b", weight: 2.5, dashArray: "6 4", fill: true,
                               fillColor: colour(code), fillOpacity: 0.3};
    editing.editing.enable();
    say("edit-msg", "拖动 " + code + " 的顶点改边界，相邻网格随之改变；然后点 完成。Drag the vertices of " + code +
        "; the neighbour follows. Then Finish." + (selected[1] ? " (只改 only " + selected[1] + ")" : ""), true);
    showSelection();
  });

  $("draw-finish").addEventListener("click", function () {
    if (drawer) {
      drawer.completeShape();
      return;
    }
    if (editing) {
      var layer = editing, code = selected[0], neighbour = selected[1];
      var geometry = layer.toGeoJSON(false).geometry;
      layer.editing.disable();
      editing = null;
      var body = {op: "reshape", code: code, geometry: geometry};
      if (neighbour) { body.neighbour = neighbour; }
      edit(body, neighbour ? [code, neighbour] : [code]);
    }
  });
  $("draw-cancel").addEventListener("click", stopDrawing);

  $("tool-undo").addEventListener("click", function () {
    busy = true;
    showSelection();
    call("POST", urls.undo, {rev: plan.rev}).then(function (res) {
      if (res.status === 200) {
        staleImpact();
        var u = (res.out || {}).undone || {};
        return reload(false).then(function () { say("edit-msg", "↶ 已撤销 Undone: " + (u.op || "edit"), true); });
      }
      return reload(false).then(function () {
        say("edit-msg", (res.status === 409 ? "冲突 Conflict: " : "") + problemText(res), false);
      });
    }).catch(function (e) {
      say("edit-msg", "网络错误 Network error: " + e.message, false);
    }).then(function () {
      busy = false;
      showSelection();
    });
  });

  // -- coverage -----------------------------------------------------------------------------
  function li(text, loc) {
    var el = document.createElement("li");
    el.textContent = text;
    if (loc) {
      el.setAttribute("data-lat", loc.lat);
      el.setAttribute("data-lon", loc.lon);
      el.title = loc.lat + ", " + loc.lon;
      el.addEventListener("click", function () { map.setView([loc.lat, loc.lon], Math.max(map.getZoom(), 15)); });
    }
    return el;
  }

  function problemLine(p) {
    return p.kind + " · " + ((p.codes && p.codes.length) ? p.codes.join(", ") : p.parent) + " · " +
      Math.round(p.area_m2).toLocaleString() + " m²" + (p.detail ? " — " + p.detail : "");
  }

  /* Problems known only by their location (impact, refused publish): red rings on the map. */
  function markProblems(problems) {
    ringLayer.clearLayers();
    problems.forEach(function (p) {
      if (!p.location) { return; }
      var el = document.createElement("span");
      el.textContent = problemLine(p);
      L.circleMarker([p.location.lat, p.location.lon], {radius: 9, color: "#d62728", weight: 3, fillOpacity: 0.35})
        .bindTooltip(el, {sticky: true}).addTo(ringLayer);
    });
  }

  $("check-coverage").addEventListener("click", function () {
    busy = true;
    showSelection();
    say("coverage-msg", "…", true);
    // every parent of the plan (county → towns → zones → grids), with the problem shapes
    call("GET", urls.coverage + "?plan=" + encodeURIComponent(plan.version) + "&f=geojson").then(function (res) {
      if (res.status !== 200) { say("coverage-msg", problemText(res), false); return; }
      var fc = res.out, list = $("coverage-list");
      problemLayer.clearLayers();
      list.textContent = "";
      L.geoJSON(fc, {
        style: function () { return {color: "#d62728", fillColor: "#d62728", weight: 2, fillOpacity: 0.55}; },
        pointToLayer: function (f, ll) { return L.circleMarker(ll, {radius: 8, color: "#d62728", fillOpacity: 0.8}); },
        onEachFeature: function (f, l) {
          var el = document.createElement("span");
          el.textContent = problemLine(f.properties || {});
          l.bindTooltip(el, {sticky: true});
        }
      }).eachLayer(function (l) { problemLayer.addLayer(l); });
      (fc.features || []).forEach(function (f) {
        list.appendChild(li(problemLine(f.properties || {}), (f.properties || {}).location));
      });
      var n = (fc.features || []).length;
      say("coverage-msg", n ? "发现 " + n + " 处问题（地图上红色）。" + n + " problem(s), in red on the map."
                            : "✓ 覆盖完整：无缝隙、无重叠。Coverage is exact: no gaps, no overlaps.", !n);
    }).catch(function (e) {
      say("coverage-msg", "网络错误 Network error: " + e.message, false);
    }).then(function () {
      busy = false;
      showSelection();
    });
  });

  // -- impact and publishing ----------------------------------------------------------------
  function staleImpact() {
    impactShown = false;
    reviewedRev = null;
    refused = false;
    $("impact").hidden = true;
    $("force-label").hidden = true;
    $("force").checked = false;
    $("confirm-box").hidden = true;
    lastImpact = null;
    $("publish-reasons").textContent = "";
    problemLayer.clearLayers();
    ringLayer.clearLayers();
    $("coverage-list").textContent = "";
    say("coverage-msg", "", true);
    say("impact-msg", "", true);
  }

  function fill(listId, items, text) {
    var list = $(listId);
    list.textContent = "";
    items.forEach(function (it) { list.appendChild(text(it)); });
  }

  /* Which grids the draft adds, removes and reshapes (GET .../diff against the plan it was copied from). */
  function showDiff(d) {
    var rows = [];
    (d.added || []).forEach(function (g) {
      rows.push("+ 新增 added " + g.code + " " + (g.name || "") + " · " + Math.round(g.area_m2).toLocaleString() + " m²" +
                ((g.from || []).length ? " ← " + g.from.map(function (f) { return f.code; }).join(", ") : ""));
    });
    (d.removed || []).forEach(function (g) {
      rows.push("− 撤销 removed " + g.code + " " + (g.name || "") +
                ((g.to || []).length ? " → " + g.to.map(function (f) { return f.code; }).join(", ") : ""));
    });
    (d.reshaped || []).forEach(function (g) {
      rows.push("~ 改形 reshaped " + g.code + " " + (g.name || "") + " · " + (g.area_change_m2 > 0 ? "+" : "") +
                Math.round(g.area_change_m2).toLocaleString() + " m²");
    });
    (d.renamed || []).forEach(function (g) {
      rows.push("✎ 更名 renamed " + g.code + ": " + g.name_before + " → " + g.name_after);
    });
    fill("diff-list", rows, function (text) { return li(text); });
  }

  /* Grids without a full 1+1+N team, each with a form to staff it in the draft (op "staff"). */
  function showTeams(o) {
    var teams = o.teams || [];
    $("impact-teams").textContent = String(teams.length);
    $("impact-gaps").textContent = String((o.staffing_gaps || []).length);
    var list = $("impact-team-list");
    list.textContent = "";
    teams.forEach(function (t) {
      var m = t.members || {leader: [], instructor: [], worker: []};
      var el = li(t.code + " " + (t.name || "") + (t.new_grid ? " (新 new)" : "") + ": " + (t.problem || "") +
                  (t.blocks_publish ? " · ⚠ " + t.open_incidents + " 件未结事件 open incident(s): 阻止发布 blocks publishing" : ""));
      el.dataset.team = t.code;
      if (t.blocks_publish) el.className = "gm-block";
      if (plan.editable) {
        var form = document.createElement("div");
        form.className = "gm-team";
        [["leader", "网格长 Leader", m.leader.join(", ")], ["instructor", "指导员 Instructor", m.instructor.join(", ")],
         ["workers", "网格员 Workers", m.worker.join(", ")]].forEach(function (f) {
          var inp = document.createElement("input");
          inp.name = f[0];
          inp.value = f[2];
          inp.placeholder = f[1];
          inp.title = f[1];
          inp.setAttribute("aria-label", f[1] + " " + t.code);
          inp.setAttribute("list", "people-list");
          form.appendChild(inp);
        });
        var save = document.createElement("button");
        save.type = "button";
        save.textContent = "保存队伍 Save team";
        save.addEventListener("click", function () { saveTeam(t.code, form); });
        form.appendChild(save);
        el.appendChild(form);
      }
      list.appendChild(el);
    });
  }

  function saveTeam(code, form) {
    var val = function (n) { return form.querySelector('[name="' + n + '"]').value.trim(); };
    var body = {op: "staff", code: code, rev: rev([code])};
    if (val("leader")) body.leader = val("leader");
    if (val("instructor")) body.instructor = val("instructor");
    var workers = val("workers").split(/[,，\s]+/).filter(Boolean);
    if (workers.length) body.workers = workers;
    busy = true;
    showSelection();
    call("POST", urls.edits, body).then(function (res) {
      if (res.status !== 200) { say("impact-msg", problemText(res), false); return; }
      say("edit-msg", "✓ " + (res.out.notes || []).join(" "), true);
      busy = false;
      showSelection();  // enables the impact button again
      $("show-impact").click();  // the draft's revision moved on: review the impact again
    }).catch(function (e) {
      say("impact-msg", "网络错误 Network error: " + e.message, false);
    }).then(function () {
      busy = false;
      showSelection();
    });
  }

  $("show-impact").addEventListener("click", function () {
    busy = true;
    showSelection();
    say("impact-msg", "…", true);
    Promise.all([call("GET", urls.impact), call("GET", urls.diff)]).then(function (both) {
      var res = both[0], diff = both[1];
      if (res.status !== 200) { say("impact-msg", problemText(res), false); return; }
      if (diff.status !== 200) { say("impact-msg", problemText(diff), false); return; }
      var o = res.out;
      showDiff(diff.out);
      var d = o.diff || {};
      $("impact-diff").textContent = "对比现行方案 " + o.against + " Against plan " + o.against + ": 新增 added " + (d.added || 0) +
        " · 撤销 removed " + (d.removed || 0) + " · 改形 reshaped " + (d.reshaped || 0) + " · 更名 renamed " + (d.renamed || 0) +
        " · 未变 unchanged " + (d.unchanged || 0);
      var hh = o.households || {flows: []};
      $("impact-households").textContent = String(hh.households || 0);
      fill("impact-flows", hh.flows || [], function (f) {
        return li(f.from + " → " + f.to + ": " + f.households + " 户 households (" + Math.round(f.share * 100) + " % of the area)");
      });
      var moving = (o.incidents || {}).moving || [];
      $("impact-incidents").textContent = moving.length + " / " + ((o.incidents || {}).open || 0) + " open";
      fill("impact-incident-list", moving, function (m) {
        return li("#" + m.id + " " + (m.category || "") + ": " + (m.from || "—") + " → " + (m.to || "—"));
      });
      var staff = o.staff_on_removed_grids || [];
      $("impact-staff").textContent = String(staff.length);
      fill("impact-staff-list", staff, function (s) {
        return li((s.name || s.person_id) + " · " + s.role + " · " + s.unit_code + " → 可调往 offered to " +
                  ((s.successors || []).join(", ") || "—") + " · " + ((s.placed_in || []).length
                    ? "已安排 placed in " + s.placed_in.join(", ") : "未安排 not placed yet"));
      });
      showTeams(o);
      $("impact-coverage").textContent = String((o.coverage || []).length);
      fill("impact-coverage-list", o.coverage || [], function (p) { return li(problemLine(p), p.location); });
      markProblems(o.coverage || []);
      $("impact").hidden = false;
      impactShown = true;
      lastImpact = o;
      refused = false;  // a new review: the reasons of an earlier refusal no longer stand
      $("publish-reasons").textContent = "";
      $("force-label").hidden = true;
      $("confirm-box").hidden = true;
      reviewedRev = o.rev;  // publishing sends it: an edit by anyone since then is refused (409)
      var blocking = (o.staffing_gaps || []).length;
      if (blocking) {
        say("impact-msg", "⚠ " + blocking + " 个有未结事件的网格缺少完整的1+1+N队伍：请先配齐人员。" + blocking +
            " grid(s) with open incidents lack a full 1+1+N team: staff them below before publishing.", false);
        return;
      }
      say("impact-msg", plan.editable ? "已核对影响，可以发布。Impact reviewed: publishing is enabled." : "", true);
    }).catch(function (e) {
      say("impact-msg", "网络错误 Network error: " + e.message, false);
    }).then(function () {
      busy = false;
      showSelection();
    });
  });

  /* The confirm step: what publishing will change, from the impact the planner reviewed. */
  $("publish").addEventListener("click", function () {
    var eff = $("effective-from").value;
    if (!eff) { say("publish-msg", "请选择生效日期 Choose the effective date.", false); return; }
    var o = lastImpact || {}, d = o.diff || {}, rows = [];
    rows.push("方案 " + plan.version + " 自 " + eff + " 起生效，取代方案 " + o.against + "。Plan " + plan.version +
              " takes effect on " + eff + ", replacing plan " + o.against + ".");
    rows.push("网格 Grids: 新增 added " + (d.added || 0) + " · 撤销 removed " + (d.removed || 0) + " · 改形 reshaped " +
              (d.reshaped || 0) + " · 更名 renamed " + (d.renamed || 0));
    rows.push("户数变动 Households moving: " + ((o.households || {}).households || 0));
    var moving = (o.incidents || {}).moving || [];
    rows.push("改派事件 Open incidents re-routed: " + moving.length);
    moving.forEach(function (m) {
      rows.push("  #" + m.id + " " + (m.from || "—") + " → " + (m.to || "—") + " · 指派 assignee " +
                (m.assignee || "无人 nobody"));
    });
    Object.keys(o.new_and_changed_teams || {}).forEach(function (code) {
      var t = o.new_and_changed_teams[code];
      rows.push("队伍 Team " + code + ": 网格长 " + (t.leader.join(", ") || "—") + " · 指导员 " +
                (t.instructor.join(", ") || "—") + " · 网格员 " + (t.worker.join(", ") || "—"));
    });
    var unplaced = (o.staff_on_removed_grids || []).filter(function (x) { return !(x.placed_in || []).length; });
    if (unplaced.length) {
      rows.push("撤销网格上未安排的人员 Staff of removed grids not placed: " +
                unplaced.map(function (x) { return x.name || x.person_id; }).join(", "));
    }
    (o.staffing_gaps || []).forEach(function (g) {
      rows.push("⚠ " + g.code + " " + (g.name || "") + ": " + g.open_incidents + " 件未结事件 open incident(s), " + g.problem);
    });
    fill("confirm-list", rows, function (text) { return li(text); });
    if ((o.staffing_gaps || []).length) { $("force-label").hidden = false; }
    $("confirm-box").hidden = false;
    $("confirm-box").scrollIntoView({block: "center"});
    say("publish-msg", "请核对后确认。Check what will change, then confirm.", true);
  });

  $("confirm-back").addEventListener("click", function () {
    $("confirm-box").hidden = true;
    say("publish-msg", "", true);
  });

  $("confirm-publish").addEventListener("click", function () {
    var eff = $("effective-from").value;
    var forcing = !$("force-label").hidden && $("force").checked;
    var body = {effective_from: eff, force: forcing};
    if (forcing && $("force-reason").value.trim()) body.reason = $("force-reason").value.trim();
    if (typeof reviewedRev === "number") body.rev = reviewedRev;
    $("confirm-box").hidden = true;
    busy = true;
    showSelection();
    say("publish-msg", "…", true);
    call("POST", urls.publish, body).then(function (res) {
      var o = res.out || {};
      if (res.status === 200 || res.status === 201) {
        $("force-label").hidden = true;
        // the plan is published now: its teams are no longer staffed from here
        Array.prototype.forEach.call(document.querySelectorAll("#impact-team-list .gm-team"), function (f) { f.remove(); });
        $("publish-reasons").textContent = "";
        say("edit-msg", "", true);
        say("impact-msg", "", true);
        say("publish-msg", "✓ 方案 " + o.plan + " 已发布，" + o.effective_from + " 起生效。Plan " + o.plan + " published, in force from " +
            o.effective_from + (o.forced ? " (forced)" : "") + " · 改派事件 incidents re-routed: " + (o.rerouted || []).length +
            (o.reroute_pending ? " (on that day: gridmap incidents reroute)" : ""), true);
        return reload(false);
      }
      var problems = o.problems || o.coverage || [], gaps = o.gaps || [];
      if (res.status === 409 && (problems.length || gaps.length)) {
        refused = true;
        fill("publish-reasons", problems, function (p) { return li(problemLine(p), p.location); });
        gaps.forEach(function (g) {
          var el = li("⚠ " + g.code + " " + (g.name || "") + ": " + g.open_incidents + " 件未结事件 open incident(s); " + g.problem);
          el.dataset.code = g.code;
          el.addEventListener("click", function () { select(g.code); });
          $("publish-reasons").appendChild(el);
        });
        markProblems(problems);
        $("force-label").hidden = false;
        say("publish-msg", "发布被拒绝，原因如下。Publishing was refused for the reasons below; fix them (staff the " +
            "grids in the impact panel), or tick " +
            "“publish anyway” and publish again.", false);
        return;
      }
      say("publish-msg", problemText(res), false);
    }).catch(function (e) {
      say("publish-msg", "网络错误 Network error: " + e.message, false);
    }).then(function () {
      busy = false;
      showSelection();
    });
  });

  reload(true).catch(function (e) { say("edit-msg", "加载失败 Could not load the plan: " + e.message, false); });
})();
