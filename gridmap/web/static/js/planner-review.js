/* The planner page, part 3 of 3: coverage, the diff and impact review, teams and publishing (after
 * planner-tools.js; it starts the page). Publishing is enabled only once the impact report is shown,
 * and `force` only once a refusal has listed its reasons; the confirm step names people, not ids. */
(function () {
  "use strict";

  var P = window.gridmapPlanner;
  if (!P || !P.plan) { return; }
  var $ = P.$, refused = false, reviewedRev = null;
  var lastImpact = null;  // the impact report the planner reviewed: the confirm step names what it will change
  P.impactShown = false;

  function problemLine(p) {
    return p.kind + " · " + ((p.codes && p.codes.length) ? p.codes.join(", ") : p.parent) + " · " +
      Math.round(p.area_m2).toLocaleString() + " m²" + (p.detail ? " — " + p.detail : "");
  }

  /* Problems known only by their location (impact, refused publish): red rings on the map. */
  function markProblems(problems) {
    P.ringLayer.clearLayers();
    problems.forEach(function (p) {
      if (!p.location) { return; }
      var el = document.createElement("span");
      el.textContent = problemLine(p);
      L.circleMarker([p.location.lat, p.location.lon], {radius: 9, color: "#d62728", weight: 3, fillOpacity: 0.35})
        .bindTooltip(el, {sticky: true}).addTo(P.ringLayer);
    });
  }

  $("check-coverage").addEventListener("click", function () {
    P.busy = true;
    P.showSelection();
    P.say("coverage-msg", "…", true);
    // every parent of the plan (county → towns → zones → grids), with the problem shapes
    P.call("GET", P.urls.coverage + "?plan=" + encodeURIComponent(P.plan.version) + "&f=geojson").then(function (res) {
      if (res.status !== 200) { P.say("coverage-msg", P.problemText(res), false); return; }
      var fc = res.out, list = $("coverage-list");
      P.problemLayer.clearLayers();
      list.textContent = "";
      L.geoJSON(fc, {
        style: function () { return {color: "#d62728", fillColor: "#d62728", weight: 2, fillOpacity: 0.55}; },
        pointToLayer: function (f, ll) { return L.circleMarker(ll, {radius: 8, color: "#d62728", fillOpacity: 0.8}); },
        onEachFeature: function (f, l) {
          var el = document.createElement("span");
          el.textContent = problemLine(f.properties || {});
          l.bindTooltip(el, {sticky: true});
        }
      }).eachLayer(function (l) { P.problemLayer.addLayer(l); });
      (fc.features || []).forEach(function (f) {
        list.appendChild(P.li(problemLine(f.properties || {}), (f.properties || {}).location));
      });
      var n = (fc.features || []).length;
      P.say("coverage-msg", n ? "发现 " + n + " 处问题（地图上红色）。" + n + " problem(s), in red on the map."
                            : "✓ 覆盖完整：无缝隙、无重叠。Coverage is exact: no gaps, no overlaps.", !n);
    }).catch(function (e) {
      P.say("coverage-msg", "网络错误 Network error: " + e.message, false);
    }).then(function () {
      P.busy = false;
      P.showSelection();
    });
  });

  // -- impact and publishing ----------------------------------------------------------------
  P.staleImpact = function () {
    P.impactShown = false;
    reviewedRev = null;
    refused = false;
    $("impact").hidden = true;
    $("force-label").hidden = true;
    $("force").checked = false;
    $("confirm-box").hidden = true;
    lastImpact = null;
    $("publish-reasons").textContent = "";
    P.problemLayer.clearLayers();
    P.ringLayer.clearLayers();
    $("coverage-list").textContent = "";
    P.say("coverage-msg", "", true);
    P.say("impact-msg", "", true);
  };

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
    fill("diff-list", rows, function (text) { return P.li(text); });
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
      var el = P.li(t.code + " " + (t.name || "") + (t.new_grid ? " (新 new)" : "") + ": " + (t.problem || "") +
                  (t.blocks_publish ? " · ⚠ " + t.open_incidents + " 件未结事件 open incident(s): 阻止发布 blocks publishing" : ""));
      el.dataset.team = t.code;
      if (t.blocks_publish) el.className = "gm-block";
      if (P.plan.editable) {
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
    var body = {op: "staff", code: code, rev: P.rev([code])};
    if (val("leader")) body.leader = val("leader");
    if (val("instructor")) body.instructor = val("instructor");
    var workers = val("workers").split(/[,，\s]+/).filter(Boolean);
    if (workers.length) body.workers = workers;
    P.busy = true;
    P.showSelection();
    P.call("POST", P.urls.edits, body).then(function (res) {
      if (res.status !== 200) { P.say("impact-msg", P.problemText(res), false); return; }
      if (res.out.rev !== P.plan.rev) { P.plan.edits += 1; }
      P.plan.rev = res.out.rev;
      P.showPlan();
      P.say("edit-msg", "✓ " + (res.out.notes || []).join(" "), true);
      P.busy = false;
      P.showSelection();  // enables the impact button again
      $("show-impact").click();  // the draft's revision moved on: review the impact again
    }).catch(function (e) {
      P.say("impact-msg", "网络错误 Network error: " + e.message, false);
    }).then(function () {
      P.busy = false;
      P.showSelection();
    });
  }

  $("show-impact").addEventListener("click", function () {
    P.busy = true;
    P.showSelection();
    P.say("impact-msg", "…", true);
    Promise.all([P.call("GET", P.urls.impact), P.call("GET", P.urls.diff)]).then(function (both) {
      var res = both[0], diff = both[1];
      if (res.status !== 200) { P.say("impact-msg", P.problemText(res), false); return; }
      if (diff.status !== 200) { P.say("impact-msg", P.problemText(diff), false); return; }
      var o = res.out;
      showDiff(diff.out);
      var d = o.diff || {};
      $("impact-diff").textContent = "对比现行方案 " + o.against + " Against plan " + o.against + ": 新增 added " + (d.added || 0) +
        " · 撤销 removed " + (d.removed || 0) + " · 改形 reshaped " + (d.reshaped || 0) + " · 更名 renamed " + (d.renamed || 0) +
        " · 未变 unchanged " + (d.unchanged || 0);
      var hh = o.households || {flows: []};
      $("impact-households").textContent = String(hh.households || 0);
      fill("impact-flows", hh.flows || [], function (f) {
        return P.li(f.from + " → " + f.to + ": " + f.households + " 户 households (" + Math.round(f.share * 100) + " % of the area)");
      });
      var moving = (o.incidents || {}).moving || [];
      $("impact-incidents").textContent = moving.length + " / " + ((o.incidents || {}).open || 0) + " open";
      fill("impact-incident-list", moving, function (m) {
        return P.li("#" + m.id + " " + (m.category || "") + ": " + (m.from || "—") + " → " + (m.to || "—"));
      });
      var staff = o.staff_on_removed_grids || [];
      $("impact-staff").textContent = String(staff.length);
      fill("impact-staff-list", staff, function (s) {
        return P.li((s.name || s.person_id) + " · " + s.role + " · " + s.unit_code + " → 可调往 offered to " +
                  ((s.successors || []).join(", ") || "—") + " · " + ((s.placed_in || []).length
                    ? "已安排 placed in " + s.placed_in.join(", ") : "未安排 not placed yet"));
      });
      showTeams(o);
      $("impact-coverage").textContent = String((o.coverage || []).length);
      fill("impact-coverage-list", o.coverage || [], function (p) { return P.li(problemLine(p), p.location); });
      markProblems(o.coverage || []);
      $("impact").hidden = false;
      P.impactShown = true;
      lastImpact = o;
      refused = false;  // a new review: the reasons of an earlier refusal no longer stand
      $("publish-reasons").textContent = "";
      $("force-label").hidden = true;
      $("confirm-box").hidden = true;
      reviewedRev = o.rev;  // publishing sends it: an edit by anyone since then is refused (409)
      var blocking = (o.staffing_gaps || []).length;
      if (blocking) {
        P.say("impact-msg", "⚠ " + blocking + " 个有未结事件的网格缺少完整的1+1+N队伍：请先配齐人员。" + blocking +
            " grid(s) with open incidents lack a full 1+1+N team: staff them below before publishing.", false);
        return;
      }
      P.say("impact-msg", P.plan.editable ? "已核对影响，可以发布。Impact reviewed: publishing is enabled." : "", true);
    }).catch(function (e) {
      P.say("impact-msg", "网络错误 Network error: " + e.message, false);
    }).then(function () {
      P.busy = false;
      P.showSelection();
    });
  });

  /* The confirm step: what publishing will change, from the impact the planner reviewed. */
  $("publish").addEventListener("click", function () {
    var eff = $("effective-from").value;
    if (!eff) { P.say("publish-msg", "请选择生效日期 Choose the effective date.", false); return; }
    var o = lastImpact || {}, d = o.diff || {}, rows = [];
    rows.push("方案 " + P.plan.version + " 自 " + eff + " 起生效，取代方案 " + o.against + "。Plan " + P.plan.version +
              " takes effect on " + eff + ", replacing plan " + o.against + ".");
    rows.push("网格 Grids: 新增 added " + (d.added || 0) + " · 撤销 removed " + (d.removed || 0) + " · 改形 reshaped " +
              (d.reshaped || 0) + " · 更名 renamed " + (d.renamed || 0));
    rows.push("户数变动 Households moving: " + ((o.households || {}).households || 0));
    var moving = (o.incidents || {}).moving || [];
    rows.push("改派事件 Open incidents re-routed: " + moving.length);
    moving.forEach(function (m) {
      rows.push("  #" + m.id + " " + (m.from || "—") + " → " + (m.to || "—") + " · 指派 assignee " +
                (m.assignee ? P.person(m.assignee) : "无人 nobody"));
    });
    Object.keys(o.new_and_changed_teams || {}).forEach(function (code) {
      var t = o.new_and_changed_teams[code];
      var names = function (ids) { return ids.map(P.person).join(", ") || "—"; };
      rows.push("队伍 Team " + code + ": 网格长 " + names(t.leader) + " · 指导员 " + names(t.instructor) +
                " · 网格员 " + names(t.worker));
    });
    var unplaced = (o.staff_on_removed_grids || []).filter(function (x) { return !(x.placed_in || []).length; });
    if (unplaced.length) {
      rows.push("撤销网格上未安排的人员 Staff of removed grids not placed: " +
                unplaced.map(function (x) { return x.name || P.person(x.person_id); }).join(", "));
    }
    (o.staffing_gaps || []).forEach(function (g) {
      rows.push("⚠ " + g.code + " " + (g.name || "") + ": " + g.open_incidents + " 件未结事件 open incident(s), " + g.problem);
    });
    fill("confirm-list", rows, function (text) { return P.li(text); });
    if ((o.staffing_gaps || []).length) { $("force-label").hidden = false; }
    $("confirm-box").hidden = false;
    $("confirm-box").scrollIntoView({block: "center"});
    P.say("publish-msg", "请核对后确认。Check what will change, then confirm.", true);
  });

  $("confirm-back").addEventListener("click", function () {
    $("confirm-box").hidden = true;
    P.say("publish-msg", "", true);
  });

  $("confirm-publish").addEventListener("click", function () {
    var eff = $("effective-from").value;
    var forcing = !$("force-label").hidden && $("force").checked;
    var body = {effective_from: eff, force: forcing};
    if (forcing && $("force-reason").value.trim()) body.reason = $("force-reason").value.trim();
    if (typeof reviewedRev === "number") body.rev = reviewedRev;
    $("confirm-box").hidden = true;
    P.busy = true;
    P.showSelection();
    P.say("publish-msg", "…", true);
    P.call("POST", P.urls.publish, body).then(function (res) {
      var o = res.out || {};
      if (res.status === 200 || res.status === 201) {
        $("force-label").hidden = true;
        // the plan is published now: its teams are no longer staffed from here
        Array.prototype.forEach.call(document.querySelectorAll("#impact-team-list .gm-team"), function (f) { f.remove(); });
        $("publish-reasons").textContent = "";
        P.say("edit-msg", "", true);
        P.say("impact-msg", "", true);
        P.say("publish-msg", "✓ 方案 " + o.plan + " 已发布，" + o.effective_from + " 起生效。Plan " + o.plan + " published, in force from " +
            o.effective_from + (o.forced ? " (forced)" : "") + " · 改派事件 incidents re-routed: " + (o.rerouted || []).length +
            (o.reroute_pending ? " (on that day: gridmap incidents reroute)" : ""), true);
        return P.reload(false);
      }
      var problems = o.problems || o.coverage || [], gaps = o.gaps || [];
      if (res.status === 409 && (problems.length || gaps.length)) {
        refused = true;
        fill("publish-reasons", problems, function (p) { return P.li(problemLine(p), p.location); });
        gaps.forEach(function (g) {
          var el = P.li("⚠ " + g.code + " " + (g.name || "") + ": " + g.open_incidents + " 件未结事件 open incident(s); " + g.problem);
          el.dataset.code = g.code;
          el.addEventListener("click", function () { P.select(g.code); });
          $("publish-reasons").appendChild(el);
        });
        markProblems(problems);
        $("force-label").hidden = false;
        P.say("publish-msg", "发布被拒绝，原因如下。Publishing was refused for the reasons below; fix them (staff the " +
            "grids in the impact panel), or tick " +
            "“publish anyway” and publish again.", false);
        return;
      }
      P.say("publish-msg", P.problemText(res), false);
    }).catch(function (e) {
      P.say("publish-msg", "网络错误 Network error: " + e.message, false);
    }).then(function () {
      P.busy = false;
      P.showSelection();
    });
  });


  P.start();
})();
