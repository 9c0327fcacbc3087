/* The planner page, part 2 of 3: the selection and the edit tools of the plans API (after planner.js).
 *   split    select a grid, draw a line across it          POST {op: "split", code, line}
 *   merge    select two adjacent grids                      POST {op: "merge", codes}
 *   reshape  select a grid, drag its vertices, Finish       POST {op: "reshape", code, geometry[, neighbour]}
 *   move     select grid 1 then grid 2, draw an area        POST {op: "move", from, to, area}
 *   lock     the selected grids, or every grid shown        POST {op: "lock", codes, locked}
 *   undo                                                    POST .../undo {rev}
 * Edits carry the revisions the page loaded ({code: rev}); a 409 means someone else changed the
 * draft: the page says so and reloads. Otherwise an edit's answer carries the grids it changed
 * (?features=1) and only those are redrawn. Locked grids are not redrawn: the tools say so. */
(function () {
  "use strict";

  var P = window.gridmapPlanner;
  if (!P || !P.plan) { return; }
  var $ = P.$, map = P.map, selected = P.selected, layers = P.layers, revs = P.revs;

  P.select = function (code) {
    if (P.drawer || P.editing || P.busy) { return; }
    var at = selected.indexOf(code);
    if (at >= 0) { selected.splice(at, 1); } else { selected.push(code); }
    while (selected.length > 2) { selected.shift(); }
    P.restyle();
    P.showSelection();
  };

  P.showSelection = function () {
    var el = $("selected"), plan = P.plan;
    el.textContent = "";
    if (!selected.length) { el.textContent = "—"; }
    selected.forEach(function (code, i) {
      var b = document.createElement("b");
      b.textContent = (i + 1) + ". " + code + " " + ((P.props[code] || {}).name || "") + (P.locked(code) ? " [锁 locked]" : "");
      el.appendChild(b);
      if (i === 0 && selected.length > 1) { el.appendChild(document.createTextNode(" → ")); }
    });
    var editable = !!(plan && plan.editable), idle = editable && !P.busy && !P.drawer && !P.editing;
    var lockedSel = selected.filter(P.locked);
    Array.prototype.forEach.call(document.querySelectorAll("#tools button[data-needs]"), function (b) {
      b.disabled = !idle || selected.length < Number(b.getAttribute("data-needs")) || lockedSel.length > 0;
    });
    $("lock-hint").hidden = !lockedSel.length;
    $("lock-hint").textContent = lockedSel.length ? "[锁] " + lockedSel.join(", ") + " 已锁定：解锁后才能改。" +
      "Locked: unlock to redraw." : "";
    $("tool-lock").disabled = !idle || !selected.length || lockedSel.length === selected.length;
    $("tool-unlock").disabled = !idle || !lockedSel.length;
    $("lock-all").disabled = $("unlock-all").disabled = !idle || !Object.keys(layers).length;
    $("tool-undo").disabled = !idle || !plan.edits;
    $("drawing").hidden = !(P.drawer || P.editing);
    $("check-coverage").disabled = P.busy;
    $("show-impact").disabled = P.busy || !plan;
    $("publish").disabled = !editable || P.busy || !P.impactShown || !!P.drawer || !!P.editing;
  };

  $("clear-selection").addEventListener("click", function () {
    selected.length = 0;
    P.restyle();
    P.showSelection();
  });

  P.rev = function (codes) {
    var out = {};
    codes.forEach(function (c) { if (revs[c] != null) { out[c] = revs[c]; } });
    return Object.keys(out).length === codes.length ? out : P.plan.rev;
  };

  function conflict(res, msgId) {
    return P.reload(false).then(function () {
      P.say(msgId, "冲突 Conflict: " + P.problemText(res) + "\n已重新加载最新方案 The draft was reloaded: check it and try again.", false);
    });
  }

  /* One edit: POST it; its answer carries the changed grids, which replace those on the map. */
  P.edit = function (body, codes, msgId) {
    msgId = msgId || "edit-msg";
    body.rev = P.rev(codes);
    P.busy = true;
    P.showSelection();
    P.say(msgId, "…", true);
    return P.call("POST", P.urls.edits + "?features=1", body).then(function (res) {
      if (res.status === 200 || res.status === 201) {
        var o = res.out || {};
        var parts = [];
        if (o.created && o.created.length) { parts.push("新 new " + o.created.join(", ")); }
        if (o.changed && o.changed.length) { parts.push("改 changed " + o.changed.join(", ")); }
        if (o.removed && o.removed.length) { parts.push("撤 removed " + o.removed.join(", ")); }
        selected.length = 0;
        P.staleImpact();
        if (o.rev !== P.plan.rev) { P.plan.edits += 1; }
        P.plan.rev = o.rev;
        P.patch(o.features || [], o.removed || []);
        P.showPlan();
        P.say(msgId, "✓ " + body.op + (parts.length && body.op !== "lock" ? ": " + parts.join("; ") : "") +
              ((o.notes && o.notes.length) ? "\n" + o.notes.join("\n") : ""), true);
        return o;
      }
      if (res.status === 409) { return conflict(res, msgId); }
      P.say(msgId, P.problemText(res), false);
      if (body.op === "reshape") { return P.refresh(codes); }  // put back the outline the server refused
    }).catch(function (e) {
      P.say(msgId, "网络错误 Network error: " + e.message, false);
    }).then(function (o) {
      P.busy = false;
      P.showSelection();
      return o;
    });
  };

  // Esc (or anything else) stopping leaflet-draw without a shape: back to selecting
  map.on(L.Draw.Event.DRAWSTOP, function () {
    if (P.drawer && !P.drawer.enabled()) {
      P.drawer = null;
      map.off(L.Draw.Event.CREATED);
      P.say("edit-msg", "", true);
      P.showSelection();
    }
  });

  function startDrawing(Handler, options, done) {
    P.drawer = new Handler(map, options);
    P.drawer.enable();
    map.once(L.Draw.Event.CREATED, function (e) {
      var geom = e.layer.toGeoJSON(false).geometry;
      P.drawer = null;
      done(geom);
    });
    P.showSelection();
  }

  function stopDrawing() {
    if (P.drawer) {
      var d = P.drawer;
      P.drawer = null;
      map.off(L.Draw.Event.CREATED);
      d.disable();
    }
    if (P.editing) {
      P.editing.editing.disable();
      P.editing = null;
      P.refresh(selected.slice());  // the outline as the server has it
    }
    P.say("edit-msg", "", true);
    P.showSelection();
  }

  $("tool-split").addEventListener("click", function () {
    var code = selected[0];
    P.say("edit-msg", "画一条穿过网格 " + code + " 的线（从网格外到网格外），然后点 完成。Draw a line across " + code +
        " from outside to outside, then Finish.", true);
    startDrawing(L.Draw.Polyline, {shapeOptions: {color: "#c0392b", weight: 3, opacity: 0.9}}, function (line) {
      P.edit({op: "split", code: code, line: line}, [code]);
    });
  });

  $("tool-merge").addEventListener("click", function () {
    P.edit({op: "merge", codes: selected.slice()}, selected.slice());
  });

  $("tool-move").addEventListener("click", function () {
    var from = selected[0], to = selected[1];
    P.say("edit-msg", "画出要从 " + from + " 划给 " + to + " 的区域（贴着两者的共同边界），然后点 完成。Draw the area " +
        from + " gives to " + to + " (up to their shared edge), then Finish.", true);
    startDrawing(L.Draw.Polygon, {shapeOptions: {color: "#6a1b9a", weight: 2, fillOpacity: 0.25}}, function (area) {
      P.edit({op: "move", from: from, to: to, area: area}, [from, to]);
    });
  });

  $("tool-reshape").addEventListener("click", function () {
    var code = selected[0];
    P.editing = layers[code];
    // leaflet-draw's vertex editing expects the styles its edit toolbar would have set
    P.editing.options.original = L.extend({}, P.editing.options);
    P.editing.options.editing = {color: "#c0392b", weight: 2.5, dashArray: "6 4", fill: true,
                                 fillColor: P.colour(code), fillOpacity: 0.3};
    P.editing.editing.enable();
    P.say("edit-msg", "拖动 " + code + " 的顶点改边界，相邻网格随之改变；然后点 完成。Drag the vertices of " + code +
        "; the neighbour follows. Then Finish." + (selected[1] ? " (只改 only " + selected[1] + ")" : ""), true);
    P.showSelection();
  });

  $("draw-finish").addEventListener("click", function () {
    if (P.drawer) {
      P.drawer.completeShape();
      return;
    }
    if (P.editing) {
      var layer = P.editing, code = selected[0], neighbour = selected[1];
      var geometry = layer.toGeoJSON(false).geometry;
      layer.editing.disable();
      P.editing = null;
      var body = {op: "reshape", code: code, geometry: geometry};
      if (neighbour) { body.neighbour = neighbour; }
      P.edit(body, neighbour ? [code, neighbour] : [code]);
    }
  });
  $("draw-cancel").addEventListener("click", stopDrawing);

  // -- locks: the selected grids, or every grid shown (the focus) -------------------------------------
  function lockEdit(codes, locked) {
    if (!codes.length) { return; }
    P.edit({op: "lock", codes: codes, locked: locked}, codes);
  }
  $("tool-lock").addEventListener("click", function () { lockEdit(selected.filter(function (c) { return !P.locked(c); }), true); });
  $("tool-unlock").addEventListener("click", function () { lockEdit(selected.filter(P.locked), false); });
  $("lock-all").addEventListener("click", function () {
    lockEdit(Object.keys(layers).filter(function (c) { return !P.locked(c); }), true);
  });
  $("unlock-all").addEventListener("click", function () { lockEdit(Object.keys(layers).filter(P.locked), false); });

  $("tool-undo").addEventListener("click", function () {
    P.busy = true;
    P.showSelection();
    P.call("POST", P.urls.undo, {rev: P.plan.rev}).then(function (res) {
      if (res.status === 200) {
        P.staleImpact();
        var u = (res.out || {}).undone || {};
        P.plan.edits = Math.max(0, P.plan.edits - 1);
        P.plan.rev = res.out.rev;
        return P.refresh((u.before_codes || []).concat(u.after_codes || [])).then(function () {
          P.showPlan();
          P.say("edit-msg", "↶ 已撤销 Undone: " + (u.op || "edit"), true);
        });
      }
      if (res.status === 409) { return conflict(res, "edit-msg"); }
      P.say("edit-msg", P.problemText(res), false);
    }).catch(function (e) {
      P.say("edit-msg", "网络错误 Network error: " + e.message, false);
    }).then(function () {
      P.busy = false;
      P.showSelection();
    });
  });
})();
