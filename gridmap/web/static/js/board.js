/* The dispatcher's board (/board): the queue's incidents on a Leaflet map (vendored, no CDN),
 * and the action buttons. Each action POSTs JSON {action, version, note, ...} to
 * /api/v1/incidents/<id>/actions with the session cookie and X-CSRFToken; the row is then
 * reloaded from /board.json?id=<id>. Text from users or the server goes in with textContent only. */
(function () {
  "use strict";

  // Our words in the reader's language: base.html's <script type="application/json" id="i18n"> block,
  // filled by the server's catalogs (web/js_messages.py); %(name)s placeholders are filled from `params`.
  var messages = JSON.parse((document.getElementById("i18n") || {}).textContent || "{}");
  function T(msgid, params) {
    return (messages[msgid] || msgid).replace(/%\((\w+)\)s/g, function (all, name) {
      return params && name in params ? String(params[name]) : all;
    });
  }

  var board = JSON.parse(document.getElementById("board-data").textContent);
  var page = JSON.parse(document.getElementById("board-page").textContent);
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  var table = document.getElementById("queue");
  var rows = {};      // id -> row data (as /board.json gives it)
  var markers = {};   // id -> L.circleMarker
  board.incidents.forEach(function (r) { rows[r.id] = r; });

  // -- the map ------------------------------------------------------------------------------
  var map = L.map("board-map", {maxZoom: 19, zoomSnap: 0.5, attributionControl: false});
  L.control.scale({imperial: false}).addTo(map);
  window.gridmap = Object.assign(window.gridmap || {}, {boardMap: map});  // for tests and the console
  var gridLayer = L.layerGroup().addTo(map);
  var incLayer = L.featureGroup().addTo(map);

  fetch(page.urls.units, {headers: {Accept: "application/geo+json, application/json"}})
    .then(function (r) { return r.ok ? r.json() : null; })
    .then(function (fc) {
      if (!fc) { return; }
      var list = document.getElementById("grid-list");
      L.geoJSON(fc, {
        style: {color: "#1f4e79", weight: 1, fillOpacity: 0.03},
        interactive: true,
        onEachFeature: function (f, l) {
          var p = f.properties || {}, code = String(p.code || f.id || "");
          var el = document.createElement("span");
          el.textContent = (p.name || "") + " " + code;
          l.bindTooltip(el, {sticky: true});
          var opt = document.createElement("option");  // the transfer form's searchable list
          opt.value = code;
          opt.label = (p.name || "") + " " + code;
          opt.textContent = (p.name || "") + " " + code;
          list.appendChild(opt);
          l.on("click", function () { pickGrid(code, p.name || ""); });
        }
      }).addTo(gridLayer);
      gridLayer.eachLayer(function (l) { l.bringToBack(); });
      if (!board.incidents.length && gridLayer.getLayers().length) {
        map.fitBounds(gridLayer.getLayers()[0].getBounds());
      }
    }).catch(function () { /* grids are context only */ });

  function colour(r) { return page.colours[r.status] || "#575757"; }

  function popupFor(r) {
    var el = document.createElement("div");
    var b = document.createElement("b");
    b.textContent = "#" + r.id + " " + (r.category_name || "");
    el.appendChild(b);
    el.appendChild(document.createElement("br"));
    el.appendChild(document.createTextNode((r.status_label || r.status) + " · " + (r.grid_code || "—") +
                                           (r.grid_name ? " " + r.grid_name : "")));
    if (r.description) {
      var p = document.createElement("div");
      p.style.maxWidth = "16rem";
      p.style.whiteSpace = "pre-wrap";
      p.textContent = r.description.length > 140 ? r.description.slice(0, 140) + "…" : r.description;
      el.appendChild(p);
    }
    if (r.photo && r.photo.thumb_url) {  // the reporter's photo (EXIF stripped), opening the full size
      var a = document.createElement("a");
      a.href = r.photo.url;
      a.target = "_blank";
      a.rel = "noopener";
      var img = document.createElement("img");
      img.src = r.photo.thumb_url;
      img.alt = "#" + r.id + " 的照片 photo";
      img.style.cssText = "display:block;max-width:12rem;max-height:9rem;margin-top:.3rem;border-radius:4px";
      a.appendChild(img);
      el.appendChild(a);
    }
    return el;
  }

  function placeMarker(r) {
    var style = {radius: 7, weight: r.flags.indexOf("overdue") >= 0 ? 3 : 1.5,
                 color: r.flags.indexOf("overdue") >= 0 ? "#a40000" : "#333",
                 fillColor: colour(r), fillOpacity: 0.9};
    var m = markers[r.id];
    if (!m) {
      m = markers[r.id] = L.circleMarker([r.lat, r.lon], style).addTo(incLayer);
      m.on("click", function () { select(r.id, false); });
    } else {
      m.setLatLng([r.lat, r.lon]);
      m.setStyle(style);
    }
    m.bindPopup(popupFor(r));
  }

  board.incidents.forEach(placeMarker);
  if (board.incidents.length) {
    map.fitBounds(incLayer.getBounds(), {padding: [20, 20], maxZoom: 14});  // keep the grids around in view
  } else {
    map.setView([35.0, 105.0], 4);
  }

  function select(id, fromRow) {
    Array.prototype.forEach.call(table.querySelectorAll("tr.gm-selected"), function (tr) {
      tr.classList.remove("gm-selected");
    });
    var tr = rowEl(id);
    if (tr) {
      tr.classList.add("gm-selected");
      if (!fromRow) { tr.scrollIntoView({behavior: "smooth", block: "center"}); }
    }
    var m = markers[id];
    if (m && fromRow) {
      map.setView(m.getLatLng(), Math.max(map.getZoom(), 15));
      m.openPopup();
    }
  }

  function rowEl(id) {
    return Array.prototype.find.call(table.querySelectorAll("tr.gm-row"), function (tr) {
      return tr.getAttribute("data-id") === String(id);
    });
  }

  // The filter form sends only what was filled in (short, readable addresses).
  var filterForm = document.getElementById("filter-form");
  if (filterForm) {
    filterForm.addEventListener("submit", function () {
      Array.prototype.forEach.call(filterForm.elements, function (el) {
        if (el.name && !el.value && el.name !== "queue") { el.disabled = true; }
      });
    });
  }

  // -- the buttons --------------------------------------------------------------------------
  table.addEventListener("click", function (e) {
    var tr = e.target.closest("tr.gm-row");
    if (!tr) { return; }
    var button = e.target.closest("button[data-action]");
    if (!button) {
      if (!e.target.closest("a, input, select, form, .gm-msg")) { select(tr.getAttribute("data-id"), true); }
      return;
    }
    var row = rows[tr.getAttribute("data-id")];
    var action = button.getAttribute("data-action");
    var spec = board.action_specs[action];
    if (!spec || (row.buttons || []).indexOf(action) < 0) { return; }
    spec = {action: action, label: spec.label, fields: spec.fields, confirm: spec.confirm};
    if ((spec.fields && spec.fields.length) || spec.confirm) {
      openForm(tr, row, spec);
    } else {
      send(tr, row, spec.action, {});
    }
  });

  function openForm(tr, row, spec) {
    var cell = tr.querySelector(".c-actions");
    var old = cell.querySelector("form.gm-actform");
    if (old) { old.remove(); }
    var form = document.createElement("form");
    form.className = "gm-actform";
    form.setAttribute("data-for", spec.action);
    if (spec.confirm) {
      var warn = document.createElement("p");
      warn.className = "gm-confirm";
      warn.textContent = spec.confirm;
      form.appendChild(warn);
    }
    spec.fields.forEach(function (f) {
      var label = document.createElement("label");
      label.textContent = f.label;
      var input;
      if (f.type === "select" || f.type === "person") {
        input = document.createElement("select");
        (f.options || []).forEach(function (o) { input.appendChild(option(o[0], o[1])); });
        if (f.type === "person") { fillPeople(input, row); }
      } else {
        input = document.createElement("input");
        input.type = f.type === "number" ? "number" : (f.type === "grid" ? "search" : "text");
        if (f.type === "number") { input.min = "0"; input.step = "any"; }
        if (f.type === "grid") {
          input.setAttribute("list", "grid-list");
          input.autocomplete = "off";
          input.placeholder = T("name or code");
        }
      }
      input.name = f.name;
      input.required = !!f.required;
      label.appendChild(input);
      form.appendChild(label);
      if (f.type === "grid") {
        var who = document.createElement("div");
        who.className = "gm-msg gm-grid-who";
        form.appendChild(who);
        input.addEventListener("change", function () { gridChosen(form, row); });
      }
    });
    var ok = document.createElement("button");
    ok.type = "submit";
    ok.textContent = spec.confirm ? T("Confirm: %(action)s", {action: spec.label}) : T("Go: %(action)s", {action: spec.label});
    ok.title = spec.action;
    var cancel = document.createElement("button");
    cancel.type = "button";
    cancel.textContent = T("Cancel");
    cancel.addEventListener("click", function () { form.remove(); });
    form.appendChild(ok);
    form.appendChild(cancel);
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var extra = {};
      spec.fields.forEach(function (f) {
        var v = form.elements[f.name].value.trim();
        if (v === "") { return; }
        extra[f.name] = f.type === "number" ? Number(v) : v;
      });
      send(tr, rows[tr.getAttribute("data-id")], spec.action, extra, form);
    });
    cell.insertBefore(form, cell.querySelector(".gm-msg:not(.gm-grid-who)"));
    var first = form.querySelector("input, select, button");
    if (first) { first.focus(); }
  }

  function option(value, text) {
    var opt = document.createElement("option");
    opt.value = value;
    opt.textContent = text;
    return opt;
  }

  function personText(p, dflt) {
    return p.name + " · " + (p.roles.join("/") || "—") + (p.on_duty ? " · " + T("on duty") : "") +
      " · " + T("%(n)s open", {n: p.open_load}) + (p.person_id === dflt ? " · " + T("router's pick") : "");
  }

  // The people of the incident's unit (or of `grid`), the router's pick selected.
  function loadPeople(row, grid) {
    var url = page.urls.people + "?id=" + encodeURIComponent(row.id) + (grid ? "&grid=" + encodeURIComponent(grid) : "");
    return fetch(url, {credentials: "same-origin"}).then(function (r) { return r.ok ? r.json() : null; });
  }

  function fillPeople(select, row) {
    select.disabled = true;
    select.appendChild(option("", "…"));
    loadPeople(row).then(function (out) {
      select.textContent = "";
      if (!out || !out.people.length) {
        select.appendChild(option("", T("by the routing rule (nobody listed)")));
      }
      (out ? out.people : []).forEach(function (p) {
        var o = option(p.person_id, personText(p, out.default));
        if (p.person_id === out.default) { o.selected = true; }
        select.appendChild(o);
      });
      select.disabled = false;
    });
  }

  function gridChosen(form, row) {
    var input = form.elements.grid_code, who = form.querySelector(".gm-grid-who");
    var code = input.value.trim();
    if (!code) { who.textContent = ""; return; }
    loadPeople(row, code).then(function (out) {
      if (!out) { who.className = "gm-msg gm-grid-who bad"; who.textContent = T("not a grid of the plan in force: %(code)s", {code: code}); return; }
      var p = out.people.filter(function (x) { return x.person_id === out.default; })[0];
      who.className = "gm-msg gm-grid-who ok";
      who.textContent = T("goes to %(name)s", {name: p ? p.name : "—"});
    });
  }

  // A click on a grid of the map while a transfer form is open chooses that grid.
  function pickGrid(code, name) {
    var form = table.querySelector('form.gm-actform[data-for="transfer"]');
    if (!form) { return; }
    form.elements.grid_code.value = code;
    form.elements.grid_code.title = name;
    gridChosen(form, rows[form.closest("tr").getAttribute("data-id")]);
  }

  function message(tr, text, good) {
    var el = tr.querySelector(".gm-msg");
    el.textContent = text;
    el.className = "gm-msg " + (good ? "ok" : "bad");
  }

  function send(tr, row, action, extra, form) {
    var body = {action: action, version: row.version, note: extra.note || ""};
    Object.keys(extra).forEach(function (k) { if (k !== "note") { body[k] = extra[k]; } });
    var buttons = tr.querySelectorAll(".c-actions button");
    Array.prototype.forEach.call(buttons, function (b) { b.disabled = true; });
    message(tr, "…", true);
    window.gridmap.callJSON("POST", page.urls.act.replace("INCIDENT_ID", encodeURIComponent(row.id)), body, csrf)
    .then(function (res) {
      if (res.status === 200) {
        Array.prototype.forEach.call(tr.querySelectorAll("form.gm-actform"), function (f) { f.remove(); });
        return refresh(tr, row.id).then(function () { message(tr, done(action, rows[row.id]), true); });
      }
      var text = (res.out && (res.out.detail || res.out.title)) || ("HTTP " + res.status);
      if (res.status === 409) {  // stale or impossible: show the server's words, and what it holds now
        return refresh(tr, row.id).then(function () { message(tr, text, false); });
      }
      if (res.status === 401) { text += " — " + T("sign in again"); }
      message(tr, text, false);
    }).catch(function () {
      message(tr, T("Network error: nothing changed."), false);
    }).then(function () {
      Array.prototype.forEach.call(tr.querySelectorAll(".c-actions button"), function (b) { b.disabled = false; });
    });
  }

  // What happened, in words: the new status and who has it now.
  function done(action, r) {
    var label = (board.action_specs[action] || {}).label || action;
    var text = T("✓ %(action)s: %(status)s (%(code)s → %(new)s)", {action: label, status: r.status_label || r.status, code: action, new: r.status});
    if (r.assignee) {
      text += "\n" + T("assigned to %(name)s", {name: r.assignee_name || r.assignee});
    } else if (r.handling_level === "department" && r.department) {
      text += "\n" + T("sent to the department %(department)s", {department: r.department});
    }
    if (r.grid_code && action === "transfer") { text += "\n" + T("grid %(code)s %(name)s", {code: r.grid_code, name: r.grid_name || ""}); }
    return text;
  }

  // -- one row, reloaded (with the tab counts under the page's filters) ----------------------
  function refresh(tr, id) {
    var args = new URLSearchParams(window.location.search);
    args.set("id", id);
    return fetch(page.urls.row + "?" + args.toString(), {credentials: "same-origin"})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (out) {
        if (!out || !out.incidents || !out.incidents.length) { return; }
        var r = out.incidents[0];
        rows[r.id] = r;
        render(tr, r, out.flag_labels || board.flag_labels);
        placeMarker(r);
        updateCounts(out.counts);
      });
  }

  function updateCounts(counts) {
    Array.prototype.forEach.call(document.querySelectorAll("#tabs a[data-queue]"), function (a) {
      var q = a.getAttribute("data-queue"), el = a.querySelector(".gm-count");
      if (el && counts && q in counts) { el.textContent = String(counts[q]); }
    });
    var total = document.getElementById("total");
    if (total && counts && board.queue in counts) { total.textContent = String(counts[board.queue]); }
  }

  function tabLink(q) {
    var a = document.querySelector('#tabs a[data-queue="' + q + '"]');
    return a ? a.getAttribute("href") : "?queue=" + q;
  }

  function when(iso) { return iso ? iso.slice(0, 16).replace("T", " ") : ""; }

  function render(tr, r, flagLabels) {
    tr.setAttribute("data-version", String(r.version));
    var here = (r.queues || []).indexOf(board.queue) >= 0;
    tr.classList.toggle("gm-left", !here);

    var flags = tr.querySelector(".c-flags");
    flags.textContent = "";
    r.flags.forEach(function (f) {
      var chip = document.createElement("span");
      chip.className = "gm-chip " + f;
      chip.textContent = flagLabels[f] || f;
      flags.appendChild(chip);
    });
    if (!here) {  // it left this tab: say where it is now, with a link there
      var moved = document.createElement("span");
      moved.className = "gm-chip moved";
      moved.appendChild(document.createTextNode(T("moved to") + " "));
      (r.queues || []).filter(function (q) { return q !== "all"; }).concat(["all"]).slice(0, 2).forEach(function (q, n) {
        if (n) { moved.appendChild(document.createTextNode(" / ")); }
        var a = document.createElement("a");
        a.href = tabLink(q);
        a.textContent = board.queues[q] || q;
        moved.appendChild(a);
      });
      flags.appendChild(moved);
    }
    var who = tr.querySelector(".c-assignee");
    if (who) {
      who.textContent = r.assignee ? T("Assignee") + " " + (r.assignee_name || r.assignee) :
        (r.department ? T("Department") + " " + r.department : "");
    }

    var grid = tr.querySelector(".c-grid");
    grid.textContent = r.grid_code || "—";
    if (r.grid_name) {
      grid.appendChild(document.createElement("br"));
      var small = document.createElement("small");
      small.textContent = r.grid_name;
      grid.appendChild(small);
    }

    var status = tr.querySelector(".c-status");
    status.textContent = "";
    var dot = document.createElement("span");
    dot.className = "gm-dot";
    dot.style.background = colour(r);
    status.appendChild(dot);
    status.appendChild(document.createTextNode(r.status_label || r.status));

    var time = tr.querySelector(".c-time");
    time.textContent = when(r.reported_at);
    if (r.due_at) {
      time.appendChild(document.createElement("br"));
      var due = document.createElement("span");
      due.className = r.flags.indexOf("overdue") >= 0 ? "gm-due gm-late" : "gm-due";
      due.textContent = T("due %(when)s", {when: when(r.due_at)});
      time.appendChild(due);
    }

    var holder = tr.querySelector(".gm-buttons");
    holder.textContent = "";
    r.buttons.forEach(function (action) {
      var el = document.createElement("button");
      el.type = "button";
      el.setAttribute("data-action", action);
      el.title = action;
      el.textContent = (board.action_specs[action] || {}).label || action;
      holder.appendChild(el);
    });
  }
})();
