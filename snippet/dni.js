/*
 * dni.js: Dynamic Number Insertion. Swaps the business number on this page
 * for a tracking number from a dni pool, and keeps the number while the
 * visitor browses. Installed as
 *
 *   <script src="https://<dni host>/dni.js" data-pool="<pool key>" async></script>
 *
 * with data-tracking="gclid" for a pool that tracks Google Ads clicks only,
 * and data-api="https://..." when the API is not at the script's origin.
 *
 * It fails open: whatever goes wrong (no answer, an error, storage denied),
 * the page keeps its business number and nothing reaches its console.
 */
((w, d) => {
  "use strict";

  // guard wraps a callback so that no exception of ours reaches the page.
  const guard =
    (f) =>
    (...a) => {
      try {
        return f(...a);
      } catch (e) {}
    };

  const main = () => {
    const me = d.currentScript;
    // A second copy of the snippet on the page does nothing.
    if (!me || w.dni) return;

    const data = (name) => me.getAttribute("data-" + name) || "";
    const pool = data("pool");
    const api = (data("api") || new URL(me.src).origin).replace(/\/+$/, "");
    const googleOnly = data("tracking") == "gclid";

    const SESSION = "dni:" + pool; // this tab's visit, in sessionStorage
    const CLICKS = "dni:clicks"; // the last ad click's ids, in localStorage
    const UTM = ["utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content"];
    const CLICK_IDS = ["gclid", "gbraid", "wbraid", "fbclid", "msclkid"];
    const GOOGLE_IDS = CLICK_IDS.slice(0, 3);
    const TAGS = UTM.concat(CLICK_IDS);
    // Click ids are kept as long as Google keeps its own call-tracking
    // cookie, so a visitor who clicked an ad counts as one when they come
    // back in another tab.
    const CLICK_DAYS = 90;
    const TIMEOUT_MS = 3000;
    // Elements whose text or value is not ours to change, and what the site
    // asks us to leave alone.
    const SKIP =
      'script,style,textarea,input,select,noscript,template,iframe,[data-dni-ignore],[contenteditable]:not([contenteditable="false"])';
    // What numbers are written with between their digits: spaces (no-break
    // ones too), dots, dashes, slashes and brackets.
    const SEP = /[\s.\/()\u2010-\u2015-]/;
    // Elements that flow within a line of text: a number may be split
    // across them ("<b>020</b> 7946 0018"), and is looked for in their
    // line's text as a whole.
    const INLINE = /^(A|ABBR|B|BDI|BDO|CITE|CODE|DATA|DFN|EM|FONT|I|KBD|MARK|NOBR|Q|S|SAMP|SMALL|SPAN|STRONG|SUB|SUP|TIME|U|VAR)$/;
    const TEL = /^(\s*tel:)([^;,?]*)(.*)$/i;

    // store reads a JSON value, or writes v. Storage may be missing or
    // refuse (private modes, blocked cookies): then it remembers nothing.
    const store = (area, key, v) => {
      try {
        const s = w[area];
        if (!v) return JSON.parse(s.getItem(key));
        s.setItem(key, JSON.stringify(v));
      } catch (e) {}
    };
    const session = (v) => store("sessionStorage", SESSION, v);

    // ten returns the 10 digits of a North American number, or "".
    const ten = (s) => {
      s = String(s || "").replace(/\D/g, "");
      if (s.length == 11 && s[0] == "1") s = s.slice(1);
      return s.length == 10 ? s : "";
    };

    // visit is this tab's: {v: visit id, n: number (E.164), t: swap target,
    // g: its national significant number, c: its country code, p: its
    // country's trunk prefix, d: the number's national significant number,
    // o and i: its national and international formats, h: heartbeat
    // seconds, at: time of the last answer, a: the attribution the visit
    // started with, s: its landing page's URL tags}. A visit without g
    // (kept by an older snippet) has a North American target.
    let visit = session() || {};

    // The attribution of this page: the UTM fields and click ids in its
    // URL, and its referrer.
    const q = new URLSearchParams(location.search);
    // URLs are cut to what dni keeps, never inside an escape: dni parses them.
    const cut = (u) => u.slice(0, 1024).replace(/%.?$/, "");
    const here = { url: cut(location.href), referrer: cut(d.referrer) };
    for (const k of TAGS) if (q.get(k)) here[k] = q.get(k).slice(0, 256);
    const tags = JSON.stringify(TAGS.map((k) => here[k] || ""));
    if (CLICK_IDS.some((k) => here[k])) {
      const clicks = { at: Date.now() };
      for (const k of CLICK_IDS) clicks[k] = here[k];
      store("localStorage", CLICKS, clicks);
    }
    // A tab's visit is attributed to the page it landed on; one that lands
    // again from a campaign or an ad (whose URL is tagged differently)
    // starts a new visit.
    if (!visit.a || (TAGS.some((k) => here[k]) && tags != visit.s)) {
      if (!CLICK_IDS.some((k) => here[k])) {
        // An ad click this browser made before, in another tab.
        const kept = store("localStorage", CLICKS);
        if (kept && Date.now() - kept.at < CLICK_DAYS * 864e5)
          for (const k of CLICK_IDS) if (kept[k]) here[k] = String(kept[k]);
      }
      visit = { a: here, s: tags, t: visit.t };
      session(visit);
    }
    let shown = ""; // the tracking number on the page; "" for the business number
    let to = ""; // the national significant number the page should show
    let C, P; // the country code and trunk prefix of the business number's country
    let toE, forms, same; // `to` in E.164, its national and international formats, and whether it is of C
    const known = new Set(); // every number (national significant) this page may show, all swapped for `to`
    let timer, busy, observer;

    const digit = (c) => c >= "0" && c <= "9";

    // match says whether dd, the digits of a number as a page wrote it
    // (after a "+" if plus), is a known number but `to`, with or without
    // the country code (after "+" or "00") and the trunk prefix: [the
    // number, the digits before it].
    const match = (dd, plus) => {
      for (const x of known) {
        const pre = dd.slice(0, -x.length);
        if (x != to && dd.slice(pre.length) == x && (plus ? [C, C + P] : ["", P, C, C + P, "00" + C, "00" + C + P]).includes(pre)) return [x, pre];
      }
    };

    // rewrite is `to` as the page wrote a match m of number x: digit for
    // digit in the page's layout when the numbers are alike, else in the
    // national format, or the international one if the page wrote x so.
    const rewrite = (m, x, pre, plus) => {
      let k = -pre.length;
      return same && x.length == to.length ? m.replace(/\d/g, (c) => (k++ < 0 ? c : to[k - 1])) : forms[+(plus || (pre != "" && pre != P))];
    };

    // replace rewrites a line of text nodes: each known number but `to`
    // becomes `to`, even one split across the nodes. A number starts at a
    // "+" or a digit that follows none, and ends before anything but a
    // digit: never inside a longer run of digits.
    const replace = (nodes) => {
      const starts = [0];
      let s = "";
      for (const n of nodes) starts.push((s += n.data).length);
      if (!/\d/.test(s)) return;
      const found = [];
      for (let i = 0; i < s.length; i++) {
        const plus = s[i] == "+";
        if (plus ? !digit(s.charAt(i + 1)) : !digit(s[i]) || digit(s.charAt(i - 1))) continue;
        let dd = "",
          gap = 0,
          m;
        for (let j = i + plus; j < s.length && gap < 4 && dd.length < 18; j++) {
          if (digit(s[j])) {
            dd += s[j];
            gap = 0;
            if (!digit(s.charAt(j + 1)) && (m = match(dd, plus))) {
              // With the bracket it opens with, which a format replaces.
              const a = i - (s.charAt(i - 1) == "(" && s.slice(i, j).includes(")"));
              found.push([a, j + 1, rewrite(s.slice(a, j + 1), m[0], m[1], plus)]);
              i = j;
              break;
            }
          } else if (SEP.test(s[j])) gap++;
          else break;
        }
      }
      // From the last to the first, so that each edit leaves the offsets
      // of those before it as they were. A rewrite of another length goes
      // in the first node the number is in.
      for (let f = found.length; f--; ) {
        const [a, b, out] = found[f];
        nodes.forEach((n, x) => {
          const o = starts[x],
            lo = Math.max(a, o),
            hi = Math.min(b, starts[x + 1]);
          if (lo < hi) n.data = n.data.slice(0, lo - o) + (out.length == b - a ? out.slice(lo - a, hi - a) : lo == a ? out : "") + n.data.slice(hi - o);
        });
      }
    };

    // retel points a tel: link at `to`, keeping what follows the number
    // (an extension, say).
    const retel = (el) => {
      const m = TEL.exec(el.getAttribute("href"));
      if (!m) return;
      let n = m[2];
      try {
        n = decodeURIComponent(n);
      } catch (e) {}
      n = n.trim();
      if (!/[^\d\s.\/()+-]/.test(n) && match(n.replace(/\D/g, ""), n[0] == "+")) el.setAttribute("href", m[1] + toE + m[3]);
    };

    // swap shows `to` in place of the known numbers in root and below.
    const swap = (root) => {
      if (!to || known.size < 2) return;
      const el = root.nodeType == 3 ? root.parentNode : root;
      if (el && el.closest && el.closest(SKIP)) return;
      const lines = [],
        links = [];
      let box, line;
      // 5: elements and text; 2 rejects an element with all it holds.
      const walker = d.createTreeWalker(root, 5, (n) => (n.nodeType == 1 && n.matches(SKIP) ? 2 : 1));
      for (let n = root; n; n = walker.nextNode()) {
        if (n.nodeType == 3) {
          // The line a text node is in: the nearest element around it
          // that is not inline.
          let b = n.parentNode;
          while (b && INLINE.test(b.nodeName)) b = b.parentNode;
          if (b != box || !line) lines.push((line = [])), (box = b);
          line.push(n);
        } else if (n.nodeType == 1 && n.hasAttribute("href")) links.push(n);
      }
      // Collected first, changed after: the walk never sees its own edits.
      lines.forEach(replace);
      links.forEach(retel);
    };

    // show puts number (E.164) on the page, or the business number for "".
    const show = (number) => {
      const g = visit.g || ten(visit.t),
        n = number && (visit.d || ten(number));
      if (!g || (number && !n)) return;
      C = visit.g ? visit.c : "1";
      P = visit.g ? visit.p : "1";
      known.add(g);
      if (n) known.add(n);
      shown = number || "";
      to = n || g;
      toE = number || "+" + C + g;
      forms = number ? [visit.o || number, visit.i || number] : [visit.t, visit.t];
      same = toE == "+" + C + to;
      swap(d);
      // What the page adds later (the parser still at work, single-page
      // apps, widgets) is swapped as it arrives, before it is painted.
      if (!observer) {
        observer = new MutationObserver(
          guard((records) => {
            for (const r of records) {
              if (r.type == "childList") r.addedNodes.forEach(swap);
              else swap(r.target);
            }
          })
        );
        observer.observe(d, { childList: true, subtree: true, characterData: true, attributes: true, attributeFilter: ["href"] });
      }
    };

    // call posts to the API and takes its answer. A string body goes as
    // text/plain: a CORS simple request, with no preflight round trip. If
    // the call fails and fallback is set, the business number comes back.
    const call = (path, body, fallback) =>
      fetch(api + path, {
        method: "POST",
        body: body ? JSON.stringify(body) : "",
        // No keepalive: a call the page leaves behind is better cancelled,
        // as the next page makes its own.
        signal: AbortSignal.timeout && AbortSignal.timeout(TIMEOUT_MS),
      })
        .then((r) => (r.status == 410 ? expired() : r.ok ? r.json().then(answer) : Promise.reject()))
        .catch(() => fallback && show(""));

    const digits = (x) => (/^\d{1,17}$/.test(x) ? x : "");

    // answer takes the API's answer to a new visit or a heartbeat: a number
    // to show, or {swap: false} and the business number.
    const answer = (a) => {
      if (!a || typeof a != "object") throw a;
      visit = {
        v: /^[0-9a-f]{32}$/.test(a.visit) ? a.visit : "",
        n: /^\+\d{8,15}$/.test(a.number) ? a.number : "",
        t: String(a.target || visit.t || ""),
        g: digits(a.target_digits || visit.g),
        c: digits(a.country_code || visit.c),
        p: digits(a.trunk_prefix || visit.p),
        d: digits(a.digits),
        o: String(a.display || ""),
        i: String(a.international || ""),
        h: Math.min(Math.max(+a.heartbeat_s || 60, 1), 3600),
        at: Date.now(),
        a: visit.a,
        s: visit.s,
      };
      session(visit);
      show(visit.n);
    };

    // expired starts a new visit, with the same attribution, for one the
    // API no longer knows.
    const expired = () => {
      visit = { a: visit.a, s: visit.s, t: visit.t, g: visit.g, c: visit.c, p: visit.p };
      session(visit);
      return start();
    };

    // one runs task, a call to the API, unless one is under way; the next
    // heartbeat is due after it.
    const one = (task) => {
      if (busy) return;
      busy = 1;
      Promise.resolve()
        .then(task)
        .catch(() => {})
        .finally(() => {
          busy = 0;
          clearTimeout(timer);
          if (visit.v) timer = setTimeout(beat, visit.h * 1000);
        });
    };

    const beat = () => visit.v && one(() => call("/v1/visits/" + visit.v + "/heartbeat"));

    // start begins a visit with the attribution of the page this tab
    // landed on.
    const start = () => {
      const a = visit.a;
      // A Google Ads pool gives no number to a visitor who did not click an ad.
      if (googleOnly && !GOOGLE_IDS.some((k) => a[k])) return show("");
      return call("/v1/visits", Object.assign({ pool }, a), 1);
    };

    w.dni = {
      // swap swaps the number in element (the whole page by default), for
      // content the snippet cannot see arrive.
      swap: guard((element) => swap(element || d)),
      // number is the tracking number on the page (E.164), or null.
      number: () => shown || null,
    };
    if (!pool) return;

    // Single-page apps: after a route change, look again once it renders.
    const later = guard(() => setTimeout(guard(() => swap(d))));
    for (const k of ["pushState", "replaceState"]) {
      const f = history[k];
      history[k] = function () {
        const r = f.apply(this, arguments);
        later();
        return r;
      };
    }
    w.addEventListener("popstate", later);

    // A tab back from the background may have missed heartbeats, and a page
    // back from the back-forward cache may have an older visit than the
    // tab's next page left: take the tab's, and confirm it at once.
    const wake = guard((e) => {
      if (e.persisted) {
        visit = session() || visit;
        show(visit.n);
      }
      if (!d.hidden && Date.now() - visit.at > visit.h * 1000) beat();
    });
    d.addEventListener("visibilitychange", wake);
    w.addEventListener("pageshow", wake);

    if (visit.v) {
      // The next page of the same tab: swap at once, before any call, if
      // the visit can still be alive (after three missed heartbeats it may
      // be gone, and its number someone else's); the heartbeat confirms it.
      if (Date.now() - visit.at < visit.h * 3000) show(visit.n);
      beat();
    } else one(start);
  };

  guard(main)();
})(window, document);
