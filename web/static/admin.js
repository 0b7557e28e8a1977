// admin.js: the little the admin pages do in the browser. Every page works
// without it; it copies the install snippet, follows a pool while its
// numbers are bought, previews what a new pool size does, and gives the
// phone fields the example of the country chosen.
(function () {
  "use strict";

  // Copy buttons: data-copy names the element whose text to copy.
  document.querySelectorAll("[data-copy]").forEach(function (button) {
    button.addEventListener("click", function () {
      var source = document.getElementById(button.getAttribute("data-copy"));
      var text = source.value !== undefined ? source.value : source.textContent;
      var done = function (ok) {
        button.textContent = ok ? "Copied" : "Press Ctrl+C to copy";
        if (!ok && source.select) source.select();
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(function () { done(true); }, function () { done(fallback(source)); });
      } else {
        done(fallback(source));
      }
    });
  });

  function fallback(source) {
    try {
      source.select();
      return document.execCommand("copy");
    } catch (e) {
      return false;
    }
  }

  // Provisioning progress: poll the pool until it is active, then reload
  // the page, which then shows the install snippet.
  var progress = document.querySelector("[data-progress]");
  if (progress) {
    var url = progress.getAttribute("data-progress");
    var count = progress.querySelector("[data-progress-count]");
    var bar = progress.querySelector("progress");
    var notice = document.getElementById("notice");
    var delay = 1000;
    var poll = function () {
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) {
          if (r.status === 401) window.location.reload(); // signed out: the page goes to the login
          if (!r.ok) throw new Error("HTTP " + r.status);
          return r.json();
        })
        .then(function (p) {
          count.textContent = p.numbers;
          bar.value = p.numbers;
          if (notice && p.notice) {
            notice.textContent = p.notice;
            notice.hidden = false;
          }
          if (p.status !== "provisioning") {
            window.location.reload();
            return;
          }
          delay = 1000;
          setTimeout(poll, delay);
        })
        .catch(function () {
          delay = Math.min(delay * 2, 15000);
          setTimeout(poll, delay);
        });
    };
    setTimeout(poll, delay);
  }

  // A country select: data-examples names the phone fields whose example
  // (placeholder) follows it; each option holds its country's example.
  document.querySelectorAll("select[data-examples]").forEach(function (select) {
    var fields = document.querySelectorAll(select.getAttribute("data-examples"));
    select.addEventListener("change", function () {
      var example = select.options[select.selectedIndex].getAttribute("data-example") || "";
      fields.forEach(function (field) { field.placeholder = example; });
    });
  });

  // The edit form's size preview: which numbers a smaller size releases,
  // or how many a larger one buys. The server says the same on submit.
  var size = document.querySelector("input[data-in-service]");
  if (size) {
    var effect = document.getElementById("size-effect");
    var items = document.querySelectorAll("#shrink-order li");
    var current = parseInt(size.getAttribute("data-size"), 10);
    var inService = parseInt(size.getAttribute("data-in-service"), 10);
    var areaCode = size.getAttribute("data-area-code");
    var plural = function (n, one, many) { return n === 1 ? "1 " + one : n + " " + many; };
    var update = function () {
      var n = parseInt(size.value, 10);
      var valid = !isNaN(n) && n >= 4 && n <= 50;
      var release = valid ? Math.max(0, inService - n) : 0;
      items.forEach(function (li, i) { li.classList.toggle("release", i < release); });
      if (!valid) {
        effect.textContent = "A pool holds 4 to 50 numbers.";
      } else if (release > 0) {
        effect.textContent = plural(release, "number is", "numbers are") +
          " released at once, in the order below: free numbers first, then those whose visitor was seen longest ago.";
      } else if (n > current) {
        effect.textContent = plural(n - Math.max(current, inService), "more number is", "more numbers are") +
          " bought" + (areaCode ? " in area code " + areaCode : "") + ".";
      } else if (n < current) {
        effect.textContent = plural(current - n, "number fewer is", "numbers fewer are") + " bought.";
      } else {
        effect.textContent = "The size stays as it is.";
      }
    };
    size.addEventListener("input", update);
    update();
  }
})();
