/* The planner page (/planner), part 1 of 3: the state, the map and the grids (loaded after gridmap-api.js;
 * planner-tools.js holds the selection and the edit tools, planner-review.js coverage, impact and publishing).
 * A draft plan's grids on a Leaflet map (vendored, with the vendored leaflet-draw; no CDN), coloured by
 * households against the planner's target. An edit refreshes only the grids it changed: the edit's answer
 * carries them (POST .../edits?features=1), an undo fetches the codes it touched (units?codes=), and the
 * balance is computed here from the households (the same rule as planner.json: min <= households <= max).
 * A county-scale plan (more than FOCUS_ABOVE grids) opens on one zone (?focus=CODE, a zone or a town;
 * default the first zone), with every zone drawn light around it: a click on a light zone focuses it.
 * Text from the server or users goes in with textContent only. */
(function () {
  "use strict";

  var FOCUS_ABOVE = 1500;
  var data = JSON.parse(document.getElementById("planner-data").textContent);
  var urls = JSON.parse(document.getElementById("planner-urls").textContent);
  var $ = function (id) { return document.getElementById(id); };
  var P = {  // shared with planner-tools.js and planner-review.js
    data: data, urls: urls, $: $, plan: data.plan,
    csrf: (document.querySelector('meta[name="csrf-token"]') || {}).content || "",
    balance: {}, revs: {}, layers: {}, props: {}, rows: {}, selected: [], labels: {},
    busy: false, drawer: null, editing: null, focus: null
  };
  window.gridmapPlanner = P;
  var layers = P.layers, props = P.props, revs = P.revs, balance = P.balance, rows = P.rows, shortCodes = P.labels;
  var people = {};
  (data.people || []).forEach(function (p) { people[p.id] = p.name; });
  P.person = function (id) { return people[id] ? people[id] + " (" + id + ")" : id; };

  // -- the map ------------------------------------------------------------------------------
  var map = L.map("planner-map", {maxZoom: 19, zoomSnap: 0.25, attributionControl: false,
                                  doubleClickZoom: false, boxZoom: false});
  P.map = map;
  L.control.scale({imperial: false}).addTo(map);
  map.setView([35.0, 105.0], 4);
  var contextLayer = L.featureGroup().addTo(map);  // the zones around the focus, drawn light
  var gridLayer = L.featureGroup().addTo(map);
  P.labelLayer = L.layerGroup().addTo(map);
  P.problemLayer = L.featureGroup().addTo(map);   // coverage check: the problem shapes
  P.ringLayer = L.featureGroup().addTo(map);      // impact / refused publish: problems by location
  window.gridmap = Object.assign(window.gridmap || {}, {plannerMap: map, planner: {
    layers: layers, selected: P.selected, balance: balance, revs: revs, labels: shortCodes,
    busy: function () { return P.busy; }, drawing: function () { return !!(P.drawer || P.editing); },
    focus: function () { return P.focus; }, context: function () { return contextLayer.getLayers().length; },
    loads: function () { return loads; },
    problems: function () { return P.problemLayer.getLayers().length; },
    rings: function () { return P.ringLayer.getLayers().length; }}});

  // -- talking to the server ----------------------------------------------------------------
  P.call = function (method, url, body) {
    return window.gridmap.callJSON(method, url, body, P.csrf, "application/json, application/geo+json");
  };
  P.problemText = function (res) {
    var o = res.out || {};
    var text = o.detail || o.title || o.error || ("HTTP " + res.status);
    if (res.status === 401) { text += " — 请重新登录 sign in again"; }
    return text;
  };
  P.say = function (id, text, good) {
    var el = $(id);
    el.textContent = text;
    el.className = "gm-msg " + (good ? "ok" : "bad");
  };
  P.li = function (text, loc) {
    var el = document.createElement("li");
    el.textContent = text;
    if (loc) {
      el.setAttribute("data-lat", loc.lat);
      el.setAttribute("data-lon", loc.lon);
      el.title = loc.lat + ", " + loc.lon;
      el.addEventListener("click", function () { map.setView([loc.lat, loc.lon], Math.max(map.getZoom(), 15)); });
    }
    return el;
  };
  function withTargets(url) {
    var q = [];
    if (P.plan) { q.push("plan=" + encodeURIComponent(P.plan.version)); }
    if (data.targets.households) { q.push("households=" + encodeURIComponent(data.targets.households.join("-"))); }
    if (P.focus) { q.push("focus=" + encodeURIComponent(P.focus)); }
    return url + (q.length ? (url.indexOf("?") >= 0 ? "&" : "?") + q.join("&") : "");
  }
  P.withTargets = withTargets;

  // -- plans and targets --------------------------------------------------------------------
  $("plan-select").addEventListener("change", function () { $("plan-pick").submit(); });
  $("new-draft").addEventListener("submit", function (e) {
    e.preventDefault();
    P.say("head-msg", "…", true);
    P.call("POST", urls.plans, {note: $("draft-note").value.trim() || null}).then(function (res) {
      if (res.status !== 200 && res.status !== 201) { P.say("head-msg", P.problemText(res), false); return; }
      window.location.assign(urls.page + "?plan=" + encodeURIComponent(res.out.version));
    }).catch(function (e2) { P.say("head-msg", "网络错误 Network error: " + e2.message, false); });
  });
  $("targets").addEventListener("submit", function (e) {
    e.preventDefault();
    var m = /^\s*(\d+)\s*-\s*(\d+)\s*$/.exec($("households").value);
    if (!m || Number(m[1]) > Number(m[2])) {
      P.say("head-msg", "目标户数格式：最小-最大，如 300-500。Households target: MIN-MAX, e.g. 300-500.", false);
      return;
    }
    P.say("head-msg", "", true);
    data.targets.households = [Number(m[1]), Number(m[2])];
    data.targets["default"] = false;
    if (!P.plan) { return; }
    history.replaceState(null, "", withTargets(urls.page));
    classifyAll();  // the same rule as the server's: no download
    showBalance();
    restyle();
  });

  if (!P.plan) { return; }  // no draft chosen: only the head forms work

  // -- balance, computed here from the households -----------------------------------------------
  function classify(hh) {
    var t = data.targets.households;
    if (hh == null || !t) { return "unknown"; }
    return hh < t[0] ? "under" : (hh > t[1] ? "over" : "within");
  }
  function classifyAll() {
    Object.keys(rows).forEach(function (c) { rows[c].balance = balance[c] = classify(rows[c].households); });
  }
  function takeRows(list) {
    Object.keys(rows).forEach(function (c) { delete rows[c]; });
    Object.keys(balance).forEach(function (c) { delete balance[c]; });
    list.forEach(function (g) { rows[g.code] = g; balance[g.code] = g.balance; });
  }
  takeRows(data.balance.grids);

  function colour(code) { return data.balance.colours[balance[code] || "unknown"]; }
  P.colour = colour;
  P.locked = function (code) { return !!(props[code] || {}).locked; };

  function styleOf(code) {
    var on = P.selected.indexOf(code), locked = P.locked(code);
    return {color: on >= 0 ? "#111" : (locked ? "#5b3a00" : "#33414e"), weight: on >= 0 ? 3.5 : (locked ? 2.5 : 1),
            dashArray: on === 1 ? "6 4" : (locked ? "2 4" : null), fillColor: colour(code),
            fillOpacity: on >= 0 ? 0.6 : (locked ? 0.3 : 0.45)};
  }
  function restyle() { Object.keys(layers).forEach(function (c) { layers[c].setStyle(styleOf(c)); }); }
  P.restyle = restyle;

  function tooltip(code) {
    var p = props[code] || {}, el = document.createElement("span");
    el.textContent = code + " " + (p.name || "") + " · " + (p.households != null ? p.households : "?") + " 户 households · " +
      (data.balance.labels[balance[code] || "unknown"] || "") + (p.locked ? " · [锁] 已锁定 locked" : "");
    return el;
  }

  /* Put one feature on the map (replacing the grid of that code, if loaded). */
  function putFeature(f) {
    var p = f.properties || {}, code = String(p.code || f.id);
    if (layers[code]) { gridLayer.removeLayer(layers[code]); }
    var l = L.geoJSON(f).getLayers()[0];
    layers[code] = l;
    props[code] = p;
    if (p.rev != null) { revs[code] = p.rev; }
    rows[code] = {code: code, name: p.name, parent_code: p.parent_code, households: p.households,
                  balance: classify(p.households)};
    balance[code] = rows[code].balance;
    l.setStyle(styleOf(code));
    l.bindTooltip(function () { return tooltip(code); }, {sticky: true});
    l.on("click", function () { P.select(code); });
    gridLayer.addLayer(l);
  }
  function dropGrid(code) {
    if (layers[code]) { gridLayer.removeLayer(layers[code]); }
    [layers, props, revs, rows, balance].forEach(function (m) { delete m[code]; });
  }

  function showGrids(fc, fit) {
    gridLayer.clearLayers();
    [layers, props, revs].forEach(function (m) { Object.keys(m).forEach(function (c) { delete m[c]; }); });
    (fc.features || []).forEach(putFeature);
    afterGrids();
    if (fit && gridLayer.getLayers().length) { map.fitBounds(gridLayer.getBounds(), {padding: [10, 10], animate: false}); }
    P.drawLabels();
  }
  var codesChanged = true;  // labels are recomputed only when grids come or go
  function afterGrids() {
    for (var i = P.selected.length - 1; i >= 0; i--) { if (!layers[P.selected[i]]) { P.selected.splice(i, 1); } }
    if (codesChanged) { P.computeShortCodes(); codesChanged = false; }
    restyle();
    $("grid-count").textContent = String(Object.keys(rows).length);
    showBalance();
    P.showSelection();
  }

  /* After an edit: the grids it created or changed (features) and removed (codes); nothing else is fetched. */
  P.patch = function (features, removed) {
    codesChanged = codesChanged || (removed || []).length > 0 || (features || []).some(function (f) {
      return !rows[String((f.properties || {}).code || f.id)];
    });
    (removed || []).forEach(dropGrid);
    (features || []).forEach(putFeature);
    afterGrids();
    P.drawLabels();
  };

  /* After an undo: fetch these codes; the ones the plan no longer has are removed. */
  P.refresh = function (codes) {
    codes = codes.filter(function (c, i) { return codes.indexOf(c) === i; });
    if (!codes.length) { return Promise.resolve(); }
    if (codes.length > 1500) { return P.reload(false); }
    return P.call("GET", urls.units + "?level=grid&codes=" + encodeURIComponent(codes.join(","))).then(function (res) {
      if (res.status !== 200) { throw new Error(P.problemText(res)); }
      var got = {};
      (res.out.features || []).forEach(function (f) { got[String((f.properties || {}).code || f.id)] = f; });
      P.patch(Object.keys(got).map(function (c) { return got[c]; }).filter(inFocus),
              codes.filter(function (c) { return !got[c]; }));
      P.plan.rev = res.out.rev;
    });
  };
  function inFocus(f) {  // a grid below the focused zone or town (the codes nest: a child's code starts with its parent's)
    var code = String((f.properties || {}).code || f.id), parent = (f.properties || {}).parent_code || "";
    return !P.focus || parent === P.focus || code.indexOf(P.focus) === 0 || parent.indexOf(P.focus) === 0;
  }

  // -- loading: everything (a full reload: after a conflict or publishing), or one focus ------------
  var loads = 0;  // a slower earlier reload must not overwrite a later one
  P.reload = function (fit, withTwin) {
    var mine = ++loads;
    var q = urls.units + "?level=grid" + (P.focus ? "&parent=" + encodeURIComponent(P.focus) : "");
    var asks = [P.call("GET", q)];
    if (withTwin !== false) { asks.push(P.call("GET", withTargets(urls.json))); }
    return Promise.all(asks).then(function (both) {
      var units = both[0], twin = both[1];
      if (mine !== loads) { return; }
      if (units.status !== 200) { throw new Error(P.problemText(units)); }
      if (twin) {
        if (twin.status !== 200) { throw new Error(P.problemText(twin)); }
        data = P.data = twin.out;
        P.plan = data.plan;
        takeRows(data.balance.grids);
        codesChanged = true;
        showPlans();
      }
      P.plan.rev = units.out.rev;
      showGrids(units.out, fit);
      P.showPlan();
    });
  };

  function showContext() {  // every zone, drawn light: a click focuses it
    return P.call("GET", urls.units + "?level=zone").then(function (res) {
      if (res.status !== 200) { throw new Error(P.problemText(res)); }
      contextLayer.clearLayers();
      L.geoJSON(res.out, {
        style: function (f) {
          var on = f.properties.code === P.focus || (P.focus || "").indexOf(f.properties.code) === 0 ||
            f.properties.parent_code === P.focus;
          return {color: on ? "#1f4e79" : "#6f7c88", weight: on ? 2 : 1, fillColor: "#b8c4cf",
                  fillOpacity: on ? 0 : 0.4, dashArray: on ? null : "4 3"};
        },
        onEachFeature: function (f, l) {
          var el = document.createElement("span");
          el.textContent = f.properties.code + " " + (f.properties.name || "") + " · 点击聚焦 click to focus";
          l.bindTooltip(el, {sticky: true});
          l.on("click", function () { if (!P.busy && !P.drawer && !P.editing) { P.focusOn(f.properties.code); } });
        }
      }).eachLayer(function (l) { contextLayer.addLayer(l); });
      contextLayer.bringToBack();
    });
  }

  P.focusOn = function (code, then) {
    P.focus = code;
    P.selected.length = 0;
    history.replaceState(null, "", withTargets(urls.page));
    $("focus-text").textContent = code;
    P.busy = true;
    return Promise.all([P.reload(true, false), showContext()]).then(function () {
      P.busy = false;
      P.showSelection();
      if (then) { then(); }
    }).catch(function (e) { P.busy = false; P.say("edit-msg", e.message, false); });
  };

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
      opt.selected = p.version === P.plan.version;
      sel.appendChild(opt);
    });
  }

  P.showPlan = function () {
    $("plan-rev").textContent = String(P.plan.rev);
    $("plan-edits").textContent = String(P.plan.edits);
    $("plan-status").textContent = P.plan.status === "draft" ? "草稿 draft" : "已发布 published";
    showBalance();
    P.showSelection();
  };

  function showBalance() {
    var counts = {under: 0, within: 0, over: 0, unknown: 0};
    Object.keys(rows).forEach(function (c) { counts[rows[c].balance] = (counts[rows[c].balance] || 0) + 1; });
    Array.prototype.forEach.call(document.querySelectorAll("#legend li"), function (li) {
      li.querySelector(".n").textContent = String(counts[li.getAttribute("data-balance")] || 0);
    });
    $("target-text").textContent = data.targets.households ? data.targets.households.join("–") : "—";
    showFlagged();
  }

  /* The grids under or over the target, furthest first, numbered 1..n; a click selects and frames one
     (focusing its zone first when it is outside the focus). */
  var flaggedDirty = true;
  $("flagged-box").addEventListener("toggle", function () { if ($("flagged-box").open && flaggedDirty) { showFlagged(); } });
  function showFlagged() {
    var t = data.targets.households, list = $("flagged-list");
    var off = Object.keys(rows).map(function (c) { return rows[c]; })
      .filter(function (g) { return g.balance === "under" || g.balance === "over"; });
    off.forEach(function (g) { g.by = g.balance === "under" ? t[0] - g.households : g.households - t[1]; });
    off.sort(function (x, y) { return y.by - x.by || (x.code < y.code ? -1 : 1); });
    $("flagged-count").textContent = String(off.length);
    // the list itself is built while it is open (thousands of rows at county scale), else on opening
    flaggedDirty = !$("flagged-box").open && off.length > 300;
    if (flaggedDirty) { return; }
    list.textContent = "";
    off.forEach(function (g, i) {
      var el = document.createElement("li");
      el.textContent = (i + 1) + ". " + P.shortCode(g.code) + " " + (g.name || "") + ": " + g.households + " 户 (" +
        (g.balance === "under" ? "−" : "+") + g.by + ")";
      el.title = g.code;
      el.setAttribute("data-code", g.code);
      el.style.color = data.balance.colours[g.balance];
      el.addEventListener("click", function () {
        if (P.drawer || P.editing || P.busy) { return; }
        var go = function () {
          var l = layers[g.code];
          if (!l) { return; }
          map.fitBounds(l.getBounds().pad(0.5), {animate: false});
          P.drawLabels();
          P.selected.length = 0;
          P.select(g.code);
        };
        if (!layers[g.code] && P.focus && g.parent_code) { P.focusOn(g.parent_code, go); } else { go(); }
      });
      list.appendChild(el);
    });
  }

  P.start = function () {  // called by planner-review.js, the last script: every part is wired
    var big = Object.keys(rows).length > FOCUS_ABOVE;
    var want = new URLSearchParams(window.location.search).get("focus");
    var first = Object.keys(rows).map(function (c) { return rows[c].parent_code; }).filter(Boolean).sort()[0];
    $("focus-box").hidden = !(want || big);
    if (want || (big && first)) { return P.focusOn(want || first); }
    return P.reload(true, false).catch(function (e) {
      P.say("edit-msg", "加载失败 Could not load the plan: " + e.message, false);
    });
  };
})();
