// Squarified treemap (Bruls, Huizing, van Wijk 2000) of package ->
// directory -> file, drawn as positioned divs so labels are real text.
// Data: {packages: [{n, v, s, h, d: [{n, s, f: [[name, size, status]]}]}]},
// status 1 = added, 2 = changed (diff pages). No external resources.
"use strict";
(function () {
  const data = JSON.parse(document.getElementById("treemap-data").textContent);
  const map = document.getElementById("treemap");
  const tip = document.getElementById("tip");

  function human(b) {
    const units = ["B", "kB", "MB", "GB", "TB"];
    let v = b, u = 0;
    while (v >= 1000 && u + 1 < units.length) { v /= 1000; u++; }
    if (u === 0) return b + " B";
    return (v < 10 ? v.toFixed(2) : v.toFixed(1)) + " " + units[u];
  }

  // Worst aspect ratio of a row of areas laid along a side of length `side`.
  function worst(row, sum, side) {
    let max = 0, min = Infinity;
    for (const r of row) { max = Math.max(max, r.a); min = Math.min(min, r.a); }
    const s2 = sum * sum, w2 = side * side;
    return Math.max((w2 * max) / s2, s2 / (w2 * min));
  }

  // items: [{s, ...}] largest first. Returns [{item, x, y, w, h}].
  function squarify(items, x, y, w, h) {
    const out = [];
    const total = items.reduce((t, i) => t + i.s, 0);
    if (total <= 0 || w <= 0 || h <= 0) return out;
    const scale = (w * h) / total;
    const rest = items.filter((i) => i.s > 0).map((i) => ({ item: i, a: i.s * scale }));
    let row = [], sum = 0;
    const place = () => {
      if (w >= h) {
        const cw = sum / h;
        let yy = y;
        for (const r of row) { const rh = r.a / cw; out.push({ item: r.item, x, y: yy, w: cw, h: rh }); yy += rh; }
        x += cw; w -= cw;
      } else {
        const rh = sum / w;
        let xx = x;
        for (const r of row) { const rw = r.a / rh; out.push({ item: r.item, x: xx, y, w: rw, h: rh }); xx += rw; }
        y += rh; h -= rh;
      }
      row = []; sum = 0;
    };
    while (rest.length) {
      const next = rest[0], side = Math.min(w, h);
      if (row.length === 0 || worst(row.concat([next]), sum + next.a, side) <= worst(row, sum, side)) {
        row.push(next); sum += next.a; rest.shift();
      } else {
        place();
      }
    }
    if (row.length) place();
    return out;
  }

  function box(r, cls, color, tipText) {
    const el = document.createElement("div");
    el.className = cls;
    el.style.left = r.x.toFixed(1) + "px";
    el.style.top = r.y.toFixed(1) + "px";
    el.style.width = Math.max(r.w - 1, 0).toFixed(1) + "px";
    el.style.height = Math.max(r.h - 1, 0).toFixed(1) + "px";
    el.style.background = color;
    el.dataset.tip = tipText;
    map.appendChild(el);
    return el;
  }

  function label(el, name, size) {
    const n = document.createElement("span");
    n.className = "name";
    n.textContent = name;
    el.appendChild(n);
    if (size) {
      const s = document.createElement("span");
      s.className = "size";
      s.textContent = size;
      el.appendChild(s);
    }
  }

  function color(p, light) {
    if (p.h < 0) return "hsl(0, 0%, " + (40 + light) + "%)";
    return "hsl(" + p.h + ", 45%, " + (38 + light) + "%)";
  }

  function draw() {
    map.textContent = "";
    const W = map.clientWidth, H = map.clientHeight;
    for (const pr of squarify(data.packages, 0, 0, W, H)) {
      const p = pr.item;
      const title = p.n + (p.v ? " " + p.v : "") + " \u2014 " + human(p.s);
      const el = box(pr, "pkg" + (p.st === 1 ? " added" : ""), color(p, 0), title);
      const head = pr.w > 30 && pr.h > 30 ? 18 : 0;
      if (head) label(el, p.n, human(p.s));
      const dirs = squarify(p.d, pr.x + 2, pr.y + head + 1, pr.w - 4, pr.h - head - 3);
      for (const dr of dirs) {
        const d = dr.item;
        if (dr.w < 2 || dr.h < 2) continue;
        const del = box(dr, "dir", color(p, 10), d.n + " (" + p.n + ") \u2014 " + human(d.s));
        const dhead = dr.w > 60 && dr.h > 40 ? 14 : 0;
        if (dhead) label(del, d.n);
        const files = d.f.map((f) => ({ n: f[0], s: f[1], st: f[2] }));
        for (const fr of squarify(files, dr.x + 1, dr.y + dhead + 1, dr.w - 2, dr.h - dhead - 2)) {
          if (fr.w < 1.5 || fr.h < 1.5) continue;
          const f = fr.item;
          const path = (d.n === "/" ? "" : d.n) + "/" + f.n;
          const cls = "file" + (f.st === 1 ? " added" : f.st === 2 ? " changed" : "");
          const fel = box(fr, cls, color(p, 22), path + " \u2014 " + human(f.s) + " (" + p.n + ")");
          if (fr.w > 70 && fr.h > 16) label(fel, f.n);
        }
      }
    }
  }

  map.addEventListener("mousemove", (ev) => {
    const t = ev.target.closest("[data-tip]");
    if (!t) { tip.style.display = "none"; return; }
    tip.textContent = t.dataset.tip;
    tip.style.display = "block";
    const x = Math.min(ev.clientX + 14, window.innerWidth - tip.offsetWidth - 4);
    tip.style.left = x + "px";
    tip.style.top = ev.clientY + 16 + "px";
  });
  map.addEventListener("mouseleave", () => { tip.style.display = "none"; });
  let pending = 0;
  window.addEventListener("resize", () => { clearTimeout(pending); pending = setTimeout(draw, 100); });
  draw();
})();
